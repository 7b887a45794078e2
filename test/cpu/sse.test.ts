/**
 * SSE architectural rules not covered by the silicon vectors: #UD/#NM availability (SDM Vol.3
 * Table 2-2), #XM vs #UD for unmasked SIMD exceptions with the destination unchanged (Vol.1
 * 11.5.2), 16-byte alignment #GP(0), LDMXCSR/FXRSTOR reserved-bit #GP, FXSAVE/FXRSTOR layout
 * (Vol.2 FXSAVE Tables 3-43/3-44), the XSAVE family header rules (Vol.1 13.7-13.12) and
 * directed rounding. Expected values come from the SDM text; the numeric ones (MXCSR flag
 * patterns, rounding results) were checked on the host CPU with the programs in gen/.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, enterLong64, LAYOUT, runCode, type TestMachine } from "../helpers/machine.js";
import { runForFault } from "../helpers/faults.js";
import { simdMachine } from "../helpers/simd-vectors.js";

const DATA = 0x200000;

/** A 64-bit machine with SSE enabled and fault handlers. */
const sseMachine = (): TestMachine => simdMachine(true);

const xmm = (m: TestMachine, r: number): number[] =>
  Array.from(m.cpu.sse.xmm.subarray(r * 4, r * 4 + 4), (v) => v >>> 0);

test("#UD with CR4.OSFXSR=0 or CR0.EM=1, #NM with CR0.TS=1 (SDM Vol.3 Table 2-2)", () => {
  for (const [cr0Set, cr4Clear, vec] of [
    [0, 0x200, 6],
    [4, 0, 6],
    [8, 0, 7],
    [0, 0, -1],
  ]) {
    for (const src of ["addps xmm0, xmm1", "pxor xmm0, xmm0", "pshufb xmm0, xmm1", "ldmxcsr [rsp-8]"]) {
      const m = sseMachine();
      m.cpu.cr0 |= cr0Set;
      m.cpu.cr4 &= ~cr4Clear;
      m.cpu.sse.mxcsr = 0x1f80;
      m.mem.write32(LAYOUT.stackTop - 8, 0x1f80);
      const f = runForFault(m, src, 64);
      assert.equal(f === null ? -1 : f.vector, vec, `${src} cr0|=${cr0Set} cr4&=~${cr4Clear}`);
      if (f) assert.equal(f.rip, LAYOUT.code);
    }
  }
});

test("MOVAPS/MOVDQA and packed arithmetic memory operands need 16-byte alignment; MOVUPS/scalar do not", () => {
  for (const [src, vec] of [
    ["movaps xmm0, [rbx]", 13],
    ["movdqa [rbx], xmm0", 13],
    ["addps xmm0, [rbx]", 13],
    ["paddb xmm0, [rbx]", 13],
    ["movups xmm0, [rbx]", -1],
    ["addss xmm0, [rbx]", -1],
    ["movdqu [rbx], xmm0", -1],
    ["lddqu xmm0, [rbx]", -1],
  ] as [string, number][]) {
    const m = sseMachine();
    const f = runForFault(m, `mov rbx, ${DATA + 4}\n${src}`, 64);
    assert.equal(f === null ? -1 : f.vector, vec, src);
    if (f) assert.equal(f.error, 0);
  }
});

