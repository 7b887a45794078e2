/**
 * Legacy-instruction tests: DAA/DAS/AAA/AAS/AAM/AAD, BOUND, INTO, SALC, LDS/LES/LSS/LFS/LGS,
 * XLAT, and #UD for the i64 opcodes in 64-bit mode.
 *
 * Expected values: the SDM Vol.2 Operation sections and the worked examples of DAA/DAS; the
 * AAS AX=0000h/AF=1 → FE0Ah case is the SDM's "AX ← AX − 6; AH ← AH − 1" (which published
 * silicon comparisons agree with). Flags the SDM leaves undefined are this implementation's
 * documented choices (see src/cpu/ops/legacy.ts) — they could not be checked natively: the
 * host is an AMD EPYC without IA-32 execution (no 32-bit ELF support, and far calls into a
 * 32-bit LDT or compat code segment are refused), and these opcodes are #UD in 64-bit mode.
 */
import test from "node:test";
import assert from "node:assert/strict";
import {
  createMachine,
  enterLong64,
  enterProtected32,
  enterReal,
  runCode,
  setIntGate,
  LAYOUT,
  type TestMachine,
} from "../helpers/machine.js";

const CF = 1;
const PF = 4;
const AF = 0x10;
const ZF = 0x40;
const SF = 0x80;
const STATUS = 0x8d5;
const CODE = 0x100000;

/** Install 32-bit interrupt gates (selector 0x18) whose handlers are HLTs at 0x180000 + vector * 16. */
function idt32(m: TestMachine, vectors: number[]): void {
  m.cpu.idtrBase = LAYOUT.idt;
  m.cpu.idtrLimit = 0x7ff;
  for (const v of vectors) {
    const h = 0x180000 + v * 16;
    setIntGate(m, 32, v, h);
    m.mem.u8[h] = 0xf4;
  }
}

/** Install 64-bit interrupt gates whose handlers are HLTs at 0x180000 + vector * 16. */
function idt64(m: TestMachine, vectors: number[]): void {
  m.cpu.idtrBase = LAYOUT.idt;
  m.cpu.idtrLimit = 0xfff;
  for (const v of vectors) {
    const h = 0x180000 + v * 16;
    setIntGate(m, 64, v, h);
    m.mem.u8[h] = 0xf4;
  }
}

function run32(src: string): TestMachine {
  const m = createMachine();
  enterProtected32(m);
  idt32(m, [0, 4, 5, 6, 13]);
  assert.equal(runCode(m, src, 32), "halt");
  return m;
}

const ax = (m: TestMachine): number => m.cpu.lo[0] & 0xffff;
const flags = (m: TestMachine): number => m.cpu.getEflags() & STATUS;

test("DAA: SDM example 79h + 35h → 14h with CF and AF", () => {
  const m = run32("mov al, 0x79\nadd al, 0x35\ndaa");
  assert.equal(ax(m) & 0xff, 0x14);
  assert.equal(flags(m), CF | AF | PF);
});

test("DAA: plain BCD sums and the carry into the tens", () => {
  let m = run32("mov al, 0x38\nadd al, 0x45\ndaa"); // 38 + 45 = 83
  assert.equal(ax(m) & 0xff, 0x83);
  assert.equal(flags(m), AF | SF);
  m = run32("mov al, 0x99\nadd al, 0x01\ndaa"); // 99 + 1 = 100
  assert.equal(ax(m) & 0xff, 0x00);
  assert.equal(flags(m), CF | AF | ZF | PF);
  m = run32("mov al, 0x12\nadd al, 0x34\ndaa"); // no adjustment
  assert.equal(ax(m) & 0xff, 0x46);
  assert.equal(flags(m), 0);
});

test("DAS: SDM example 35h − 47h → 88h with CF and AF", () => {
  const m = run32("mov al, 0x35\nsub al, 0x47\ndas");
  assert.equal(ax(m) & 0xff, 0x88);
  assert.equal(flags(m), CF | AF | SF | PF);
});

test("DAS: low-nibble borrow sets CF even without the high adjustment", () => {
  // AL = 03h, AF = 1, CF = 0: AL − 6 borrows, so CF = 1 (SDM: CF ← old_CF or Borrow).
  const m = run32("push 0x12\npopfd\nmov al, 3\ndas");
  assert.equal(ax(m) & 0xff, 0xfd);
  assert.equal(flags(m) & (CF | AF), CF | AF);
});

test("AAA adjusts AX (carry from AL into AH)", () => {
  let m = run32("mov ax, 0x0009\nadd al, 8\naaa");
  assert.equal(ax(m), 0x0107);
  assert.equal(flags(m) & (CF | AF), CF | AF);
  // AL = FAh: AX + 106h = 0200h, AL AND 0Fh = 0 — an 8-bit AL + 6 would give 0100h.
  m = run32("mov ax, 0x00fa\ntest al, 0\naaa");
  assert.equal(ax(m), 0x0200);
  assert.equal(flags(m), CF | AF | ZF | PF); // SF/ZF/PF from AL = 0, OF = 0 (choices)
  m = run32("mov ax, 0x0535\ntest al, 0\naaa");
  assert.equal(ax(m), 0x0505);
  assert.equal(flags(m) & (CF | AF), 0);
});

