/**
 * The PC memory map with RAM above 4 GiB: QEMU's pc (i440FX) and q35 RAM splits at and
 * around their thresholds (hw/i386/pc_piix.c, hw/i386/pc_q35.c), and the places a PcMachine
 * reports them — the E820 map in fw_cfg "etc/e820" and FW_CFG_RAM_SIZE, the CMOS memory-size
 * bytes (34h/35h: RAM from 16 MiB to 4 GiB in 64 KiB units, 5Bh-5Dh: RAM above 4 GiB in
 * 64 KiB units, as SeaBIOS reads them), the Linux boot_params e820 table and the Multiboot
 * mem_lower/mem_upper/mmap — and the hypervisor mapping RAM there.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  E820Type,
  encodeE820Table,
  machineRamSplit,
  pcE820Map,
  qemuPcRamSplit,
  qemuQ35RamSplit,
} from "../../src/vmm/firmware/e820.js";
import { memorySizeBytes } from "../../src/vmm/devices/cmos-memory-size.js";
import { FwCfgKey, type FwCfg } from "../../src/vmm/firmware/fw-cfg.js";
import { PcMachine } from "../../src/vmm/machine.js";
import { pcMemoryMap } from "../../src/vmm/loaders/load-multiboot.js";
import { Hypervisor, HvError } from "../../src/hv/index.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const G4 = 4 * GiB;

test("QEMU pc split: 3.5 GiB below 4 GiB, 3 GiB once RAM reaches 3.5 GiB", () => {
  const cases: [number, number, number][] = [
    [128 * MiB, 128 * MiB, 0],
    [3 * GiB, 3 * GiB, 0],
    [0xe000_0000 - 4096, 0xe000_0000 - 4096, 0],
    [0xe000_0000, 0xc000_0000, 0x2000_0000],
    [4 * GiB, 3 * GiB, GiB],
    [5 * GiB, 3 * GiB, 2 * GiB],
    [16 * GiB, 3 * GiB, 13 * GiB],
  ];
  for (const [ram, below, above] of cases) {
    assert.deepEqual(qemuPcRamSplit(ram), { belowFourGiB: below, aboveFourGiB: above }, ram.toString(16));
    assert.deepEqual(machineRamSplit("pc", ram), qemuPcRamSplit(ram));
  }
});

test("QEMU q35 split: 2.75 GiB below 4 GiB, 2 GiB once RAM reaches 2.75 GiB", () => {
  const cases: [number, number, number][] = [
    [128 * MiB, 128 * MiB, 0],
    [2.5 * GiB, 2.5 * GiB, 0],
    [0xb000_0000 - 4096, 0xb000_0000 - 4096, 0],
    [0xb000_0000, 0x8000_0000, 0x3000_0000],
    [3 * GiB, 2 * GiB, GiB],
    [5 * GiB, 2 * GiB, 3 * GiB],
  ];
  for (const [ram, below, above] of cases) {
    assert.deepEqual(qemuQ35RamSplit(ram), { belowFourGiB: below, aboveFourGiB: above }, ram.toString(16));
    assert.deepEqual(machineRamSplit("q35", ram), qemuQ35RamSplit(ram));
  }
});

test("CMOS memory-size bytes for RAM split around the PCI hole", () => {
  // pc, 5 GiB: 3 GiB below, 2 GiB above.
  const pc = memorySizeBytes(5 * GiB, 3 * GiB);
  assert.equal(pc.get(0x15)! | (pc.get(0x16)! << 8), 640);
  assert.equal(pc.get(0x17)! | (pc.get(0x18)! << 8), 65535, "extended memory saturates");
  assert.equal(pc.get(0x34)! | (pc.get(0x35)! << 8), (3 * GiB - 16 * MiB) / 65536); // 0xBF00
  assert.deepEqual([pc.get(0x5b), pc.get(0x5c), pc.get(0x5d)], [0x00, 0x80, 0x00]); // 2 GiB / 64 KiB
  // q35, 5 GiB: 2 GiB below, 3 GiB above.
  const q35 = memorySizeBytes(5 * GiB, 2 * GiB);
  assert.equal(q35.get(0x34)! | (q35.get(0x35)! << 8), 0x7f00);
  assert.deepEqual([q35.get(0x5b), q35.get(0x5c), q35.get(0x5d)], [0x00, 0xc0, 0x00]);
  // 16 GiB on pc: 13 GiB above = 0x34000 units, three bytes.
  const big = memorySizeBytes(16 * GiB, 3 * GiB);
  assert.deepEqual([big.get(0x5b), big.get(0x5c), big.get(0x5d)], [0x00, 0x40, 0x03]);
});

/** The contents of fw_cfg file `name`, found through the file directory (item 19H, big-endian). */
function fwCfgFile(fw: FwCfg, name: string): Uint8Array | undefined {
  const dir = fw.item(FwCfgKey.FILE_DIR)!;
  const view = new DataView(dir.buffer, dir.byteOffset);
  for (let n = 0; n < view.getUint32(0, false); n++) {
    const at = 4 + n * 64;
    const text = String.fromCharCode(...dir.subarray(at + 8, at + 64)).replace(/\0+$/, "");
    if (text === name) return fw.item(view.getUint16(at + 4, false));
  }
  return undefined;
}