test("unmasked SIMD exception: #XM with OSXMMEXCPT, #UD without; flags set, destination unchanged", () => {
  for (const [osxmm, vec] of [
    [true, 19],
    [false, 6],
  ] as [boolean, number][]) {
    const m = sseMachine();
    if (!osxmm) m.cpu.cr4 &= ~0x400;
    // 1.0 / 0.0 with ZM unmasked (MXCSR = 1F80H & ~0200H)
    const src = `mov eax, 0x1d80\nmov [rsp-8], eax\nldmxcsr [rsp-8]\nmov eax, 0x3f800000\nmovd xmm0, eax\npxor xmm1, xmm1\ndivss xmm0, xmm1`;
    const f = runForFault(m, src, 64);
    assert.equal(f?.vector, vec);
    assert.deepEqual(xmm(m, 0), [0x3f800000, 0, 0, 0]);
    assert.equal(m.cpu.sse.mxcsr, 0x1d84);
  }
  // Post-computation (precision) unmasked: PE set, no write.
  const m = sseMachine();
  const src = `mov eax, 0x0f80\nmov [rsp-8], eax\nldmxcsr [rsp-8]\nmov eax, 0x3f800000\nmovd xmm0, eax\nmov eax, 0x40400000\nmovd xmm1, eax\ndivss xmm0, xmm1`;
  assert.equal(runForFault(m, src, 64)?.vector, 19);
  assert.equal(xmm(m, 0)[0], 0x3f800000);
  assert.equal(m.cpu.sse.mxcsr, 0x0fa0);
});

test("LDMXCSR and FXRSTOR raise #GP(0) for reserved MXCSR bits; STMXCSR round-trips", () => {
  let m = sseMachine();
  let f = runForFault(m, "mov dword ptr [rsp-8], 0x10000\nldmxcsr [rsp-8]", 64);
  assert.equal(f?.vector, 13);
  assert.equal(m.cpu.sse.mxcsr, 0x1f80);
  m = sseMachine();
  f = runForFault(
    m,
    "mov dword ptr [rsp-8], 0xffff\nldmxcsr [rsp-8]\nstmxcsr [rsp-16]\nmov eax, [rsp-16]",
    64,
  );
  assert.equal(f, null);
  assert.equal(m.cpu.lo[0], 0xffff);
  m = sseMachine();
  f = runForFault(m, `mov rbx, ${DATA}\nfxsave [rbx]\nmov dword ptr [rbx+24], 0x20000\nfxrstor [rbx]`, 64);
  assert.equal(f?.vector, 13);
});

test("directed rounding and FTZ/DAZ (values checked on silicon)", () => {
  const m = sseMachine();
  // 1/3 in each rounding mode.
  const res: number[] = [];
  for (const rc of [0, 1, 2, 3]) {
    const mx = 0x1f80 | (rc << 13);
    runForFault(
      m,
      `mov dword ptr [rsp-8], ${mx}\nldmxcsr [rsp-8]\nmov eax, 0x3f800000\nmovd xmm0, eax\nmov eax, 0x40400000\nmovd xmm1, eax\ndivss xmm0, xmm1`,
      64,
    );
    res.push(xmm(m, 0)[0]);
    assert.equal(m.cpu.sse.mxcsr, mx | 0x20);
  }
  assert.deepEqual(res, [0x3eaaaaab, 0x3eaaaaaa, 0x3eaaaaab, 0x3eaaaaaa]);
  // 2^-1000 * 2^-60 is an exact denormal: no flags; with FTZ → +0, UE|PE.
  for (const [mx, lo, flags] of [
    [0x1f80, 0x00004000, 0],
    [0x9f80, 0, 0x30],
  ]) {
    runForFault(
      m,
      `mov dword ptr [rsp-8], ${mx}\nldmxcsr [rsp-8]\nmov rax, 0x0170000000000000\nmovq xmm0, rax\nmov rax, 0x3c30000000000000\nmovq xmm1, rax\nmulsd xmm0, xmm1`,
      64,
    );
    assert.deepEqual(xmm(m, 0).slice(0, 2), [lo, 0]);
    assert.equal(m.cpu.sse.mxcsr, mx | flags);
  }
});

