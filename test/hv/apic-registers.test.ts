/**
 * Local APIC register file: reset values (SDM Vol.3 10.4.7.1, Table 10-1), every register
 * through the xAPIC MMIO page and the x2APIC MSRs (SDM Vol.3 10.12.1.2, Table 10-6),
 * read-only / write-only / reserved-bit behaviour, and the x2APIC #GP rules (10.12.1.3).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { LocalApic, type ApicBus } from "../../src/hv/apic/index.js";

const noBus: ApicBus = { sendIpi() {} };

function xapic(apicId = 3, isBsp = false): LocalApic {
  return new LocalApic({ apicId, isBsp, bus: noBus, now: () => 0 });
}

function x2apic(apicId = 0x23): LocalApic {
  const apic = xapic(apicId);
  assert.ok(apic.setApicBase(0xfee00000n | 0x800n | 0x400n, false));
  return apic;
}

const read = (apic: LocalApic, offset: number) => apic.readMmio(offset);
const write = (apic: LocalApic, offset: number, value: number) => apic.writeMmio(offset, 4, value);

test("power-up values of every xAPIC register (SDM 10.4.7.1, Table 10-1)", () => {
  const apic = xapic(3);
  assert.equal(read(apic, 0x20), 0x03000000, "APIC ID in bits 31:24");
  assert.equal(read(apic, 0x30), 0x00060014, "version 14H, max LVT entry 6");
  for (const offset of [0x80, 0x90, 0xa0, 0xd0, 0x280, 0x300, 0x310, 0x380, 0x390, 0x3e0]) {
    assert.equal(read(apic, offset), 0, `offset ${offset.toString(16)}H`);
  }
  assert.equal(read(apic, 0xe0), 0xffffffff, "DFR all ones");
  assert.equal(read(apic, 0xf0), 0xff, "SVR 000000FFH: software-disabled");
  for (let offset = 0x100; offset < 0x280; offset += 0x10) assert.equal(read(apic, offset), 0, "ISR/TMR/IRR");
  for (const offset of [0x2f0, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370]) {
    assert.equal(read(apic, offset), 0x00010000, `LVT ${offset.toString(16)}H: only the mask bit`);
  }
  assert.equal(apic.softwareEnabled, false);
});

test("IA32_APIC_BASE after power-up: FEE00000H | EN, BSP flag only on the BSP (SDM 10.4.4)", () => {
  assert.equal(xapic(0, true).getApicBase(), 0xfee00900n);
  assert.equal(xapic(1, false).getApicBase(), 0xfee00800n);
  assert.equal(xapic(1).mmioBase, 0xfee00000);
  assert.ok(xapic(1).xapicEnabled);
  assert.ok(!xapic(1).x2apicEnabled);
});

test("read/write xAPIC registers keep only their defined bits", () => {
  const apic = xapic();
  write(apic, 0xf0, 0xffffffff);
  assert.equal(
    read(apic, 0xf0),
    0x3ff,
    "SVR: vector, enable, focus; EOI-broadcast suppression not implemented",
  );
  const cases: [number, number, number][] = [
    [0x20, 0xffffffff, 0xff000000], // ID
    [0x80, 0xffffffff, 0xff], // TPR
    [0xd0, 0xffffffff, 0xff000000], // LDR
    [0xe0, 0x00000000, 0x0fffffff], // DFR: model cluster, bits 27:0 read as ones
    [0x310, 0xffffffff, 0xff000000], // ICR high: destination 63:56
    [0x2f0, 0xffffffff, 0x000107ff], // LVT CMCI
    [0x320, 0xfffbffff, 0x000300ff], // LVT timer, periodic (bit 18 clear)
    [0x330, 0xffffffff, 0x000107ff], // thermal
    [0x340, 0xffffffff, 0x000107ff], // perf
    [0x350, 0xffffffff, 0x0001a7ff], // LINT0: no delivery status / remote IRR from software
    [0x360, 0xffffffff, 0x0001a7ff], // LINT1
    [0x370, 0xffffffff, 0x000100ff], // error
    [0x3e0, 0xffffffff, 0x0000000b], // DCR bits 0, 1, 3
    [0x380, 0xffffffff, 0xffffffff], // initial count
  ];
  for (const [offset, value, expected] of cases) {
    write(apic, offset, value);
    assert.equal(read(apic, offset), expected, `offset ${offset.toString(16)}H`);
  }
});

test("read-only xAPIC registers ignore writes", () => {
  const apic = xapic(3);
  write(apic, 0xf0, 0x1ff);
  apic.acceptInterrupt(0x45, "level");
  for (const offset of [0x30, 0x90, 0xa0, 0x100, 0x180, 0x220, 0x390]) write(apic, offset, 0xffffffff);
  assert.equal(read(apic, 0x30), 0x00060014);
  assert.equal(read(apic, 0xa0), 0);
  assert.equal(read(apic, 0x220), 1 << 5, "IRR bit 45H (word 2, bit 5) unchanged");
  assert.equal(read(apic, 0x1a0), 1 << 5, "TMR bit 45H: level");
  assert.equal(read(apic, 0x100), 0);
  assert.equal(read(apic, 0x280), 0, "no error logged for read-only writes");
});

test("reserved offsets read 0 and log Illegal Register Address (ESR bit 7, SDM 10.5.3)", () => {
  const apic = xapic();
  for (const offset of [0x00, 0x10, 0x40, 0x70, 0x290, 0x2e0, 0x3a0, 0x3f0, 0x400, 0xff0]) {
    assert.equal(read(apic, offset), 0);
  }
  assert.equal(read(apic, 0x280), 0, "not visible before the ESR write");
  write(apic, 0x280, 0);
  assert.equal(read(apic, 0x280), 0x80);
  write(apic, 0x280, 0);
  assert.equal(read(apic, 0x280), 0, "the next write clears it");
  write(apic, 0x3f0, 1); // SELF IPI does not exist in xAPIC mode
  write(apic, 0x280, 0);
  assert.equal(read(apic, 0x280), 0x80);
});

test("sub-dword MMIO reads see bytes 0-3 of a register; other accesses do nothing", () => {
  const apic = xapic(0x5a);
  assert.equal(apic.readMmio(0x23, 1), 0x5a);
  assert.equal(apic.readMmio(0x22, 2), 0x5a00);
  assert.equal(apic.readMmio(0x20, 2), 0x0000);
  assert.equal(apic.readMmio(0x32, 2), 0x0006);
  assert.equal(apic.readMmio(0x24, 4), 0, "bytes 4-15 of a register");
  apic.writeMmio(0x80, 1, 0x40);
  apic.writeMmio(0x84, 4, 0x40);
  assert.equal(read(apic, 0x80), 0, "TPR untouched by a byte write or a misaligned write");
});

test("the MMIO page is dead outside xAPIC mode", () => {
  const apic = x2apic();
  assert.equal(read(apic, 0x30), 0);
  write(apic, 0x80, 0x50);
  assert.equal(apic.tpr, 0);
});

test("x2APIC MSRs read the same registers: ID 32-bit, LDR derived from the x2APIC ID", () => {
  const apic = x2apic(0x23);
  assert.equal(apic.readMsr(0x802), 0x23n);
  assert.equal(apic.readMsr(0x803), 0x00060014n);
  // Logical x2APIC ID: cluster = ID[19:4] = 2 in bits 31:16, bit ID[3:0] = 3 (SDM 10.12.10.2).
  assert.equal(apic.readMsr(0x80d), 0x00020008n);
  assert.equal(apic.readMsr(0x80f), 0xffn);
  for (const index of [0x808, 0x80a, 0x828, 0x830, 0x838, 0x839, 0x83e])
    assert.equal(apic.readMsr(index), 0n);
  for (let index = 0x810; index < 0x828; index++) assert.equal(apic.readMsr(index), 0n);
  for (const index of [0x82f, 0x832, 0x833, 0x834, 0x835, 0x836, 0x837])
    assert.equal(apic.readMsr(index), 0x10000n);
});

test("x2APIC MSR writes of read/write registers", () => {
  const apic = x2apic();
  const cases: [number, bigint][] = [
    [0x808, 0xa5n],
    [0x80f, 0x1ffn],
    [0x82f, 0x104ffn],
    [0x832, 0x600ffn - 0x20000n], // TSC-deadline mode, vector FFH, unmasked
    [0x835, 0x1a7ffn],
    [0x837, 0x100ffn],
    [0x838, 0xffffffffn],
    [0x83e, 0xbn],
  ];
  for (const [index, value] of cases) {
    assert.equal(apic.writeMsr(index, value), true, `MSR ${index.toString(16)}H`);
    assert.equal(apic.readMsr(index), index === 0x838 ? 0n : value, `MSR ${index.toString(16)}H`);
  }
  // The initial count is ignored in TSC-deadline mode (SDM 10.5.4.1); in one-shot it sticks.
  assert.ok(apic.writeMsr(0x832, 0x100ffn));
  assert.ok(apic.writeMsr(0x838, 0xffffffffn));
  assert.equal(apic.readMsr(0x838), 0xffffffffn);
});

test("x2APIC #GP: every APIC MSR outside x2APIC mode", () => {
  const apic = xapic();
  for (const index of [0x802, 0x803, 0x808, 0x80b, 0x830, 0x83f]) {
    assert.equal(apic.readMsr(index), "gp");
    assert.equal(apic.writeMsr(index, 0n), false);
  }
});

test("x2APIC #GP: absent, write-only and read-only registers (Table 10-6)", () => {
  const apic = x2apic();
  for (const index of [0x800, 0x801, 0x809, 0x80c, 0x80e, 0x829, 0x831, 0x83a, 0x840, 0x8ff]) {
    assert.equal(apic.readMsr(index), "gp", `absent ${index.toString(16)}H`);
    assert.equal(apic.writeMsr(index, 0n), false, `absent ${index.toString(16)}H`);
  }
  assert.equal(apic.readMsr(0x80b), "gp", "EOI is write-only");
  assert.equal(apic.readMsr(0x83f), "gp", "SELF IPI is write-only");
  for (const index of [0x802, 0x803, 0x80a, 0x80d, 0x810, 0x817, 0x818, 0x820, 0x827, 0x839]) {
    assert.equal(apic.writeMsr(index, 0n), false, `read-only ${index.toString(16)}H`);
  }
});

test("x2APIC #GP: reserved bits, upper halves, non-zero EOI/ESR (SDM 10.12.1.3)", () => {
  const apic = x2apic();
  const refused: [number, bigint][] = [
    [0x808, 0x100n], // TPR 31:8
    [0x808, 1n << 32n], // bits 63:32 of a 32-bit register
    [0x80b, 1n], // EOI non-zero
    [0x828, 1n], // ESR non-zero
    [0x80f, 0x1000n], // SVR bit 12 (EOI-broadcast suppression not supported)
    [0x832, 0x60000n], // timer mode 11B
    [0x832, 0x80000n], // timer bit 19
    [0x832, 0x700n], // the timer has no delivery mode
    [0x835, 0x20000n], // LINT0 bit 17
    [0x837, 0x700n], // the error entry has no delivery mode
    [0x830, 0x2000n], // ICR bit 13
    [0x830, 0x30000n], // ICR bits 17:16
    [0x83e, 0x4n], // DCR bit 2
    [0x83f, 0x100n], // SELF IPI 31:8
  ];
  for (const [index, value] of refused) {
    assert.equal(apic.writeMsr(index, value), false, `MSR ${index.toString(16)}H <- ${value.toString(16)}H`);
  }
  assert.equal(apic.readMsr(0x808), 0n);
  assert.equal(apic.readMsr(0x832), 0x10000n);
  assert.equal(apic.writeMsr(0x80b, 0n), true);
  assert.equal(apic.writeMsr(0x828, 0n), true);
  assert.equal(apic.writeMsr(0x830, 0xc10ffn), true, "ICR bit 12 is ignored, not reserved (10.12.9)");
  assert.equal(apic.readMsr(0x830), 0xc00ffn);
});

test("x2APIC ICR is one 64-bit MSR with a 32-bit destination", () => {
  const sent: unknown[] = [];
  const apic = new LocalApic({
    apicId: 1,
    isBsp: false,
    bus: { sendIpi: (_f, ipi) => sent.push(ipi) },
    now: () => 0,
  });
  assert.ok(apic.setApicBase(0xfee00c00n, false));
  assert.ok(apic.writeMsr(0x830, (0x12345678n << 32n) | 0x4830n));
  assert.equal(apic.readMsr(0x830), (0x12345678n << 32n) | 0x4830n);
  assert.deepEqual(sent, [
    {
      vector: 0x30,
      deliveryMode: "fixed",
      destinationMode: "logical",
      level: true,
      trigger: "edge",
      shorthand: "none",
      destination: 0x12345678,
    },
  ]);
});

test("IA32_TSC_DEADLINE exists only when the feature is present", () => {
  const apic = new LocalApic({
    apicId: 0,
    isBsp: true,
    bus: noBus,
    now: () => 0,
    tscDeadlineSupported: false,
  });
  assert.equal(apic.readMsr(0x6e0), "gp");
  assert.equal(apic.writeMsr(0x6e0, 1n), false);
  write(apic, 0x320, 0x400ff);
  assert.equal(read(apic, 0x320), 0x100ff, "no TSC-deadline mode bit without the feature");
  assert.ok(LocalApic.ownsMsr(0x6e0) && LocalApic.ownsMsr(0x800) && LocalApic.ownsMsr(0x8ff));
  assert.ok(!LocalApic.ownsMsr(0x1b) && !LocalApic.ownsMsr(0x900));
});

test("bad constructor options are refused with HvError", () => {
  assert.throws(() => new LocalApic({ apicId: 0xffffffff, isBsp: false, bus: noBus, now: () => 0 }), {
    name: "HvError",
  });
  assert.throws(
    () => new LocalApic({ apicId: 1, isBsp: false, bus: noBus, now: () => 0, timerDivisorBase: 0 }),
    {
      name: "HvError",
    },
  );
});
