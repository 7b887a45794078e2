/**
 * Whole-machine snapshots (src/vmm/snapshot/machine-snapshot.ts): a machine saved mid-run
 * and restored into a new PcMachine continues exactly as the original does; the restored
 * machine has the recorded shape (RAM, vCPUs, pinning, reset style) and still reboots into
 * the recorded kernel; damaged or mismatched files are refused with SnapshotError only, and
 * the original machine is never touched.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PcMachine, type PcMachineOptions } from "../../src/vmm/machine.js";
import { bootMachine } from "../../src/vmm/loaders/kernel-image.js";
import { SnapshotError } from "../../src/vmm/snapshot/errors.js";
import { restoreMachineSnapshot, saveMachineSnapshot } from "../../src/vmm/snapshot/machine-snapshot.js";
import { decodeSnapshot, encodeSnapshot } from "../../src/vmm/snapshot/format.js";
import type { SnapshotValue } from "../../src/vmm/snapshot/json-value.js";
import { enterFlat32, load32 } from "../helpers/hv-guest.js";

const GUESTS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "guests", "build");
const RESET_INIT = join(GUESTS, "tests", "reset_init.elf");
const skip = existsSync(RESET_INIT)
  ? undefined
  : "guests/build/tests/reset_init.elf not built (make -C guests)";

function machineWith(out: number[], extra: Partial<PcMachineOptions> = {}): PcMachine {
  const machine = new PcMachine({
    memoryBytes: 32 << 20,
    cpus: 2,
    serial: (b) => out.push(b),
    debugExit: { iobase: 0xf4, iosize: 4 },
    rtcStartMs: 0,
    pinning: { profile: "jun2020" },
    resetStyle: "vmm",
    ...extra,
  });
  bootMachine(machine, {
    kind: "kernel",
    name: "reset_init.elf",
    image: readFileSync(RESET_INIT),
    modules: [],
  });
  return machine;
}

const text = (bytes: number[]) => Buffer.from(bytes).toString("latin1");

test(
  "save mid-run, restore into a new machine: both finish identically, across the guest's reset",
  { skip },
  () => {
    const outA: number[] = [];
    const a = machineWith(outA);
    const first = a.run({ maxInstructions: 200_000 });
    assert.equal(first.kind, "instruction-limit");
    assert.equal(a.resets, 0, "saved before the guest's 0xCF9 reset");
    const bytes = saveMachineSnapshot(a);
    const ramAtSave = a.vm.ram.slice();
    const regsAtSave = a.vcpus.map((v) => v.getRegs());

    const outB: number[] = [];
    const b = restoreMachineSnapshot(bytes, { serial: (x) => outB.push(x) });
    assert.notEqual(b, a);
    assert.equal(b.memoryBytes, 32 << 20);
    assert.equal(b.vcpus.length, 2);
    assert.equal(b.config.pinning?.profile, "jun2020");
    assert.equal(b.config.resetStyle, "vmm");
    assert.deepEqual(b.vm.ram, ramAtSave);
    assert.deepEqual(
      b.vcpus.map((v) => v.getRegs()),
      regsAtSave,
    );

    const splitAt = outA.length;
    const endA = a.run();
    const endB = b.run();
    assert.equal(endA.kind, "debug-exit");
    assert.deepEqual(
      { kind: endB.kind, code: endB.exitCode, resets: b.resets },
      { kind: endA.kind, code: endA.exitCode, resets: a.resets },
    );
    assert.equal(b.resets, 1, "the restored machine rebooted into the recorded kernel");
    assert.equal(text(outB), text(outA.slice(splitAt)));
    assert.match(text(outA), /SUMMARY pass=\d+ fail=0 /);
    assert.deepEqual(
      b.vm.pinning.log.entries().map((v) => v.sequence),
      a.vm.pinning.log.entries().map((v) => v.sequence),
    );
  },
);

test("a damaged snapshot is refused with SnapshotError, whatever the damage", { skip }, () => {
  const a = machineWith([]);
  a.run({ maxInstructions: 50_000 });
  const bytes = saveMachineSnapshot(a);
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < 40; i++) {
    const damaged = bytes.slice(0, i % 2 === 0 ? bytes.length : rand(bytes.length));
    if (i % 2 === 0) damaged[rand(damaged.length)] ^= 1 << rand(8);
    assert.throws(() => restoreMachineSnapshot(damaged), SnapshotError, `damage ${i}`);
  }
});

test("a snapshot for another machine shape: SnapshotError 'mismatch'", { skip }, () => {
  const a = machineWith([]);
  const bytes = saveMachineSnapshot(a);
  for (const expect of [{ memoryBytes: 64 << 20 }, { vcpuCount: 1 }, { crPin: "off" }]) {
    assert.throws(
      () => restoreMachineSnapshot(bytes, { expect }),
      (e: unknown) => e instanceof SnapshotError && e.reason === "mismatch",
      JSON.stringify(expect),
    );
  }
  const ok = restoreMachineSnapshot(bytes, {
    expect: { memoryBytes: 32 << 20, vcpuCount: 2, crPin: "jun2020" },
  });
  assert.equal(ok.vcpus.length, 2);
});

test("a machine that was never booted through bootMachine restores without a boot record", () => {
  const a = new PcMachine({ memoryBytes: 4 << 20 });
  a.vm.writePhysical(0x100000, Uint8Array.of(0xf4));
  a.resets = 3;
  const b = restoreMachineSnapshot(saveMachineSnapshot(a));
  assert.equal(b.resets, 3);
  assert.equal(b.vm.ram[0x100000], 0xf4);
  assert.notEqual(b.board.uarts[0], null, "COM1 (output dropped) is recorded as present");
  assert.equal(b.board.uarts[1], null, "COM2 was absent and stays absent");
});

test("RAM above 4 GiB: a q35 machine with 2 GiB + 768 MiB round-trips through a snapshot", () => {
  // The smallest machine with RAM above 4 GiB (q35 splits at 2 GiB from 0xB0000000 bytes).
  const G4 = 2 ** 32;
  const machine = new PcMachine({ memoryBytes: 0xb000_0000, machineType: "q35", rtcStartMs: 0 });
  assert.deepEqual(machine.ramSplit, { belowFourGiB: 0x8000_0000, aboveFourGiB: 0x3000_0000 });
  const marks: [number, number[]][] = [
    [0x7fff_fff0, [1, 2, 3, 4]],
    [G4, [0xaa, 0xbb]],
    [G4 + 0x1234_5000, [5, 6, 7]],
    [G4 + 0x3000_0000 - 2, [0xfe, 0xef]],
  ];
  for (const [at, bytes] of marks) machine.vm.writePhysical(at, Uint8Array.from(bytes));
  const file = saveMachineSnapshot(machine);
  const restored = restoreMachineSnapshot(file);
  assert.equal(restored.config.machineType, "q35");
  assert.deepEqual(restored.ramSplit, machine.ramSplit);
  for (const [at, bytes] of marks) assert.deepEqual([...restored.vm.readPhysical(at, bytes.length)], bytes);
  assert.deepEqual([...restored.vm.readPhysical(G4 + 0x1234_4ffe, 2)], [0, 0]);
  // A machine of the same size but the pc split cannot take it: the check names the RAM size.
  assert.throws(
    () => restoreMachineSnapshot(file, { expect: { memoryBytes: 0xc000_0000 } }),
    (e: unknown) => e instanceof SnapshotError && e.reason === "mismatch",
  );
});

/**
 * A guest that selects fw_cfg item 0 (the signature "QEMU", fw_cfg.rst), reads two of its
 * bytes, writes 21H to isa-debug-exit (the machine stops there), then reads the next two
 * bytes and writes them to isa-debug-exit as one 16-bit value.
 */