test("NaN rules: first source NaN wins, SNaN quieted with IE, invalid → QNaN indefinite; MIN/MAX return source 2", () => {
  const m = sseMachine();
  runForFault(
    m,
    "mov eax, 0x7f800001\nmovd xmm0, eax\nmov eax, 0x7fc00002\nmovd xmm1, eax\naddss xmm0, xmm1\n" +
      "mov eax, 0x7f800000\nmovd xmm2, eax\nmov eax, 0xff800000\nmovd xmm3, eax\naddss xmm2, xmm3\n" +
      "mov eax, 0x7fc00005\nmovd xmm4, eax\nmov eax, 0x3f800000\nmovd xmm5, eax\nminss xmm5, xmm4\nmaxss xmm4, xmm5",
    64,
  );
  assert.equal(xmm(m, 0)[0], 0x7fc00001);
  assert.equal(xmm(m, 2)[0], 0xffc00000);
  assert.equal(xmm(m, 5)[0], 0x7fc00005); // min(1, QNaN) → second source (the NaN)
  assert.equal(xmm(m, 4)[0], 0x7fc00005); // max(QNaN, QNaN) → second source
  assert.equal(m.cpu.sse.mxcsr & 0x3f, 0x01);
});

test("FXSAVE/FXRSTOR: 64-bit layout, abridged tags, MXCSR_MASK, XMM8-15; misaligned → #GP(0)", () => {
  const m = sseMachine();
  const f = runForFault(
    m,
    `mov rbx, ${DATA}\nfninit\nfld1\nmov eax, 0x12345678\nmovd xmm15, eax\nmov dword ptr [rsp-8], 0x3f80\nldmxcsr [rsp-8]\n` +
      "fxsave64 [rbx]\nfninit\npxor xmm15, xmm15\nmov dword ptr [rsp-8], 0x1f80\nldmxcsr [rsp-8]\nfxrstor64 [rbx]",
    64,
  );
  assert.equal(f, null);
  const r32 = (o: number): number => m.mem.read32(DATA + o) >>> 0;
  assert.equal(r32(0) & 0xffff, 0x037f); // FCW
  assert.equal((r32(0) >>> 16) & 0x3800, 0x3800); // TOP = 7 after one push
  assert.equal(r32(4) & 0xff, 0x80); // abridged tag: R7 valid
  assert.equal(r32(24), 0x3f80);
  assert.equal(r32(28), 0xffff);
  assert.equal(r32(32 + 4), 0x80000000); // ST0 = 1.0 significand
  assert.equal(r32(32 + 8) & 0xffff, 0x3fff);
  assert.equal(r32(160 + 15 * 16), 0x12345678);
  assert.equal(xmm(m, 15)[0], 0x12345678);
  assert.equal(m.cpu.sse.mxcsr, 0x3f80);
  assert.equal(m.cpu.x87.ftw, 0x3fff); // R7 valid (00), others empty
  const m2 = sseMachine();
  assert.equal(runForFault(m2, `mov rbx, ${DATA + 8}\nfxsave [rbx]`, 64)?.vector, 13);
  const m3 = sseMachine();
  m3.cpu.cr0 |= 8;
  assert.equal(runForFault(m3, `mov rbx, ${DATA}\nfxsave [rbx]`, 64)?.vector, 7);
});

