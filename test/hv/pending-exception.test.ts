/**
 * An exception queued by the VMM with setVcpuEvents (KVM_SET_VCPU_EVENTS with
 * `exception.pending`): it is reported by getVcpuEvents until the next run() delivers it
 * through the IDT before any guest instruction (SDM Vol.3 6.12), with its error code and, for
 * a #PF, the CR2 payload; INIT/RESET drop it; snapshots keep it; bad values are refused.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { HvError } from "../../src/hv/index.js";
import {
  GUEST,
  enterFlat32,
  faultRecord,
  installRecordingIdt,
  load32,
  newVm,
  read32,
} from "../helpers/hv-guest.js";

/** Guest: mark that the first instruction ran, then halt. */
const MARK_AND_HALT = ["mov dword ptr [0x7000], 1", "cli", "hlt"].join("\n");

test("a queued #GP is delivered with its error code before the first instruction, then runs it", () => {
  const { vm, vcpu } = newVm();
  installRecordingIdt(vm);
  load32(vm, MARK_AND_HALT);
  enterFlat32(vcpu, GUEST.code, vm);
  vcpu.setVcpuEvents({ ...vcpu.getVcpuEvents(), exception: { vector: 13, errorCode: 0x18 } });
  assert.deepEqual(vcpu.getVcpuEvents().exception, { vector: 13, errorCode: 0x18 });
  assert.equal(vcpu.run().kind, "hlt");
  // The handler recorded #GP(18H) and IRETs to the pushed EIP: the guest's first instruction.
  assert.deepEqual(faultRecord(vm), { vector: 13, errorCode: 0x18, count: 1 });
  assert.equal(read32(vm, 0x7000), 1);
  assert.equal(vcpu.getVcpuEvents().exception, null, "delivered, no longer pending");
});

test("a queued #PF writes its CR2 payload when it is delivered", () => {
  const { vm, vcpu } = newVm();
  installRecordingIdt(vm);
  load32(vm, MARK_AND_HALT);
  enterFlat32(vcpu, GUEST.code, vm);
  const events = vcpu.getVcpuEvents();
  vcpu.setVcpuEvents({ ...events, exception: { vector: 14, errorCode: 0x7, cr2: 0xdead000n } });
  assert.equal(vcpu.getSregs().cr2, 0n, "CR2 is written at delivery, not when queued");
  assert.equal(vcpu.run().kind, "hlt");
  assert.deepEqual(faultRecord(vm), { vector: 14, errorCode: 7, count: 1 });
  assert.equal(vcpu.getSregs().cr2, 0xdead000n);
});

test("a queued #UD (no error code) with an IDT gate that is not present becomes #NP, EXT set", () => {
  const { vm, vcpu } = newVm();
  installRecordingIdt(vm);
  // Clear the P bit of gate 6: delivering #UD then raises #NP with error code
  // (6 << 3) | IDT (2) | EXT (1) (SDM Vol.3 6.13), a benign-then-contributory pair, no #DF.
  vm.writePhysical(GUEST.idt + 6 * 8 + 5, new Uint8Array([0x0e]));
  load32(vm, MARK_AND_HALT);
  enterFlat32(vcpu, GUEST.code, vm);
  vcpu.setVcpuEvents({ ...vcpu.getVcpuEvents(), exception: { vector: 6, errorCode: null } });
  assert.equal(vcpu.run().kind, "hlt");
  assert.deepEqual(faultRecord(vm), { vector: 11, errorCode: (6 << 3) | 3, count: 1 });
});

test("INIT and RESET drop a queued exception", () => {
  const { vm, vcpu } = newVm();
  installRecordingIdt(vm);
  enterFlat32(vcpu, GUEST.code, vm);
  vcpu.setVcpuEvents({ ...vcpu.getVcpuEvents(), exception: { vector: 0, errorCode: null } });
  vcpu.reset("init");
  assert.equal(vcpu.getVcpuEvents().exception, null);
  vcpu.setVcpuEvents({ ...vcpu.getVcpuEvents(), exception: { vector: 0, errorCode: null } });
  vcpu.reset("reset");
  assert.equal(vcpu.getVcpuEvents().exception, null);
});

test("saveState/loadState keep a queued exception", () => {
  const { vm, vcpu } = newVm();
  installRecordingIdt(vm);
  load32(vm, MARK_AND_HALT);
  enterFlat32(vcpu, GUEST.code, vm);
  vcpu.setVcpuEvents({ ...vcpu.getVcpuEvents(), exception: { vector: 17, errorCode: 0 } });
  const saved = vcpu.saveState();
  const other = newVm();
  installRecordingIdt(other.vm);
  load32(other.vm, MARK_AND_HALT);
  other.vcpu.loadState(saved);
  assert.deepEqual(other.vcpu.getVcpuEvents().exception, { vector: 17, errorCode: 0 });
  assert.equal(other.vcpu.run().kind, "hlt");
  assert.deepEqual(faultRecord(other.vm), { vector: 17, errorCode: 0, count: 1 });
  // A state without the field (older snapshots) has none pending.
  vcpu.setVcpuEvents({ ...vcpu.getVcpuEvents(), exception: null });
  other.vcpu.loadState(vcpu.saveState());
  assert.equal(other.vcpu.getVcpuEvents().exception, null);
});

test("setVcpuEvents refuses bad exceptions and changes nothing", () => {
  const { vcpu } = newVm();
  const events = vcpu.getVcpuEvents();
  const bad: unknown[] = [
    { vector: 32, errorCode: null }, // not an exception vector
    { vector: 2, errorCode: null }, // NMI goes through nmi.pending (as in KVM)
    { vector: 13, errorCode: null }, // #GP pushes an error code
    { vector: 6, errorCode: 0 }, // #UD does not
    { vector: 13, errorCode: 2 ** 32 },
    { vector: 13, errorCode: 0, cr2: 1n }, // payload only for #PF
    { vector: 14, errorCode: 0, cr2: 0x8000_0000_0000n }, // not canonical
    "gp",
  ];
  for (const exception of bad) {
    assert.throws(
      () => vcpu.setVcpuEvents({ ...events, exception } as never),
      (e: unknown) => e instanceof HvError && e.code === "bad-value",
      JSON.stringify(exception, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)),
    );
    assert.equal(vcpu.getVcpuEvents().exception, null);
  }
});