const FW_CFG_SPLIT_READ = [
  "mov dx, 0x510",
  "xor eax, eax",
  "out dx, ax",
  "mov dx, 0x511",
  "in al, dx",
  "in al, dx",
  "mov eax, 0x21",
  "out 0xf4, eax",
  "mov dx, 0x511",
  "in al, dx",
  "mov bl, al",
  "in al, dx",
  "mov bh, al",
  "movzx eax, bx",
  "out 0xf4, eax",
  "1: hlt",
  "jmp 1b",
].join("\n");

function fwCfgGuestMachine(): PcMachine {
  const m = new PcMachine({ memoryBytes: 4 << 20, debugExit: { iobase: 0xf4, iosize: 4 }, rtcStartMs: 0 });
  load32(m.vm, FW_CFG_SPLIT_READ, 0x10000);
  enterFlat32(m.vcpu, 0x10000, m.vm);
  return m;
}

test("fw_cfg's selector and read offset and isa-debug-exit's latch travel in the snapshot", () => {
  const a = fwCfgGuestMachine();
  const first = a.run({ maxInstructions: 10_000 });
  assert.equal(first.kind, "debug-exit");
  if (first.kind === "debug-exit") assert.equal(first.guestCode, 0x21);
  const bytes = saveMachineSnapshot(a);
  const sections = Object.keys(decodeSnapshot(bytes).json);
  for (const name of a.board.devices.map((d) => `device/${d.name}`)) assert.ok(sections.includes(name), name);
  assert.ok(sections.includes("device/fw-cfg") && sections.includes("device/debug-exit"));

  const b = restoreMachineSnapshot(bytes);
  assert.equal(b.board.debugExit?.exitValue, 0x21, "the latched value is restored");
  assert.deepEqual(b.board.fwCfg?.save(), a.board.fwCfg?.save());
  // The restored guest continues its read of "QEMU" at the third byte: 'M' (4DH), 'U' (55H).
  const second = b.run({ maxInstructions: 10_000 });
  assert.equal(second.kind, "debug-exit");
  if (second.kind === "debug-exit") assert.equal(second.guestCode, 0x554d);
});

