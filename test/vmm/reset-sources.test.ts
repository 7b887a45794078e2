/**
 * Every reset source of the PC (reset-init-state.md section 2), one integration test each:
 * 0xCF9 (hard reset 06H), the i8042 FEH pulse, port 92h bit 0, the ACPI reset register
 * (found in the FADT the machine built), a triple fault, and the monitor's system_reset. On
 * its first boot the guest leaves a marker in RAM and in CMOS and triggers the reset; the
 * machine resets and boots it again (the boot callback reloads the code, as QEMU's firmware
 * reloads -kernel); on the second boot the guest checks that both survived and exits through
 * isa-debug-exit. With noReboot the reset ends the run instead. With softReset "init", the
 * soft sources (port 92h) are INIT# and the CR pins survive; a full reset clears them.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { PcMachine, type PcMachineOptions } from "../../src/vmm/machine.js";
import { enterFlat32, load32 } from "../helpers/hv-guest.js";

const DEBUG_EXIT = 0xf4;

/** The FADT's RESET_REG (ACPI 6.x 5.2.9: GAS at offset 116, RESET_VALUE at 128). */
function fadtResetRegister(m: PcMachine): { port: number; value: number } {
  const ram = m.vm.ram;
  const dv = new DataView(ram.buffer);
  // RSDP at E0000H (16-byte aligned in the BIOS area); RSDT address at RSDP+16.
  for (let a = 0xe0000; a < 0x100000; a += 16) {
    if (String.fromCharCode(...ram.slice(a, a + 8)) !== "RSD PTR ") continue;
    const rsdt = dv.getUint32(a + 16, true);
    const entries = (dv.getUint32(rsdt + 4, true) - 36) / 4;
    for (let i = 0; i < entries; i++) {
      const t = dv.getUint32(rsdt + 36 + 4 * i, true);
      if (String.fromCharCode(...ram.slice(t, t + 4)) === "FACP") {
        assert.equal(ram[t + 116], 1, "RESET_REG is in I/O space");
        return { port: Number(dv.getBigUint64(t + 116 + 4, true)), value: ram[t + 128] };
      }
    }
  }
  throw new Error("no FADT found");
}

/** Guest code: marker check, then `trigger` on the first boot. */
function guest(trigger: string): string {
  return [
    "cmp dword ptr [0x7000], 0x1234abcd",
    "je 2f",
    "mov dword ptr [0x7000], 0x1234abcd",
    "mov al, 0x40",
    "out 0x70, al",
    "mov al, 0x5a",
    "out 0x71, al",
    trigger,
    "1: hlt",
    "jmp 1b",
    "2:",
    "mov al, 0x40",
    "out 0x70, al",
    "in al, 0x71",
    "cmp al, 0x5a",
    "mov eax, 0x21",
    "je 3f",
    "mov eax, 0x22",
    "3:",
    `out ${DEBUG_EXIT}, eax`,
    "hlt",
  ].join("\n");
}

function machineWith(trigger: (m: PcMachine) => string, extra: Partial<PcMachineOptions> = {}): PcMachine {
  const m = new PcMachine({
    memoryBytes: 4 << 20,
    debugExit: { iobase: DEBUG_EXIT, iosize: 4 },
    ...extra,
  });
  m.setBoot((machine) => {
    load32(machine.vm, guest(trigger(machine)), 0x10000);
    enterFlat32(machine.vcpu, 0x10000, machine.vm);
  });
  return m;
}

const SOURCES: [string, (m: PcMachine) => string][] = [
  ["0xCF9 hard reset (06H)", () => "mov dx, 0xcf9\nmov al, 6\nout dx, al"],
  ["i8042 output-port pulse (FEH to port 64h)", () => "mov al, 0xfe\nout 0x64, al"],
  ["port 92h fast reset (bit 0)", () => "in al, 0x92\nor al, 1\nout 0x92, al"],
  [
    "ACPI reset register from the FADT",
    (m) => {
      const r = fadtResetRegister(m);
      return `mov dx, ${r.port}\nmov al, ${r.value}\nout dx, al`;
    },
  ],
  [
    "triple fault (empty IDT, INT3)",
    () => "sub esp, 8\nmov dword ptr [esp], 0\nmov dword ptr [esp+4], 0\nlidt [esp]\nint3",
  ],
];

for (const [name, trigger] of SOURCES) {
  test(`reset source: ${name} — the machine resets and boots again; RAM and CMOS survive`, () => {
    const m = machineWith(trigger);
    const r = m.run({ maxInstructions: 1_000_000 });
    assert.equal(
      r.kind,
      "debug-exit",
      `result ${JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}`,
    );
    if (r.kind === "debug-exit") assert.equal(r.guestCode, 0x21, "marker and CMOS byte survived");
    assert.equal(m.resets, 1);
  });

  test(`reset source: ${name} — with noReboot the run ends instead`, () => {
    const m = machineWith(trigger, { noReboot: true });
    const r = m.run({ maxInstructions: 1_000_000 });
    assert.ok(r.kind === "reset" || r.kind === "shutdown", `result kind ${r.kind}`);
    assert.equal(m.resets, 0);
  });
}

test("reset source: the monitor's system_reset", () => {
  const m = machineWith(() => "");
  const first = m.run({ maxInstructions: 10_000 });
  assert.equal(first.kind, "halted", "the first boot waits in HLT");
  m.systemReset();
  const r = m.run({ maxInstructions: 1_000_000 });
  assert.equal(r.kind, "debug-exit");
  if (r.kind === "debug-exit") assert.equal(r.guestCode, 0x21);
  assert.equal(m.resets, 1);
});

for (const softReset of ["system", "init"] as const) {
  test(`port 92h with softReset '${softReset}': rfc2019 pins ${softReset === "init" ? "survive (INIT#)" : "are cleared (system reset)"}`, () => {
    const SMEP = 1 << 20;
    const pinAndReset = [
      "mov eax, cr4",
      `or eax, ${SMEP}`,
      "mov cr4, eax",
      "mov ecx, 0x4b564d09",
      `mov eax, ${SMEP}`,
      "xor edx, edx",
      "wrmsr",
      "in al, 0x92",
      "or al, 1",
      "out 0x92, al",
    ].join("\n");
    const m = machineWith(() => pinAndReset, { pinning: { profile: "rfc2019" }, softReset });
    const r = m.run({ maxInstructions: 1_000_000 });
    assert.equal(r.kind, "debug-exit");
    assert.equal(m.vcpu.getMsr(0x4b564d09), softReset === "init" ? BigInt(SMEP) : 0n);
  });
}
