/**
 * LGDT/LIDT/SGDT/SIDT, LLDT/SLDT/LTR/STR, INVLPG, WBINVD/INVD, UD2, CLAC/STAC, XGETBV/XSETBV,
 * SWAPGS, RDTSCP and the absent encodings (SDM Vol.2 entries of each mnemonic; Vol.3 2.4,
 * 7.2.4 for the TSS busy bit, 2.5 for UMIP).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, runCode, LAYOUT, type TestMachine } from "../helpers/machine.js";
import { assertFault, faultMachine, runForFault, enterUser } from "../helpers/faults.js";
import { CR4 } from "../../src/x86/cr.js";
import { FLAGS } from "../../src/x86/eflags.js";
import { MSR } from "../../src/x86/msr.js";
import { SEG } from "../../src/x86/segment.js";

const CODE = LAYOUT.code;
const GDT2 = 0x6000;

/** Copy the helper GDT to GDT2 and add system descriptors from `extra` (index → [lo, hi] dwords). */
function bigGdt(m: TestMachine, extra: Record<number, number[]>): void {
  for (let n = 0; n < 64; n++) m.mem.write32(GDT2 + n * 4, m.mem.read32(LAYOUT.gdt + n * 4));
  for (const [idx, words] of Object.entries(extra)) {
    words.forEach((w, k) => m.mem.write32(GDT2 + Number(idx) * 8 + k * 4, w >>> 0));
  }
  m.cpu.gdtrBase = GDT2;
  m.cpu.gdtrLimit = 16 * 8 - 1;
}

/** Low/high dwords of a system descriptor with `base`, `limit`, `type`, present flag. */
function sysDesc(base: number, limit: number, type: number, present = true): number[] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi =
    (base & 0xff000000) | ((base >>> 16) & 0xff) | (limit & 0xf0000) | (present ? 0x8000 : 0) | (type << 8);
  return [lo >>> 0, hi >>> 0];
}

test("LGDT/SGDT and LIDT/SIDT round trip in 64-bit mode (8-byte base)", () => {
  const m = faultMachine(64);
  m.mem.write16(0x7000, 0x1234);
  m.mem.write32(0x7002, 0x00001000);
  m.mem.write32(0x7006, 0xffff8000);
  const save = [m.cpu.idtrBase, m.cpu.idtrLimit];
  assert.equal(runForFault(m, "lgdt [0x7000]\nsgdt [0x7100]\nsidt [0x7200]", 64), null);
  assert.equal(m.cpu.gdtrLimit, 0x1234);
  assert.equal(m.cpu.gdtrBase, -0x800000000000 + 0x1000);
  assert.equal(m.mem.read16(0x7100), 0x1234);
  assert.equal(m.mem.read32(0x7102), 0x1000);
  assert.equal(m.mem.read32(0x7106), 0xffff8000);
  assert.equal(m.mem.read16(0x7200), save[1]);
  assert.equal(m.mem.read32(0x7202), save[0]);
  assert.equal(m.mem.read32(0x7206), 0);
});

test("LGDT with a non-canonical base raises #GP(0) and leaves GDTR unchanged", () => {
  const m = faultMachine(64);
  m.mem.write16(0x7000, 0x1234);
  m.mem.write32(0x7002, 0);
  m.mem.write32(0x7006, 0x00008000);
  assertFault(runForFault(m, "lidt [0x7000]", 64), 13);
  const gdt = m.cpu.gdtrBase;
  assertFault(runForFault(m, "lgdt [0x7000]", 64), 13);
  assert.equal(m.cpu.gdtrBase, gdt);
});

test("LGDT with 16-bit operand size loads a 24-bit base; SGDT stores 32 bits", () => {
  const m = faultMachine(32);
  m.mem.write16(0x7000, 0x0fff);
  m.mem.write32(0x7002, 0x12345678);
  assert.equal(runForFault(m, ".byte 0x66\nlgdt [0x7000]\nsgdt [0x7100]", 32), null);
  assert.equal(m.cpu.gdtrBase, 0x345678);
  assert.equal(m.mem.read32(0x7102), 0x345678);
  const n = faultMachine(32);
  m.mem.write32(0x7002, 0x12345678);
  n.mem.write16(0x7000, 0x0fff);
  n.mem.write32(0x7002, 0x12345678);
  assert.equal(runForFault(n, "lidt [0x7000]", 32), null);
  assert.equal(n.cpu.idtrBase, 0x12345678);
});