test("a snapshot from before fw-cfg and debug-exit were saved still loads (power-on state)", () => {
  const a = fwCfgGuestMachine();
  a.run({ maxInstructions: 10_000 });
  const contents = decodeSnapshot(saveMachineSnapshot(a));
  delete contents.json["device/fw-cfg"];
  delete contents.json["device/debug-exit"];
  const b = restoreMachineSnapshot(encodeSnapshot(contents));
  assert.equal(b.board.debugExit?.exitValue, null);
  assert.equal(b.board.fwCfg?.selectedKey, 0);
  // Other device sections are still required.
  delete contents.json["device/pic"];
  assert.throws(
    () => restoreMachineSnapshot(encodeSnapshot(contents)),
    (e: unknown) => e instanceof SnapshotError && /device\/pic/.test(e.message),
  );
});

test("bad fw-cfg or debug-exit state in a snapshot is refused with SnapshotError", () => {
  const a = fwCfgGuestMachine();
  a.run({ maxInstructions: 10_000 });
  const good = decodeSnapshot(saveMachineSnapshot(a));
  const cases: [string, SnapshotValue][] = [
    ["device/fw-cfg", { version: 1, selector: 0, offset: 5, dmaAddressHigh: 0 }], // "QEMU" has 4 bytes
    ["device/fw-cfg", { version: 2, selector: 0, offset: 0, dmaAddressHigh: 0 }],
    ["device/debug-exit", { version: 1, value: -1 }],
    ["device/debug-exit", { version: 1 }],
  ];
  for (const [section, value] of cases) {
    const contents = { ...good, json: { ...good.json, [section]: value } };
    assert.throws(
      () => restoreMachineSnapshot(encodeSnapshot(contents)),
      (e: unknown) => e instanceof SnapshotError && e.message.includes("snapshot state refused"),
      JSON.stringify(value),
    );
  }
});
