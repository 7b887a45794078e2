/**
 * SMI from the VMM side: a guest OUT to the APM control port 0B2H raises an SMI on the BSP
 * (src/vmm/devices/apm.ts, wired in board.ts); the handler at SMBASE+8000H runs in SMM, reads
 * the APM status byte the guest left at 0B3H, and returns with RSM to the instruction after
 * the OUT.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { PcMachine } from "../../src/vmm/machine.js";
import { enterFlat32, load16, load32, read32 } from "../helpers/hv-guest.js";

test("OUT to port 0B2H enters SMM at SMBASE+8000H; RSM returns after the OUT", () => {
  const m = new PcMachine({ memoryBytes: 4 << 20, debugExit: { iobase: 0xf4, iosize: 4 } });
  m.setBoot((machine) => {
    // SMM handler (16-bit, CS base = SMBASE 30000H): copy APM_STS to 30100H, count, RSM.
    load16(machine.vm, "in al, 0xb3\nmov cs:[0x100], al\ninc dword ptr cs:[0x104]\nrsm", 0x38000);
    load32(
      machine.vm,
      [
        "mov al, 0x5a",
        "out 0xb3, al",
        "mov al, 1",
        "out 0xb2, al",
        "mov eax, [0x30104]",
        "out 0xf4, eax",
        "hlt",
      ].join("\n"),
      0x10000,
    );
    enterFlat32(machine.vcpu, 0x10000, machine.vm);
  });
  const r = m.run({ maxInstructions: 100_000 });
  assert.equal(r.kind, "debug-exit");
  if (r.kind === "debug-exit")
    assert.equal(r.guestCode, 1, "the SMI handler ran once before the next instruction");
  assert.equal(read32(m.vm, 0x30100) & 0xff, 0x5a, "the handler read APM_STS");
  assert.equal(m.vcpu.getVcpuEvents().smi.smm, false);
});