test("LGDT/LIDT: CPL 3 → #GP(0); register forms of 0F 01 /0 /3 → #UD; MONITOR/MWAIT → #UD", () => {
  let m = faultMachine(64);
  enterUser(m, 64);
  assertFault(runForFault(m, "lgdt [0x7000]", 64), 13);
  m = faultMachine(64);
  enterUser(m, 64);
  assertFault(runForFault(m, "lidt [0x7000]", 64), 13);
  for (const b of ["0xc1", "0xd8", "0xc8", "0xc9", "0xd4", "0xfa"]) {
    m = faultMachine(64);
    assertFault(runForFault(m, `.byte 0x0f, 0x01, ${b}`, 64), 6);
  }
});

test("UMIP: SGDT/SIDT/SLDT/STR at CPL 3 raise #GP(0) when CR4.UMIP=1, run without it", () => {
  for (const src of ["sgdt [0x7000]", "sidt [0x7000]", "sldt ax", "str ax"]) {
    let m = faultMachine(64);
    m.cpu.cr4 |= CR4.UMIP;
    enterUser(m, 64);
    assertFault(runForFault(m, src, 64), 13);
    m = faultMachine(64);
    enterUser(m, 64);
    const f = runForFault(m, src, 64);
    assert.ok(f && f.vector === 13 && f.rip > CODE, `${src} completes, then HLT faults at CPL 3`);
  }
});

test("LTR loads an available 64-bit TSS, marks it busy; a busy TSS, null, LDT-type, absent selector fault", () => {
  const m = faultMachine(64);
  bigGdt(m, {
    8: [...sysDesc(0x9000, 0x67, 9), 0xffff8000, 0],
    10: [...sysDesc(0xa000, 0xfff, 2), 0, 0],
    12: [...sysDesc(0xb000, 0x67, 9, false), 0, 0],
    14: [...sysDesc(0xb000, 0x67, 1), 0, 0],
  });
  m.cpu.lo[0] = 0x40;
  assert.equal(runForFault(m, "ltr ax\nstr bx", 64), null);
  assert.equal(m.cpu.segSel[SEG.TR], 0x40);
  assert.equal(m.cpu.segBase[SEG.TR], -0x800000000000 + 0x9000);
  assert.equal(m.cpu.segLimit[SEG.TR], 0x67);
  assert.equal(m.cpu.segAttr[SEG.TR] & 0xf, 11);
  assert.equal((m.mem.read32(GDT2 + 0x44) >>> 8) & 0xf, 11, "busy bit written to the GDT");
  assert.equal(m.cpu.reg64(3), 0x40);
  const cases: [number, number, number][] = [
    [0x40, 13, 0x40], // now busy
    [0x0, 13, 0], // null
    [0x50, 13, 0x50], // LDT descriptor
    [0x60, 11, 0x60], // not present
    [0x70, 13, 0x70], // 16-bit TSS is invalid in IA-32e mode
    [0x44, 13, 0x44], // TI=1
    [0x78, 13, 0x78], // beyond the limit (16-byte descriptor)
  ];
  for (const [sel, vec, err] of cases) {
    m.cpu.lo[0] = sel;
    assertFault(runForFault(m, "ltr ax", 64), vec, err);
    assert.equal(m.cpu.segSel[SEG.TR], 0x40);
  }
});

test("LTR in 32-bit protected mode accepts a 16-bit TSS; CPL 3 → #GP(0)", () => {
  const m = faultMachine(32);
  bigGdt(m, { 9: sysDesc(0x9000, 0x2b, 1) });
  m.cpu.lo[0] = 0x48;
  assert.equal(runForFault(m, "ltr ax", 32), null);
  assert.equal(m.cpu.segAttr[SEG.TR] & 0xf, 3);
  const u = faultMachine(32);
  bigGdt(u, { 9: sysDesc(0x9000, 0x67, 9) });
  enterUser(u, 32);
  u.cpu.lo[0] = 0x48;
  assertFault(runForFault(u, "ltr ax", 32), 13);
});