test("AAS: AX − 6, AH − 1 (AX = 0000h with AF = 1 gives FE0Ah)", () => {
  let m = run32("push 0x12\npopfd\nmov ax, 0\naas");
  assert.equal(ax(m), 0xfe0a);
  assert.equal(flags(m) & (CF | AF), CF | AF);
  m = run32("mov ax, 0x0208\nsub al, 9\naas"); // 28 − 9 (unpacked) = 19
  assert.equal(ax(m), 0x0109);
  assert.equal(flags(m) & (CF | AF), CF | AF);
});

test("AAM and AAD with base 10 and other bases", () => {
  let m = run32("mov ax, 0xff3f\naam");
  assert.equal(ax(m), 0x0603);
  assert.equal(flags(m), PF);
  m = run32("mov al, 0x3f\naam 16");
  assert.equal(ax(m), 0x030f);
  m = run32("mov ax, 0x0607\naad");
  assert.equal(ax(m), 0x0043);
  m = run32("mov ax, 0x0607\naad 16");
  assert.equal(ax(m), 0x0067);
  m = run32("mov ax, 0x000a\naam");
  assert.equal(ax(m), 0x0100);
  assert.equal(flags(m), ZF | PF);
  // AAD flags: SF/ZF/PF from AL; CF/AF/OF as the 8-bit add FFh + 5Ah (choice).
  m = run32("mov ax, 0x09ff\naad");
  assert.equal(ax(m), 0x0059);
  assert.equal(flags(m), CF | AF | PF);
});

test("AAM 0 raises #DE with AX unchanged", () => {
  const m = run32("mov ax, 0x1234\naam 0");
  assert.equal(m.cpu.rip, 0x180000 + 1);
  assert.equal(ax(m), 0x1234);
  assert.equal(m.mem.read32(0x90000 - 12), CODE + 4); // pushed EIP = the AAM
});

test("BOUND: in range continues, out of range raises #BR (a fault)", () => {
  const m = createMachine();
  enterProtected32(m);
  idt32(m, [5, 6]);
  m.mem.write32(0x3000, -5 >>> 0);
  m.mem.write32(0x3004, 10);
  runCode(m, "mov ebx, 0x3000\nmov eax, -5\nbound eax, [ebx]\nmov eax, 10\nbound eax, [ebx]\nmov ecx, 1", 32);
  assert.equal(m.cpu.lo[1], 1);
  assert.equal(m.cpu.rip, CODE + 0x19); // the trailing HLT ran
  runCode(m, "mov ebx, 0x3000\nmov eax, 11\nbound eax, [ebx]\nmov ecx, 2", 32);
  assert.equal(m.cpu.rip, 0x180000 + 5 * 16 + 1);
  assert.equal(m.mem.read32(0x90000 - 12), CODE + 10);
  // 16-bit form: bounds are words.
  m.mem.write16(0x3100, 0xfff0);
  m.mem.write16(0x3102, 0x0010);
  m.cpu.lo[4] = 0x90000;
  runCode(m, "mov ebx, 0x3100\nmov ax, -16\nbound ax, [ebx]\nmov ecx, 3", 32);
  assert.equal(m.cpu.lo[1], 3);
});

test("INTO traps to vector 4 only when OF = 1, returning after INTO", () => {
  let m = run32("mov al, 0x7f\nadd al, 1\ninto\nmov ecx, 1");
  assert.equal(m.cpu.rip, 0x180000 + 4 * 16 + 1);
  assert.equal(m.mem.read32(0x90000 - 12), CODE + 5);
  m = run32("mov al, 0x7f\nadd al, 0\ninto\nmov ecx, 1");
  assert.equal(m.cpu.lo[1], 1);
});

test("SALC sets AL from CF without changing flags", () => {
  let m = run32("mov eax, 0x12345678\nstc\n.byte 0xd6");
  assert.equal(m.cpu.lo[0] >>> 0, 0x123456ff);
  assert.equal(flags(m) & CF, CF);
  m = run32("mov eax, 0x12345678\nclc\n.byte 0xd6");
  assert.equal(m.cpu.lo[0] >>> 0, 0x12345600);
});

