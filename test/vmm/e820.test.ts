/**
 * Tests of the PC E820 map: QEMU pc's RAM split rule (hw/i386/pc_piix.c: 3.5 GiB default
 * max-ram-below-4g, 3 GiB gigabyte-aligned split once RAM reaches it), the legacy reserved
 * areas (EBDA 9FC00H, BIOS F0000H-FFFFFH) and the 20-byte record encoding of "etc/e820" /
 * boot_params.e820_table.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  E820Type,
  carveE820,
  contiguousRamSplit,
  encodeE820Table,
  pcE820Map,
  qemuPcRamSplit,
} from "../../src/vmm/firmware/e820.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

test("QEMU pc split: all RAM below 4 GiB up to just under 3.5 GiB", () => {
  assert.deepEqual(qemuPcRamSplit(128 * MiB), { belowFourGiB: 128 * MiB, aboveFourGiB: 0 });
  assert.deepEqual(qemuPcRamSplit(3 * GiB), { belowFourGiB: 3 * GiB, aboveFourGiB: 0 });
  assert.deepEqual(qemuPcRamSplit(3.5 * GiB - 4096), { belowFourGiB: 3.5 * GiB - 4096, aboveFourGiB: 0 });
});

test("QEMU pc split: from 3.5 GiB on, 3 GiB below and the rest at 4 GiB", () => {
  assert.deepEqual(qemuPcRamSplit(3.5 * GiB), { belowFourGiB: 3 * GiB, aboveFourGiB: 0.5 * GiB });
  assert.deepEqual(qemuPcRamSplit(4 * GiB), { belowFourGiB: 3 * GiB, aboveFourGiB: 1 * GiB });
  assert.deepEqual(qemuPcRamSplit(16 * GiB), { belowFourGiB: 3 * GiB, aboveFourGiB: 13 * GiB });
});

test("contiguous split keeps everything below 4 GiB and refuses to reach the I/O APIC", () => {
  assert.deepEqual(contiguousRamSplit(3.75 * GiB), { belowFourGiB: 3.75 * GiB, aboveFourGiB: 0 });
  assert.throws(() => contiguousRamSplit(4 * GiB), RangeError);
  assert.throws(() => qemuPcRamSplit(-1), RangeError);
});

test("map of a 256 MiB PC: low RAM, EBDA, BIOS area, extended RAM", () => {
  const map = pcE820Map(qemuPcRamSplit(256 * MiB));
  assert.deepEqual(map, [
    { base: 0, length: 0x9fc00, type: E820Type.Ram },
    { base: 0x9fc00, length: 0x400, type: E820Type.Reserved },
    { base: 0xf0000, length: 0x10000, type: E820Type.Reserved },
    { base: 0x100000, length: 255 * MiB, type: E820Type.Ram },
  ]);
});

test("map of an 8 GiB PC has RAM at 4 GiB and a hole from 3 GiB", () => {
  const map = pcE820Map(qemuPcRamSplit(8 * GiB));
  assert.deepEqual(map.at(-2), { base: 0x100000, length: 3 * GiB - MiB, type: E820Type.Ram });
  assert.deepEqual(map.at(-1), { base: 4 * GiB, length: 5 * GiB, type: E820Type.Ram });
});

test("extra entries are merged in order; overlapping ones are refused", () => {
  const map = pcE820Map(qemuPcRamSplit(64 * MiB), [{ base: 0xe0000, length: 0x10000, type: E820Type.Acpi }]);
  assert.deepEqual(
    map.map((e) => e.base),
    [0, 0x9fc00, 0xe0000, 0xf0000, 0x100000],
  );
  assert.throws(
    () => pcE820Map(qemuPcRamSplit(64 * MiB), [{ base: 0x9f000, length: 0x2000, type: 2 }]),
    /overlaps/,
  );
});

test("carveE820 splits a RAM entry around a firmware range", () => {
  const map = carveE820(pcE820Map(qemuPcRamSplit(64 * MiB)), {
    base: 63 * MiB,
    length: 0x10000,
    type: E820Type.Acpi,
  });
  assert.deepEqual(map.slice(-3), [
    { base: 0x100000, length: 62 * MiB, type: E820Type.Ram },
    { base: 63 * MiB, length: 0x10000, type: E820Type.Acpi },
    { base: 63 * MiB + 0x10000, length: MiB - 0x10000, type: E820Type.Ram },
  ]);
  // The RAM after the carved range is kept.
  const middle = carveE820(pcE820Map(qemuPcRamSplit(64 * MiB)), { base: 2 * MiB, length: MiB, type: 2 });
  assert.deepEqual(middle.slice(-3), [
    { base: MiB, length: MiB, type: 1 },
    { base: 2 * MiB, length: MiB, type: 2 },
    { base: 3 * MiB, length: 61 * MiB, type: 1 },
  ]);
  assert.throws(() => carveE820(middle, { base: 0xf8000, length: 0x1000, type: 3 }), /non-RAM/);
});

test("encoding: 20-byte little-endian {u64 base, u64 length, u32 type} records", () => {
  const bytes = encodeE820Table([
    { base: 0x1_2345_6000, length: 0x2_0000_0000, type: 1 },
    { base: 0x9fc00, length: 0x400, type: 2 },
  ]);
  assert.equal(bytes.length, 40);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getBigUint64(0, true), 0x1_2345_6000n);
  assert.equal(view.getBigUint64(8, true), 0x2_0000_0000n);
  assert.equal(view.getUint32(16, true), 1);
  assert.equal(view.getBigUint64(20, true), 0x9fc00n);
  assert.equal(view.getBigUint64(28, true), 0x400n);
  assert.equal(view.getUint32(36, true), 2);
});
