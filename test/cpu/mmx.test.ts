/**
 * MMX tests. Part 1 compares pinvm with real silicon: every vector in gen/mmx-vectors.json was
 * produced by running the same instruction sequence on the host CPU (gen/mmx-vectors.mjs).
 * Compared: MM0, MM1, XMM0, XMM1, MXCSR, RAX and the 32-byte memory operand. Part 2 checks
 * the architectural state rules (SDM Vol.1 9.5 "Compatibility with x87 FPU Architecture",
 * 9.6.3 EMMS; Vol.3 Table 22-7/22-8 exception conditions; Vol.1 Table 9-1) and the x87 tag
 * words an FSTENV reports after MMX code, which were checked on the host CPU.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { runCode, LAYOUT, type TestMachine } from "../helpers/machine.js";
import { runForFault } from "../helpers/faults.js";
import { IO_BLOCK, hex, loadSimdVectors, runSimdVector, simdMachine } from "../helpers/simd-vectors.js";
import { cpuidNative } from "../../src/cpu/ops/msr-cpuid.js";

const { data, byCase } = loadSimdVectors<{ asm: string; kind: string }>("mmx-vectors.json");
const IO = IO_BLOCK;
const DATA = 0x210000;

/** A 64-bit machine with SSE enabled (CR4.OSFXSR|OSXMMEXCPT, CR0.EM=0) and fault handlers. */
const mmxMachine = (): TestMachine => simdMachine(true);

for (const [n, vecs] of byCase) {
  const c = data.cases[n];
  test(`silicon: ${c.asm.replace(/\n/g, "; ")}`, () => {
    const m = mmxMachine();
    const src = `${data.prologue}\n${c.asm}\n${data.epilogue}`;
    const errors: string[] = [];
    for (const v of vecs) {
      runSimdVector(m, src, v.in, c.asm);
      const got = new Uint8Array(96);
      for (let k = 0; k < 64; k++) got[k] = m.mem.read8(IO + 64 + k);
      for (let k = 0; k < 32; k++) got[64 + k] = m.mem.read8(IO + 160 + k);
      const exp = Buffer.from(v.out.replace("|", ""), "hex");
      if (hex(got) !== hex(exp)) errors.push(`in ${v.in}\n  exp ${hex(exp)}\n  got ${hex(got)}`);
    }
    assert.deepEqual(errors.slice(0, 3), [], `${errors.length}/${vecs.length} mismatches for ${c.asm}`);
  });
}

// ------------------------------------------------------------------ state rules

const se = (m: TestMachine, p: number): number => {
  const r = m.cpu.x87.regs[p];
  return (r.sign << 15) | r.exp;
};

test("MMX write: TOP=0, register sign/exponent = FFFFH, significand = value (SDM Vol.1 9.5.1, Table 9-1)", () => {
  const m = mmxMachine();
  // fld1 / fldz leave TOP=6; MOVQ MM0 is R0 regardless of TOP.
  const r = runCode(m, `fninit\nfld1\nfldz\nmov rax, 0x1122334455667788\nmovq mm0, rax\nhlt`, 64);
  assert.equal(r, "halt");
  const x = m.cpu.x87;
  assert.equal((x.fsw >> 11) & 7, 0, "TOP");
  assert.equal(se(m, 0), 0xffff);
  assert.equal(x.regs[0].hi, 0x11223344);
  assert.equal(x.regs[0].lo, 0x55667788);
  // FSTENV after the transition (host CPU): R0 special, R1-R6 zero, R7 (1.0) valid.
  assert.equal(x.ftw, 0x1556);
});

test("MMX read-only instructions also transition (TOP=0, no empty tags); EMMS empties all tags", () => {
  const m = mmxMachine();
  runCode(m, `fninit\nfld1\npextrw eax, mm3, 1\nhlt`, 64);
  assert.equal((m.cpu.x87.fsw >> 11) & 7, 0);
  assert.equal(m.cpu.x87.ftw, 0x1555); // host: R7 = 1.0 valid, others +0
  runCode(m, `emms\nhlt`, 64);
  assert.equal(m.cpu.x87.ftw, 0xffff);
  assert.equal((m.cpu.x87.fsw >> 11) & 7, 0);
});

test("FNSTENV / FXSAVE after MMX: full tags from contents, abridged tag FFH (host CPU)", () => {
  const m = mmxMachine();
  const src = `fninit
fld1
fld1
fld1
mov rax, 0x1234
movq mm0, rax
paddb mm1, mm1
fnstenv [${DATA}]
fxsave [${DATA + 0x100}]
emms
hlt`;
  for (let p = 0; p < 8; p++) m.cpu.x87.regs[p].set(0, 0, 0, 0);
  assert.equal(runCode(m, src, 64), "halt");
  assert.equal(m.mem.read32(DATA + 8) & 0xffff, 0x015a);
  assert.equal(m.mem.read8(DATA + 0x100 + 4), 0xff);
  assert.equal(m.mem.read32(DATA + 4) & 0x3800, 0);
  assert.equal(m.cpu.x87.ftw, 0xffff);
});