test("LLDT loads a 16-byte LDT descriptor in 64-bit mode; null selector; non-canonical base; TI=1", () => {
  const m = faultMachine(64);
  bigGdt(m, {
    8: [...sysDesc(0x9000, 0xfff, 2), 0xffff8000, 0],
    10: [...sysDesc(0x9000, 0xfff, 2), 0x00008000, 0],
    12: [...sysDesc(0x9000, 0xfff, 9), 0, 0],
  });
  m.cpu.lo[0] = 0x40;
  assert.equal(runForFault(m, "lldt ax\nsldt rbx", 64), null);
  assert.equal(m.cpu.segBase[SEG.LDTR], -0x800000000000 + 0x9000);
  assert.equal(m.cpu.segLimit[SEG.LDTR], 0xfff);
  assert.equal(m.cpu.reg64(3), 0x40);
  for (const [sel, err] of [
    [0x50, 0x50],
    [0x60, 0x60],
    [0x44, 0x44],
  ]) {
    m.cpu.lo[0] = sel;
    assertFault(runForFault(m, "lldt ax", 64), 13, err);
    assert.equal(m.cpu.segSel[SEG.LDTR], 0x40);
  }
  m.cpu.lo[0] = 0;
  assert.equal(runForFault(m, "lldt ax", 64), null);
  assert.equal(m.cpu.segSel[SEG.LDTR], 0);
  assert.equal(m.cpu.segAttr[SEG.LDTR], 0);
});

test("LLDT/LTR/SLDT/STR are #UD in real mode", () => {
  for (const src of ["lldt ax", "ltr ax", "sldt ax", "str ax"]) {
    const m = createMachine();
    // IVT vector 6 → 0000:0600, which records 6 at 0x500 and halts.
    m.mem.write32(6 * 4, 0x0600);
    m.mem.load(0x600, new Uint8Array([0xc6, 0x06, 0x00, 0x05, 0x06, 0xf4]));
    m.cpu.idtrBase = 0;
    m.cpu.idtrLimit = 0x3ff;
    m.cpu.segBase[1] = 0;
    m.cpu.segSel[1] = 0;
    runCode(m, src, 16, 0x7c00);
    assert.equal(m.mem.read8(0x500), 6, src);
  }
});

test("INVLPG drops one page's translation; CPL 3 → #GP(0)", () => {
  const m = faultMachine(64);
  // 0x400000 and 0x600000 (different 2 MiB regions) mapped by 4 KiB page tables.
  const pt1 = 0x30000;
  const pt2 = 0x31000;
  m.mem.write32(LAYOUT.pml4 + 0x2000 + 2 * 8, pt1 | 0x7);
  m.mem.write32(LAYOUT.pml4 + 0x2000 + 3 * 8, pt2 | 0x7);
  m.mem.write32(pt1, 0x200000 | 3);
  m.mem.write32(pt2, 0x201000 | 3);
  m.mem.write32(0x200000, 1);
  m.mem.write32(0x201000, 2);
  m.mem.write32(0x202000, 3);
  assert.equal(runForFault(m, "mov eax, [0x400000]\nmov eax, [0x600000]", 64), null);
  m.mem.write32(pt1, 0x202000 | 3);
  m.mem.write32(pt2, 0x202000 | 3);
  assert.equal(runForFault(m, "invlpg [0x400000]\nmov ebx, [0x400000]\nmov ecx, [0x600000]", 64), null);
  assert.equal(m.cpu.lo[3], 3, "invalidated page sees the new mapping");
  assert.equal(m.cpu.lo[1], 2, "other page still cached");
  enterUser(m, 64);
  assertFault(runForFault(m, "invlpg [0x400000]", 64), 13);
});

test("SWAPGS exchanges GS.base and IA32_KERNEL_GS_BASE; #UD outside 64-bit mode; #GP at CPL 3", () => {
  const m = faultMachine(64);
  m.cpu.segBase[SEG.GS] = 0x1000;
  m.cpu.kernelGsBase = -0x800000000000;
  m.mem.write32(0x1000 + 0x10, 0x77);
  assert.equal(runForFault(m, "swapgs\nswapgs\nmov eax, gs:[0x10]\nswapgs", 64), null);
  assert.equal(m.cpu.lo[0], 0x77);
  assert.equal(m.cpu.segBase[SEG.GS], -0x800000000000);
  assert.equal(m.cpu.kernelGsBase, 0x1000);
  enterUser(m, 64);
  assertFault(runForFault(m, "swapgs", 64), 13);
  const p = faultMachine(32);
  assertFault(runForFault(p, ".byte 0x0f, 0x01, 0xf8", 32), 6);
});