test("XLAT at 16-, 32- and 64-bit address size, with segment override", () => {
  const t = createMachine();
  enterProtected32(t);
  for (let n = 0; n < 256; n++) t.mem.u8[0x3000 + n] = n ^ 0xa5;
  runCode(t, "mov ebx, 0x3000\nmov al, 5\nxlatb\nmov cl, al\nmov al, 0xff\nxlatb", 32);
  assert.equal(t.cpu.lo[1] & 0xff, 5 ^ 0xa5);
  assert.equal(t.cpu.lo[0] & 0xff, 0xff ^ 0xa5);
  t.cpu.segBase[4] = 0x1000; // FS base
  runCode(t, "mov ebx, 0x2000\nmov al, 7\n.byte 0x64, 0xd7", 32);
  assert.equal(t.cpu.lo[0] & 0xff, 7 ^ 0xa5);
  const r = createMachine();
  enterReal(r);
  r.mem.u8[0x0004] = 0x77; // BX = FFFFh + AL = 5 wraps to 0004h
  runCode(r, "mov bx, 0xffff\nmov al, 5\nxlatb", 16, 0x7c00);
  assert.equal(r.cpu.lo[0] & 0xff, 0x77);
  const l = createMachine();
  enterLong64(l);
  l.mem.u8[0x200010] = 0x42;
  runCode(l, "mov rbx, 0x200000\nmov eax, 0x10\nxlatb", 64);
  assert.equal(l.cpu.lo[0] & 0xff, 0x42);
});

test("LDS/LES/LFS/LGS/LSS load a far pointer (offset then selector)", () => {
  const m = createMachine();
  enterProtected32(m);
  m.mem.write32(0x3000, 0x11223344);
  m.mem.write16(0x3004, 0x10);
  m.mem.write16(0x3010, 0x5566);
  m.mem.write16(0x3012, 0x10);
  runCode(
    m,
    "mov ebx, 0x3000\nlds esi, [ebx]\nles edi, [ebx]\nlfs eax, [ebx]\nlgs cx, [ebx + 0x10]\nmov edx, esp\nlss esp, [ebx]\nmov esp, edx",
    32,
  );
  assert.equal(m.cpu.lo[6] >>> 0, 0x11223344);
  assert.equal(m.cpu.lo[7] >>> 0, 0x11223344);
  assert.equal(m.cpu.lo[0] >>> 0, 0x11223344);
  assert.equal(m.cpu.lo[1] & 0xffff, 0x5566);
  for (const s of [0, 2, 3, 4, 5]) assert.equal(m.cpu.segSel[s], 0x10);
  // A null selector is allowed for FS (the register becomes unusable); for SS it is #GP.
  m.mem.write16(0x3004, 0);
  idt32(m, [13]);
  runCode(m, "mov ebx, 0x3000\nlfs eax, [ebx]\nmov ecx, 7", 32);
  assert.equal(m.cpu.segSel[4], 0);
  assert.equal(m.cpu.lo[1], 7);
  runCode(m, "mov ebx, 0x3000\nmov eax, 0\nlss eax, [ebx]", 32);
  assert.equal(m.cpu.rip, 0x180000 + 13 * 16 + 1);
  assert.equal(m.cpu.lo[0], 0, "destination unchanged on #GP");
});

test("LSS/LFS in 64-bit mode, including the REX.W m16:64 form", () => {
  const m = createMachine();
  enterLong64(m);
  m.mem.write32(0x200000, 0x00080000);
  m.mem.write32(0x200004, 0);
  m.mem.write16(0x200008, 0x10);
  m.mem.write32(0x200010, 0xabcdef01);
  m.mem.write16(0x200014, 0x10);
  runCode(
    m,
    "mov rbx, 0x200000\n.byte 0x48, 0x0f, 0xb2, 0x23 # lss rsp, [rbx] (m16:64)\nmov rax, -1\nlfs eax, [rbx + 0x10]",
    64,
  );
  assert.equal(m.cpu.reg64(4), 0x80000);
  assert.equal(m.cpu.segSel[2], 0x10);
  assert.equal(m.cpu.lo[0] >>> 0, 0xabcdef01);
  assert.equal(m.cpu.hi[0], 0);
});

test("the i64 opcodes are #UD in 64-bit mode", () => {
  for (const bytes of [
    "0x27",
    "0x2f",
    "0x37",
    "0x3f",
    "0xd4, 10",
    "0xd5, 10",
    "0xd6",
    "0xce",
    "0x62, 0x03",
    "0xc5, 0x03",
    "0xc4, 0x03",
  ]) {
    const m = createMachine();
    enterLong64(m);
    idt64(m, [6]);
    runCode(m, `mov eax, 0x1234\n.byte ${bytes}\nmov ecx, 1`, 64);
    assert.equal(m.cpu.rip, 0x180000 + 6 * 16 + 1, bytes);
    assert.equal(m.mem.read32(0x90000 - 40), CODE + 5, bytes);
    assert.equal(m.cpu.lo[0], 0x1234);
  }
});

test("LDS/LES still decode in 16-bit real mode", () => {
  const m = createMachine();
  enterReal(m);
  m.mem.write16(0x500, 0x1234);
  m.mem.write16(0x502, 0x0040);
  runCode(m, "mov bx, 0x500\nlds si, [bx]\nmov ax, ds", 16, 0x7c00);
  assert.equal(m.cpu.lo[6] & 0xffff, 0x1234);
  assert.equal(m.cpu.segSel[3], 0x40);
  assert.equal(m.cpu.segBase[3], 0x400);
});