test("CVTPI2PS/CVTPI2PD with a memory source leave the x87 state alone (host CPU)", () => {
  for (const ins of ["cvtpi2ps", "cvtpi2pd"]) {
    const m = mmxMachine();
    runCode(m, `fninit\nfld1\n${ins} xmm0, [${DATA}]\nhlt`, 64);
    assert.equal((m.cpu.x87.fsw >> 11) & 7, 7, ins);
    assert.equal(m.cpu.x87.ftw, 0x3fff, ins);
    runCode(m, `${ins} xmm0, mm2\nemms\nhlt`, 64);
    assert.equal((m.cpu.x87.fsw >> 11) & 7, 0, ins);
  }
});

test("#UD with CR0.EM=1, #NM with CR0.TS=1; OSFXSR gates only the XMM-operand forms (SDM Vol.3 Table 22-5..22-8)", () => {
  const cases: [string, number, number, number][] = [
    // [instruction, CR0 bits to set, CR4 bits to clear, expected vector (-1 none)]
    ["paddb mm0, mm1", 4, 0, 6],
    ["paddb mm0, mm1", 8, 0, 7],
    ["paddb mm0, mm1", 0, 0x200, -1],
    ["emms", 4, 0, 6],
    ["emms", 8, 0, 7],
    ["pshufb mm0, mm1", 8, 0, 7],
    ["pavgb mm0, mm1", 0, 0x200, -1],
    ["movq2dq xmm0, mm1", 0, 0x200, 6],
    ["cvtpi2ps xmm0, mm1", 0, 0x200, 6],
    ["cvtps2pi mm0, xmm1", 8, 0, 7],
  ];
  for (const [src, cr0, cr4, vec] of cases) {
    const m = mmxMachine();
    m.cpu.cr0 |= cr0;
    m.cpu.cr4 &= ~cr4;
    const f = runForFault(m, src, 64);
    assert.equal(f === null ? -1 : f.vector, vec, `${src} cr0|=${cr0} cr4&=~${cr4}`);
    if (f) assert.equal(f.rip, LAYOUT.code);
  }
});

test("pending unmasked x87 exception: #MF before an MMX instruction with CR0.NE=1, state unchanged", () => {
  const m = mmxMachine();
  m.cpu.cr0 |= 0x20; // NE
  // Unmask ZE, divide by zero: FSW.ES set, no fault yet (the next waiting x87 op would #MF).
  const src = `fninit
mov word ptr [${DATA}], 0x037b
fldcw [${DATA}]
fld1
fldz
fdivp st(1), st
paddb mm0, mm1`;
  const f = runForFault(m, src, 64);
  assert.equal(f?.vector, 16);
  assert.notEqual((m.cpu.x87.fsw >> 11) & 7, 0, "no MMX transition");
  for (const s of ["emms", "movq2dq xmm0, mm1"]) {
    const f2 = runForFault(m, `${s}`, 64);
    assert.equal(f2?.vector, 16, s);
  }
});

test("a faulting memory operand leaves the x87 state unchanged", () => {
  const m = mmxMachine();
  const f = runForFault(m, `fninit\nfld1\nmov rax, 0x0000800000000000\nmovq mm0, [rax]`, 64);
  assert.equal(f?.vector, 13);
  assert.equal((m.cpu.x87.fsw >> 11) & 7, 7);
  assert.equal(m.cpu.x87.ftw, 0x3fff);
});

test("shift groups 0F 71/72/73: /3 and /7 (byte shifts) and memory forms are #UD without 66", () => {
  for (const bytes of [
    "0x0f,0x73,0xd8,0x01",
    "0x0f,0x73,0xf8,0x01",
    "0x0f,0x73,0xe0,0x01",
    "0x0f,0x71,0x00,0x01",
  ]) {
    const m = mmxMachine();
    const f = runForFault(m, `mov rax, ${DATA}\n.byte ${bytes}`, 64);
    assert.equal(f?.vector, 6, bytes);
  }
  const m = mmxMachine();
  assert.equal(runForFault(m, `.byte 0x0f,0x73,0xd0,0x01`, 64), null); // psrlq mm0, 1
});

test("MMX registers are independent of XMM registers; REX.R/B do not select MM8-15", () => {
  const m = mmxMachine();
  // rex.rb paddq mm0, mm1 (4D 0F D4 C1): must operate on mm0/mm1.
  const src = `mov rax, 5\nmovq mm0, rax\nmov rax, 7\nmovq mm1, rax\n.byte 0x4d,0x0f,0xd4,0xc1\nmovq rbx, mm0\nemms`;
  assert.equal(runCode(m, src, 64), "halt");
  assert.equal(m.cpu.lo[3], 12);
  assert.deepEqual(Array.from(m.cpu.sse.xmm.subarray(0, 4)), [0, 0, 0, 0]);
});

test("CPUID.01H:EDX.MMX[bit 23] is set", () => {
  const m = mmxMachine();
  assert.equal((cpuidNative(m.cpu, 1, 0).edx >>> 23) & 1, 1);
});