test("RDTSCP returns the TSC and IA32_TSC_AUX; CR4.TSD at CPL 3 → #GP(0)", () => {
  const m = faultMachine(64);
  m.cpu.msrs.set(MSR.IA32_TSC_AUX, [0x1234, 0]);
  m.cpu.tscOffset = 0x500000000;
  m.cpu.lo[1] = -1;
  m.cpu.hi[1] = -1;
  assert.equal(runForFault(m, "rdtscp", 64), null);
  assert.equal(m.cpu.reg64(1), 0x1234);
  assert.equal(m.cpu.reg64(2), 5);
  enterUser(m, 64);
  m.cpu.cr4 |= CR4.TSD;
  assertFault(runForFault(m, "rdtscp", 64), 13);
});

test("XGETBV/XSETBV: #UD without CR4.OSXSAVE; XCR0 rules; CPL; hook and veto", () => {
  let m = faultMachine(64);
  assertFault(runForFault(m, "xgetbv", 64), 6);
  assertFault(runForFault(m, "xsetbv", 64), 6);
  m.cpu.cr4 |= CR4.OSXSAVE;
  const seen: number[][] = [];
  m.hooks.controlWrite = (reg, ol, oh, nl, nh) => {
    if (reg === "xcr0") seen.push([ol, oh, nl, nh]);
    return true;
  };
  m.cpu.lo[1] = 0;
  assert.equal(runForFault(m, "xgetbv", 64), null);
  assert.equal(m.cpu.reg64(0), 1);
  assert.equal(m.cpu.reg64(2), 0);
  for (const [eax, edx, ecx] of [
    [0, 0, 0], // bit 0 must be 1
    [2, 0, 0], // SSE without x87
    [7, 0, 0], // AVX state not supported
    [5, 0, 0], // AVX without SSE
    [1, 1, 0], // EDX bits
    [1, 0, 1], // ECX must be 0
  ]) {
    m.cpu.lo[0] = eax;
    m.cpu.lo[2] = edx;
    m.cpu.lo[1] = ecx;
    assertFault(runForFault(m, "xsetbv", 64), 13);
  }
  m.cpu.lo[0] = 1;
  m.cpu.lo[2] = 0;
  m.cpu.lo[1] = 0;
  assert.equal(runForFault(m, "xsetbv", 64), null);
  assert.deepEqual(seen, [[1, 0, 1, 0]]);
  m.cpu.lo[1] = 1;
  assertFault(runForFault(m, "xgetbv", 64), 13);
  m.hooks.controlWrite = () => false;
  m.cpu.lo[1] = 0;
  assertFault(runForFault(m, "xsetbv", 64), 13);
  m = faultMachine(64);
  m.cpu.cr4 |= CR4.OSXSAVE;
  enterUser(m, 64);
  m.cpu.lo[0] = 1;
  assertFault(runForFault(m, "xsetbv", 64), 13);
});

test("STAC/CLAC set and clear EFLAGS.AC at CPL 0, #UD at CPL 3", () => {
  const m = faultMachine(64);
  assert.equal(runForFault(m, "stac\npushfq\npop rax\nclac\npushfq\npop rbx", 64), null);
  assert.ok(m.cpu.lo[0] & FLAGS.AC);
  assert.equal(m.cpu.lo[3] & FLAGS.AC, 0);
  for (const src of ["stac", "clac"]) {
    enterUser(m, 64); // each fault returns to CPL 0 in the handler
    assertFault(runForFault(m, src, 64), 6);
  }
});

test("UD2, INVPCID and MONITOR are #UD; WBINVD/INVD need CPL 0", () => {
  const m = faultMachine(64);
  assertFault(runForFault(m, "ud2", 64), 6);
  assertFault(runForFault(m, "invpcid rax, [0x7000]", 64), 6);
  assertFault(runForFault(m, "monitor", 64), 6);
  assert.equal(runForFault(m, "wbinvd\ninvd", 64), null);
  for (const src of ["wbinvd", "invd"]) {
    enterUser(m, 64);
    assertFault(runForFault(m, src, 64), 13);
  }
});