/** Reads CMOS byte `index` through ports 70h/71h of `machine`. */
function cmos(machine: PcMachine, index: number): number {
  machine.board.io.write(0x70, 1, index);
  return machine.board.io.read(0x71, 1);
}

test("a 6 GiB pc machine maps 3 GiB at 0 and 3 GiB at 4 GiB, and says so in fw_cfg and CMOS", () => {
  const m = new PcMachine({ memoryBytes: 6 * GiB, rtcStartMs: 0 });
  assert.deepEqual(m.ramSplit, { belowFourGiB: 3 * GiB, aboveFourGiB: 3 * GiB });
  assert.equal(m.memoryBytes, 6 * GiB);
  assert.deepEqual(m.vm.ramRanges, [
    [0, 3 * GiB],
    [G4, 3 * GiB],
  ]);
  const fw = m.board.fwCfg!;
  const ramSize = fw.item(FwCfgKey.RAM_SIZE)!;
  assert.equal(new DataView(ramSize.buffer, ramSize.byteOffset).getBigUint64(0, true), BigInt(6 * GiB));
  const expected = pcE820Map({ belowFourGiB: 3 * GiB, aboveFourGiB: 3 * GiB });
  assert.deepEqual(
    expected.filter((e) => e.type === E820Type.Ram).map((e) => [e.base, e.length]),
    [
      [0, 0x9fc00],
      [0x100000, 3 * GiB - 0x100000],
      [G4, 3 * GiB],
    ],
  );
  assert.deepEqual(fwCfgFile(fw, "etc/e820"), encodeE820Table(expected));
  assert.equal(cmos(m, 0x34) | (cmos(m, 0x35) << 8), 0xbf00);
  assert.deepEqual([cmos(m, 0x5b), cmos(m, 0x5c), cmos(m, 0x5d)], [0x00, 0xc0, 0x00]);
  // The last byte of RAM and the first byte past it.
  m.vm.writePhysical(G4 + 3 * GiB - 1, Uint8Array.of(0x5a));
  assert.deepEqual([...m.vm.readPhysical(G4 + 3 * GiB - 1, 1)], [0x5a]);
  assert.equal(m.vm.memory.read8(G4 + 3 * GiB), 0xff);
  assert.throws(() => m.vm.readPhysical(G4 + 3 * GiB - 1, 2), HvError);
  assert.throws(() => m.vm.writePhysical(3 * GiB - 1, new Uint8Array(2)), HvError);
});

test("a q35 machine splits at 2 GiB, and below 2.75 GiB keeps all RAM low", () => {
  const m = new PcMachine({ memoryBytes: 3 * GiB, machineType: "q35", rtcStartMs: 0 });
  assert.deepEqual(m.ramSplit, { belowFourGiB: 2 * GiB, aboveFourGiB: GiB });
  assert.deepEqual([cmos(m, 0x5b), cmos(m, 0x5c), cmos(m, 0x5d)], [0x00, 0x40, 0x00]);
  const small = new PcMachine({ memoryBytes: 2.5 * GiB, machineType: "q35", rtcStartMs: 0 });
  assert.deepEqual(small.ramSplit, { belowFourGiB: 2.5 * GiB, aboveFourGiB: 0 });
  assert.deepEqual([cmos(small, 0x5b), cmos(small, 0x5c), cmos(small, 0x5d)], [0, 0, 0]);
});

test("RAM sizes the hypervisor refuses: above 16 GiB, or too much of it below the PCI hole", () => {
  assert.throws(
    () => new PcMachine({ memoryBytes: 16 * GiB + 4096 }),
    /memoryBytes: expected an integer from 4096 to 17179869184 \(16 GiB\)/,
  );
  const hv = new Hypervisor();
  assert.throws(() => hv.createVm({ memoryBytes: 4 * GiB }), /does not fit below the PCI hole/);
  assert.throws(() => hv.createVm({ memoryBytes: 4 * GiB, lowMemoryBytes: 0xf000_1000 }), /lowMemoryBytes/);
  const vm = hv.createVm({ memoryBytes: 4 * GiB, lowMemoryBytes: 3 * GiB });
  assert.equal(vm.highMemoryBytes, GiB);
});

test("Multiboot memory map: RAM at 4 GiB is a type-1 region; mem_upper stops at the PCI hole", () => {
  assert.deepEqual(pcMemoryMap(3 * GiB, 2 * GiB), [
    { base: 0, length: 0x9fc00, type: 1 },
    { base: 0x9fc00, length: 0x400, type: 2 },
    { base: 0xf0000, length: 0x10000, type: 2 },
    { base: 0x100000, length: 3 * GiB - 0x100000, type: 1 },
    { base: G4, length: 2 * GiB, type: 1 },
  ]);
  assert.equal(pcMemoryMap(128 * MiB).length, 4);
});