test("XSAVE/XRSTOR/XSAVEC/XSAVES: header rules, init optimisation, #UD without CR4.OSXSAVE, #GP on misalignment", () => {
  const base = (m: TestMachine): void => {
    m.cpu.cr4 |= 1 << 18;
    m.cpu.xcr0 = 3;
  };
  let m = sseMachine();
  base(m);
  let f = runForFault(
    m,
    `mov rbx, ${DATA}\nfninit\nmov eax, 0xaabbccdd\nmovd xmm3, eax\nmov eax, 3\nxor edx, edx\nxsave [rbx]\npxor xmm3, xmm3\nmov eax, 3\nxrstor [rbx]`,
    64,
  );
  assert.equal(f, null);
  assert.equal(xmm(m, 3)[0], 0xaabbccdd);
  assert.equal(m.mem.read32(DATA + 512) & 3, 2); // XSTATE_BV: x87 in init state, SSE in use
  assert.equal(m.mem.read32(DATA + 160 + 48), 0xaabbccdd);

  // XSAVEC: compacted header.
  m = sseMachine();
  base(m);
  f = runForFault(
    m,
    `mov rbx, ${DATA}\nfninit\nmov eax, -1\nmov edx, -1\nmov ecx, 1\nmovd xmm0, ecx\nxsavec [rbx]`,
    64,
  );
  assert.equal(f, null);
  assert.equal(m.mem.read32(DATA + 512), 2);
  assert.equal(m.mem.read32(DATA + 520), 3);
  assert.equal(m.mem.read32(DATA + 524) >>> 0, 0x80000000);

  // XRSTOR with XSTATE_BV bit outside XCR0, or nonzero reserved header bytes → #GP(0).
  for (const patch of [
    "mov dword ptr [rbx+512], 4",
    "mov dword ptr [rbx+540], 1",
    "mov dword ptr [rbx+520], 1",
  ]) {
    m = sseMachine();
    base(m);
    f = runForFault(m, `mov rbx, ${DATA}\nmov eax, 3\nxor edx, edx\nxsave [rbx]\n${patch}\nxrstor [rbx]`, 64);
    assert.equal(f?.vector, 13, patch);
  }
  // XRSTOR with XSTATE_BV[1]=0 initialises the XMM registers.
  m = sseMachine();
  base(m);
  f = runForFault(
    m,
    `mov rbx, ${DATA}\nmov eax, 3\nxor edx, edx\nxsave [rbx]\nmov dword ptr [rbx+512], 0\nmov ecx, 7\nmovd xmm9, ecx\nxrstor [rbx]`,
    64,
  );
  assert.equal(f, null);
  assert.deepEqual(xmm(m, 9), [0, 0, 0, 0]);
  // Misaligned → #GP; CR4.OSXSAVE=0 → #UD; XSAVES at CPL 0 is fine, XRSTORS of a standard-format area → #GP.
  m = sseMachine();
  base(m);
  assert.equal(runForFault(m, `mov rbx, ${DATA + 16}\nxsave [rbx]`, 64)?.vector, 13);
  m = sseMachine();
  assert.equal(runForFault(m, `mov rbx, ${DATA}\nxsave [rbx]`, 64)?.vector, 6);
  m = sseMachine();
  base(m);
  assert.equal(
    runForFault(m, `mov rbx, ${DATA}\nmov eax, 3\nxor edx, edx\nxsaves [rbx]\nxrstors [rbx]`, 64),
    null,
  );
  m = sseMachine();
  base(m);
  assert.equal(
    runForFault(m, `mov rbx, ${DATA}\nmov eax, 3\nxor edx, edx\nxsave [rbx]\nxrstors [rbx]`, 64)?.vector,
    13,
  );
});

test("fences, CLFLUSH, PREFETCH, MOVNTI and MASKMOVDQU execute as plain operations", () => {
  const m = sseMachine();
  const f = runForFault(
    m,
    `mov rbx, ${DATA}\nlfence\nmfence\nsfence\nclflush [rbx]\nprefetcht0 [rbx]\nmov rax, 0x1122334455667788\nmovnti [rbx], rax\n` +
      `mov rdi, ${DATA + 16}\nmov eax, 0x80ff0080\nmovd xmm1, eax\nmov eax, 0x44332211\nmovd xmm0, eax\nmaskmovdqu xmm0, xmm1`,
    64,
  );
  assert.equal(f, null);
  assert.equal(m.mem.read32(DATA) >>> 0, 0x55667788);
  assert.equal(m.mem.read32(DATA + 16) >>> 0, 0x44330011);
});

test("scalar SSE in 32-bit protected mode (XMM0-7, CVTSI2SD with a 32-bit source)", () => {
  const m = createMachine();
  enterLong64(m);
  m.cpu.cr4 |= 0x600;
  m.cpu.cr0 &= ~4;
  const r = runCode(m, "mov eax, -7\ncvtsi2sd xmm7, eax\ncvttsd2si ebx, xmm7", 64);
  assert.equal(r, "halt");
  assert.equal(m.cpu.lo[3], -7);
  assert.deepEqual(xmm(m, 7).slice(0, 2), [0, 0xc01c0000]);
});
