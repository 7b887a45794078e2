/**
 * Block compiler (src/cpu/jit) tests: random 64-bit loops built from the instruction forms the
 * compiler emits inline (ALU, shifts, MOV/LEA/MOVZX/MOVSX, loads and stores, Jcc/SETcc/CMOVcc
 * after every kind of flag-setting instruction) mixed with forms that go through handlers
 * (PUSHF/POP, SSE instructions with general-register operands) and the SSE/SSE2 forms compiled
 * inline (jit/sse.ts: moves, logic, double arithmetic, COMISD, conversions, on boundary doubles
 * and under MXCSR settings that force the handlers), run once interpreted only and once with blocks compiled
 * after 1 or 3 executions (IMUL goes through jit/runtime.ts helpers when compiled). Registers, RFLAGS, RIP, the retired-instruction count after every
 * slice of a run split into odd-sized budgets, memory, and exceptions (a loop that walks off
 * mapped memory faults mid-block) must be identical. The loops' internal branches make
 * multi-block regions (jit/compile.ts findRegion); faults and self-modifying code are also
 * checked in blocks of a region other than its entry.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../helpers/asm.js";
import { LAYOUT, createMachine, enterLong64, type TestMachine } from "../helpers/machine.js";
import { compiledBlocks, compiledRegions } from "../../src/cpu/jit/compile.js";
import { imul32, imul64 } from "../../src/cpu/jit/runtime.js";
import { Rng } from "../helpers/rng.js";

const R64 = ["rax", "rbx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r12", "r13", "r14", "r15"];
const R32: Record<string, string> = {
  rax: "eax",
  rbx: "ebx",
  rdx: "edx",
  rsi: "esi",
  rdi: "edi",
  r8: "r8d",
  r9: "r9d",
  r10: "r10d",
  r12: "r12d",
  r13: "r13d",
  r14: "r14d",
  r15: "r15d",
};
const R16: Record<string, string> = {
  rax: "ax",
  rbx: "bx",
  rdx: "dx",
  rsi: "si",
  rdi: "di",
  r8: "r8w",
  r9: "r9w",
  r10: "r10w",
  r12: "r12w",
  r13: "r13w",
  r14: "r14w",
  r15: "r15w",
};
const R8: Record<string, string> = {
  rax: "al",
  rbx: "bl",
  rdx: "dl",
  rsi: "sil",
  rdi: "dil",
  r8: "r8b",
  r9: "r9b",
  r10: "r10b",
  r12: "r12b",
  r13: "r13b",
  r14: "r14b",
  r15: "r15b",
};
const CC = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];
const ALU = ["add", "sub", "and", "or", "xor", "cmp", "adc", "sbb", "test"];
const BUF = 0x200000;

/** One random instruction (or short sequence) of the loop body. */
function randomInstr(r: Rng, label: () => string): string {
  const a = r.pick(R64);
  const b = r.pick(R64);
  const w = r.int(2) === 0; // 64-bit vs 32-bit
  const ra = w ? a : R32[a];
  const rb = w ? b : R32[b];
  const imm = r.pick([0, 1, -1, 2, 0x7f, -0x80, 0x80, 0x7fffffff, -0x80000000, 0x12345678, r.next() | 0]);
  switch (r.int(24)) {
    case 0:
    case 1:
      return `${r.pick(ALU)} ${ra}, ${rb}`;
    case 2:
      return `${r.pick(ALU.slice(0, 8))} ${ra}, ${imm}`;
    case 3: {
      const set = r.pick(ALU);
      return `${set} ${ra}, ${rb}\nset${r.pick(CC)} ${R8[r.pick(R64)]}`;
    }
    case 4:
      return `${r.pick(ALU)} ${ra}, ${rb}\ncmov${r.pick(CC)} ${w ? r.pick(R64) : R32[r.pick(R64)]}, ${rb}`;
    case 5: {
      const l = label();
      const pre = r.pick([
        `cmp ${ra}, ${rb}`,
        `sub ${ra}, ${rb}`,
        `add ${ra}, ${rb}`,
        `test ${ra}, ${rb}`,
        `neg ${ra}`,
        `inc ${ra}`,
        `shr ${ra}, 3`,
        `xor ${ra}, ${imm}`,
      ]);
      return `${pre}\nj${r.pick(CC)} ${l}\nadd ${R32[r.pick(R64)]}, 0x1234567\n${l}:`;
    }
    case 6:
      return `${r.pick(["shl", "shr", "sar", "sal"])} ${ra}, ${w ? r.int(64) : r.int(32)}`;
    case 7:
      return `${r.pick(["shl", "shr", "sar", "sal", "rol", "ror"])} ${ra}, ${r.pick(["1", "cl", "cl", String(r.int(w ? 64 : 32))])}`;
    case 8:
      return `${r.pick(["neg", "not", "inc", "dec"])} ${ra}`;
    case 9:
      return `lea ${ra}, [${a} + ${b}*${r.pick([1, 2, 4, 8])} + ${imm}]`;
    case 10:
      return r.pick([
        `mov ${ra}, ${rb}`,
        `mov ${R32[a]}, ${imm}`,
        `mov ${a}, ${imm}`,
        `movabs ${a}, ${r.next() * 4294967296 + r.next()}`,
        `movzx ${R32[a]}, ${R8[b]}`,
        `movzx ${a}, ${R16[b]}`,
        `movsx ${ra}, ${R8[b]}`,
        `movsx ${ra}, ${R16[b]}`,
        `movsxd ${a}, ${R32[b]}`,
        r.pick(["cdqe", "cwde", "cdq", "cqo"]),
      ]);
    case 11:
    case 12: {
      // Memory through a bounded index (r11 = low byte of a register).
      const d = r.int(64);
      const m = r.pick([
        `mov dword ptr [rbp + r11*4 + ${d}], ${R32[b]}`,
        `mov qword ptr [rbp + r11*8 + ${d}], ${b}`,
        `mov ${R32[b]}, dword ptr [rbp + r11*4 + ${d}]`,
        `mov ${b}, qword ptr [rbp + r11*8 + ${d}]`,
        `add ${rb}, ${w ? "qword" : "dword"} ptr [rbp + r11*4 + ${d}]`,
        `xor ${rb}, ${w ? "qword" : "dword"} ptr [rbp + r11*2 + ${d}]`,
        `cmp ${w ? "qword" : "dword"} ptr [rbp + r11*4 + ${d}], ${rb}`,
        `cmp byte ptr [rbp + r11 + ${d}], ${r.int(256)}`,
        `mov byte ptr [rbp + r11 + ${d}], ${r.int(256)}`,
        `mov byte ptr [rbp + r11 + ${d}], ${R8[b]}`,
        `mov qword ptr [rbp + r11*8 + ${d}], ${imm}`,
        `movzx ${R32[b]}, byte ptr [rbp + r11 + ${d}]`,
        `movsx ${b}, word ptr [rbp + r11*2 + ${d}]`,
        `movsxd ${b}, dword ptr [rbp + r11*4 + ${d}]`,
        `cmovb ${rb}, ${w ? "qword" : "dword"} ptr [rbp + r11*8 + ${d}]`,
        `test ${w ? "qword" : "dword"} ptr [rbp + r11*4 + ${d}], ${rb}`,
        `imul ${rb}, ${w ? "qword" : "dword"} ptr [rbp + r11*8 + ${d}]`,
      ]);
      return `movzx r11d, ${R8[a]}\n${m}`;
    }
    case 13:
      return `imul ${ra}, ${rb}`;
    case 14:
      return `${r.pick(ALU)} ${ra}, ${rb}\npushfq\npop ${r.pick(R64)}`;
    case 15:
      return `${r.pick(["add", "sub", "cmp", "and"])} ${w ? "rax" : "eax"}, ${imm}`;
    case 16:
      return `test ${ra}, ${imm}`;
    case 17:
      return `cmp ${R8[a]}, ${R8[b]}\nset${r.pick(CC)} ${R8[r.pick(R64)]}`;
    case 18:
      return `${r.pick(["adc", "sbb"])} ${ra}, ${rb}\n${r.pick(["adc", "sbb"])} ${rb}, ${imm}`;
    case 19:
      // SSE handlers with general-register operands (only those are written back/reloaded).
      return r.pick([
        `movd xmm0, ${R32[a]}\nmovq ${b}, xmm0`,
        `movq xmm1, ${a}\npextrw ${R32[b]}, xmm1, ${r.int(4)}`,
        `cvtsi2sd xmm2, ${ra}\ncvttsd2si ${rb}, xmm2`,
        `cvtsi2sd xmm3, ${ra}\ncomisd xmm3, xmm2\nset${r.pick(CC)} ${R8[b]}`,
        `movzx r11d, ${R8[a]}\naddsd xmm2, qword ptr [rbp + r11*8 + ${r.int(64)}]\ncvttsd2si ${R32[b]}, xmm2`,
        `${r.pick(ALU)} ${ra}, ${rb}\nmovd xmm4, ${R32[b]}\npaddd xmm4, xmm4\nmovd ${R32[a]}, xmm4`,
      ]);
    case 20:
    case 21:
    case 22:
      return randomSse(r, label);
    default:
      return `nop dword ptr [rax + rax*1 + 0]`;
  }
}

/**
 * SSE/SSE2 forms the compiler emits inline (jit/sse.ts), on XMM registers holding boundary
 * doubles (zeros, denormals, infinities, NaNs, huge and tiny values; run() sets them up) and
 * on the random buffer, with aligned and unaligned 16-byte operands (#GP from the aligned
 * forms), under MXCSR settings that make the inline arithmetic bail out (run()).
 */
function randomSse(r: Rng, label: () => string): string {
  const x = (): string => `xmm${r.int(8)}`;
  const a = r.pick(R64);
  const idx = `movzx r11d, ${R8[r.pick(R64)]}\n`;
  const idx16 = `movzx r11d, ${R8[r.pick(R64)]}\nand r11d, 0xfe\n`;
  const m8 = `qword ptr [rbp + r11*8 + ${r.int(64)}]`;
  // 16-byte operands: aligned (buffer offset multiple of 16) or, rarely, not.
  const m16 = `xmmword ptr [rbp + r11*8 + ${r.int(8) === 0 ? 8 : 16 * r.int(4)}]`;
  const arith = r.pick(["add", "sub", "mul", "div", "sqrt"]);
  switch (r.int(14)) {
    case 0:
      return `${arith}sd ${x()}, ${x()}`;
    case 1:
      return `${idx}${arith}sd ${x()}, ${m8}`;
    case 2:
      return `${arith}pd ${x()}, ${x()}`;
    case 3:
      return `${idx16}${arith}pd ${x()}, ${m16}`;
    case 4:
      return r.pick([
        `movapd ${x()}, ${x()}`,
        `movaps ${x()}, ${x()}`,
        `movsd ${x()}, ${x()}`,
        `movss ${x()}, ${x()}`,
        `movq ${x()}, ${x()}`,
        `unpcklpd ${x()}, ${x()}`,
        `unpckhpd ${x()}, ${x()}`,
      ]);
    case 5:
      return r.pick([
        `${idx}movsd ${x()}, ${m8}`,
        `${idx}movq ${x()}, ${m8}`,
        `${idx}movss ${x()}, ${m8.replace("qword", "dword")}`,
      ]);
    case 6:
      return `${idx}${r.pick(["movsd", "movq"])} ${m8}, ${x()}\n${idx}movss ${m8.replace("qword", "dword")}, ${x()}`;
    case 7:
      return `${idx16}${r.pick(["movapd", "movaps", "movupd", "movups", "movdqa", "movdqu"])} ${r.int(2) === 0 ? `${x()}, ${m16}` : `${m16}, ${x()}`}`;
    case 8: {
      const op = r.pick(["pxor", "xorpd", "xorps", "andpd", "andnpd", "orpd", "pand", "por", "pandn"]);
      if (r.int(3) === 0) return `${idx16}${op} ${x()}, ${m16}`;
      const d = x();
      return `${op} ${d}, ${r.int(3) === 0 ? d : x()}`;
    }
    case 9: {
      const l = label();
      return `${r.pick(["comisd", "ucomisd"])} ${x()}, ${x()}\nj${r.pick(CC)} ${l}\nadd ${R32[r.pick(R64)]}, 0x1234567\n${l}:`;
    }
    case 10:
      return `${idx}${r.pick(["comisd", "ucomisd"])} ${x()}, ${m8}\nset${r.pick(CC)} ${R8[a]}\n${r.pick(["adc", "sbb"])} ${R32[a]}, 3`;
    case 11:
      return r.pick([
        `cvtsi2sd ${x()}, ${R32[a]}`,
        `cvtsi2sd ${x()}, ${a}`,
        `${idx}cvtsi2sd ${x()}, ${m8.replace("qword", "dword")}`,
        `${idx}cvtsi2sd ${x()}, ${m8}`,
      ]);
    case 12:
      return r.pick([`cvttsd2si ${R32[a]}, ${x()}`, `cvttsd2si ${a}, ${x()}`, `${idx}cvttsd2si ${a}, ${m8}`]);
    default:
      return r.pick([
        `movq ${a}, ${x()}`,
        `movd ${R32[a]}, ${x()}`,
        `movq ${x()}, ${a}`,
        `movd ${x()}, ${R32[a]}`,
      ]);
  }
}

/** A random program: a counted loop (rcx) over a body with internal branches. */
function randomProgram(seed: number): string {
  const r = new Rng(seed);
  let nl = 0;
  const label = (): string => `L${nl++}`;
  const body: string[] = [];
  const n = 3 + r.int(12);
  for (let k = 0; k < n; k++) body.push(randomInstr(r, label));
  return `mov ecx, ${5 + r.int(40)}\nloop_top:\n${body.join("\n")}\ndec ecx\njnz loop_top\n`;
}

interface Snapshot {
  lo: number[];
  hi: number[];
  eflags: number;
  rip: number;
  slices: string[];
  buf: string;
  stack: string;
  events: number[];
  xmm: number[];
  mxcsr: number;
}

/** Boundary doubles for the XMM registers. */
const DOUBLES = [
  0,
  -0,
  1,
  -1,
  1.5,
  0.1,
  3,
  2.5,
  -2.5,
  1e-300,
  1e-250,
  1e-100,
  2.2250738585072014e-308,
  4.9e-324,
  1e-310,
  1e250,
  1e295,
  1.7976931348623157e308,
  Infinity,
  -Infinity,
  NaN,
  2147483647.9,
  -2147483648.5,
  3e9,
  -3e18,
  1e17,
  123456.75,
];

const STUBS = 0x3000;

/** A 64-bit machine with an IDT whose stubs report the vector on port 0xE9 and halt. */
function machine(events: number[], ramMiB = 4): TestMachine {
  const m = createMachine(ramMiB);
  m.hooks.ioWrite = (port, _size, value) => {
    if (port === 0xe9) events.push(value & 0xff);
  };
  enterLong64(m);
  const { cpu, mem } = m;
  cpu.idtrBase = LAYOUT.idt;
  cpu.idtrLimit = 256 * 16 - 1;
  for (let v = 0; v < 256; v++) {
    const stub = STUBS + v * 8;
    mem.load(stub, Uint8Array.of(0xb0, v, 0xe6, 0xe9, 0xf4, 0xeb, 0xfd, 0x90));
    const a = LAYOUT.idt + v * 16;
    mem.write32(a, ((0x08 << 16) | (stub & 0xffff)) >>> 0);
    mem.write32(a + 4, ((stub & 0xffff0000) | 0x8e00) >>> 0);
    mem.write32(a + 8, 0);
    mem.write32(a + 12, 0);
  }
  return m;
}

function hash(u8: Uint8Array, start: number, len: number): string {
  let h = 0x811c9dc5;
  for (let n = start; n < start + len; n++) h = Math.imul(h ^ u8[n], 0x01000193);
  return (h >>> 0).toString(16);
}

/** Run `code` with the given JIT threshold; registers start from `seed`. */
function run(code: Uint8Array, seed: number, threshold: number, slices: number[]): Snapshot {
  const events: number[] = [];
  const m = machine(events);
  const { cpu, mem } = m;
  cpu.jitThreshold = threshold;
  cpu.cr4 |= 0x600; // OSFXSR | OSXMMEXCPT: SSE instructions execute
  const r = new Rng(seed ^ 0x9e3779b9);
  // Values from a small pool make equal operands and boundary cases common.
  const pool = [0, 1, -1, 2, 0x7f, 0x80, 0x7fffffff, -0x80000000, 0x12345678];
  for (let n = 0; n < 16; n++) {
    cpu.lo[n] = r.int(3) === 0 ? r.next() : r.pick(pool);
    cpu.hi[n] = r.int(4) === 0 ? r.next() : r.pick([0, -1, 1, 0x7fffffff, -0x80000000]);
  }
  cpu.lo[4] = LAYOUT.stackTop;
  cpu.hi[4] = 0;
  cpu.lo[5] = BUF;
  cpu.hi[5] = 0;
  for (let n = 0; n < 4096; n++) mem.u8[BUF + n] = r.int(256);
  cpu.setEflags(2 | (r.next() & 0x8d5));
  const f64 = new Float64Array(2);
  const i32 = new Int32Array(f64.buffer);
  for (let n = 0; n < 32; n++) {
    if (r.int(8) === 0) {
      cpu.sse.xmm[2 * n] = r.next();
      cpu.sse.xmm[2 * n + 1] = r.next();
    } else {
      f64[0] = r.pick(DOUBLES) * (r.int(4) === 0 ? r.next() / 65536 : 1);
      cpu.sse.xmm[2 * n] = i32[0];
      cpu.sse.xmm[2 * n + 1] = i32[1];
    }
  }
  // Mostly the default MXCSR; sometimes another rounding mode, PE unmasked, DAZ/FTZ, or all
  // exceptions unmasked (#XM), which the inline arithmetic leaves to the handlers.
  cpu.sse.mxcsr = r.pick([0x1f80, 0x1f80, 0x1f80, 0x1f80, 0x3f80, 0x5f80, 0x0f80, 0x9fc0, 0x1f00, 0x0000]);
  mem.load(LAYOUT.code, code);
  cpu.rip = LAYOUT.code;
  const out: string[] = [];
  for (const s of slices) {
    const stop = cpu.run(s);
    out.push(`${stop}@${cpu.icount}:${cpu.rip.toString(16)}`);
    if (stop !== "limit") break;
  }
  return {
    lo: [...cpu.lo],
    hi: [...cpu.hi],
    eflags: cpu.getEflags(),
    rip: cpu.rip,
    slices: out,
    buf: hash(mem.u8, BUF, 8192),
    stack: hash(mem.u8, LAYOUT.stackTop - 4096, 4096),
    events,
    xmm: [...cpu.sse.xmm],
    mxcsr: cpu.sse.mxcsr,
  };
}

test("compiled blocks match the interpreter on random loops", () => {
  const before = compiledBlocks;
  const regionsBefore = compiledRegions;
  let sseRan = 0;
  for (let p = 0; p < 80; p++) {
    const seed = (0x1234567 + p * 0x9e3779b1) >>> 0;
    const src = randomProgram(seed);
    const code = assemble(src + "\nhlt\n", 64, LAYOUT.code);
    const slices = [7, 13, 100, 333, 1000, 100_000];
    const ref = run(code, seed, Infinity, slices);
    if (src.includes("xmm") && ref.events.length === 0) sseRan++;
    for (const th of [1, 3]) {
      const got = run(code, seed, th, slices);
      assert.deepEqual(got, ref, `program ${p} (threshold ${th}):\n${src}`);
    }
  }
  assert.ok(sseRan > 0, "loops with SSE instructions ran without exceptions");
  assert.ok(compiledBlocks > before, "blocks were compiled");
  assert.ok(compiledRegions > regionsBefore, "loops of several blocks were compiled as regions");
});

test("a fault in the middle of a compiled loop is delivered as by the interpreter", () => {
  // rdi walks up by 64 MiB per iteration and leaves the 1 GiB identity map: #PF mid-block.
  for (const [n, src] of [
    "mov rdi, 0x200000\nmov ecx, 100\n1:\nadd rax, rdi\nmov rbx, qword ptr [rdi + 8]\nadd rdi, 0x4000000\ncmp rax, rbx\ndec ecx\njnz 1b\n",
    "mov rdi, 0x200000\nmov ecx, 100\n1:\nxor eax, ebx\nmov dword ptr [rdi*2 + 16], eax\nadd rdi, 0x2000000\nsub ecx, 1\njnz 1b\n",
    "mov rdi, 0x7fffffff0000\nmov ecx, 100\n1:\ninc rax\nmov rbx, qword ptr [rdi]\nadd rdi, 0x4000\nloop_end:\ndec ecx\njnz 1b\n",
    // A region of three blocks: the fault is in one that is not the entry.
    "mov rdi, 0x200000\nmov ecx, 100\n1:\ntest ecx, 1\njz 2f\nadd rax, 1\n2:\nmov rbx, qword ptr [rdi + 8]\nadd rdi, 0x4000000\ndec ecx\njnz 1b\n",
  ].entries()) {
    const code = assemble(src + "\nhlt\n", 64, LAYOUT.code);
    const slices = [5, 11, 1000, 100_000];
    const ref = run(code, n, Infinity, slices);
    assert.ok(ref.events.length > 0, `program ${n} faults`);
    for (const th of [1, 2]) assert.deepEqual(run(code, n, th, slices), ref, `program ${n} threshold ${th}`);
  }
});

test("self-modifying code inside a compiled loop is seen on the next iteration", () => {
  // The loop rewrites the immediate of its own `add eax, imm32` each iteration.
  const src =
    "mov ecx, 20\nlea rdi, [rip + patch + 1]\n1:\npatch:\nadd eax, 1\nadd dword ptr [rdi], 1\ndec ecx\njnz 1b\n";
  const code = assemble(src + "\nhlt\n", 64, LAYOUT.code);
  const ref = run(code, 7, Infinity, [1000]);
  for (const th of [1, 2]) assert.deepEqual(run(code, 7, th, [1000]), ref);
  // The same in a region: the patched instruction is in the blocks after the entry's branch.
  const src2 =
    "mov ecx, 20\nlea rdi, [rip + patch2 + 1]\n1:\ntest ecx, 1\njz 2f\nnop\n2:\npatch2:\nadd eax, 1\n" +
    "add dword ptr [rdi], 1\ndec ecx\njnz 1b\n";
  const code2 = assemble(src2 + "\nhlt\n", 64, LAYOUT.code);
  const ref2 = run(code2, 7, Infinity, [1000]);
  for (const th of [1, 2]) assert.deepEqual(run(code2, 7, th, [1000]), ref2);
});

test("the IMUL helpers agree with exact (BigInt) signed products", () => {
  const m = machine([]);
  const { cpu } = m;
  const r = new Rng(0xabcdef);
  const edge = [0, 1, -1, 2, 0x7fffffff, -0x80000000, 0x80000001, 0xffff, 0x10000];
  const val = (): number => (r.int(2) === 0 ? r.pick(edge) : r.next()) | 0;
  for (let n = 0; n < 20000; n++) {
    const [a, ah, b, bh] = [val(), val(), val(), val()];
    imul64(cpu, 3, a, ah, b, bh);
    const big = (l: number, h: number): bigint => (BigInt(h) << 32n) | BigInt(l >>> 0);
    const p = big(a, ah) * big(b, bh);
    const low = BigInt.asIntN(64, p);
    assert.equal(BigInt.asIntN(64, big(cpu.lo[3], cpu.hi[3])), low, `imul64 ${a} ${ah} ${b} ${bh}`);
    assert.equal(cpu.eflags & 0x801, low === p ? 0 : 0x801, `imul64 flags ${a} ${ah} ${b} ${bh}`);
    imul32(cpu, 5, a, b);
    const p32 = BigInt(a) * BigInt(b);
    assert.equal(cpu.lo[5], Number(BigInt.asIntN(32, p32)));
    assert.equal(cpu.eflags & 0x801, BigInt.asIntN(32, p32) === p32 ? 0 : 0x801, `imul32 ${a} ${b}`);
  }
});

test("flags left out of a transfer into a block that overwrites them are right on every way out", () => {
  // Block 1 ends with CMP + JL into block 2 or 3. Block 2 overwrites every status flag first
  // (XOR), so the jump into it needs no flag assignments; block 3 loads first (a possible
  // bail-out that must see block 1's flags), so the jump into it keeps them. INC/ADC/SHL in
  // the other variants write some flags or read CF, so the flags stay live there. Every
  // budget from 1 to 60 ends the run at a different instruction, including each transfer.
  const variants = [
    "xor eax, edx\nadd rax, 3",
    "inc eax\nadd rax, 3",
    "adc eax, 1\nadd rax, 3",
    "shl eax, 1\nadd rax, 3",
    "mov rbx, qword ptr [rbp + 8]\nxor eax, ebx",
  ];
  for (const [n, body] of variants.entries()) {
    const src =
      `mov ecx, 30\n1:\nmov edx, ecx\nand edx, 3\ncmp edx, 2\njl 2f\n${body}\njmp 3f\n2:\n` +
      `mov rbx, qword ptr [rbp + 16]\nsub eax, 7\n3:\ndec ecx\njnz 1b\n`;
    const code = assemble(src + "\nhlt\n", 64, LAYOUT.code);
    for (let budget = 1; budget <= 60; budget++) {
      const slices = [budget, budget, budget, 100_000];
      const ref = run(code, n, Infinity, slices);
      for (const th of [1, 2])
        assert.deepEqual(run(code, n, th, slices), ref, `variant ${n} budget ${budget} threshold ${th}`);
    }
  }
});

/**
 * Run `src` (64-bit, ends in HLT) on the test machine after `setup`, with the JIT threshold
 * given; returns what the guest did (exceptions, registers, RIP, count).
 */
function runSmall(src: string, threshold: number, setup: (m: TestMachine) => void, ramMiB = 4): string {
  const events: number[] = [];
  const m = machine(events, ramMiB);
  setup(m);
  m.cpu.jitThreshold = threshold;
  const code = assemble(src + "\nhlt\n", 64, LAYOUT.code);
  m.mem.load(LAYOUT.code, code);
  m.cpu.rip = LAYOUT.code;
  const stop = m.cpu.run(100_000);
  return JSON.stringify({
    stop,
    events,
    rip: m.cpu.rip,
    icount: m.cpu.icount,
    lo: [...m.cpu.lo],
    hi: [...m.cpu.hi],
  });
}

/**
 * Run `src` interpreted, let `check` assert on what it did, then require the same outcome
 * from compiled blocks (JIT threshold 1 and 2).
 */
function sameWhenCompiled(
  src: string,
  setup: (m: TestMachine) => void,
  check: (ref: { events: number[]; lo: number[] }) => void,
): void {
  const ref = runSmall(src, Infinity, setup);
  check(JSON.parse(ref) as { events: number[]; lo: number[] });
  for (const th of [1, 2]) assert.equal(runSmall(src, th, setup), ref, `threshold ${th}`);
}

test("compiled code checks each access in the access mode it runs in (SMAP: STAC/CLAC)", () => {
  // Only the 2 MiB page at BUF is a user page; CR4.SMAP is set. The loop reads it with
  // EFLAGS.AC=1 (allowed), so the fast tag beside its TLB entry is filled for that access
  // mode; the block after the loop reads it again with AC=0: #PF (vector 14) in both the
  // interpreter and the compiled block.
  const setup = (m: TestMachine): void => {
    for (let n = 0; n < 512; n++)
      m.mem.write32(LAYOUT.pml4 + 0x2000 + n * 8, ((n << 21) | 0x80 | (n === 1 ? 7 : 3)) >>> 0);
    m.cpu.cr4 |= 1 << 21;
    m.cpu.flushTlb(false);
    m.cpu.lo[5] = BUF;
  };
  const src =
    "mov ecx, 5\n1:\nstac\nmov rax, qword ptr [rbp]\nclac\ndec ecx\njnz 1b\nmov rbx, qword ptr [rbp + 8]\n";
  sameWhenCompiled(src, setup, (r) =>
    assert.deepEqual(r.events, [14], "the interpreter faults on the AC=0 read"),
  );
});

test("a store compiled while its page held no code sees the page get code", () => {
  // The loop stores into the immediate of `target`, which lies on the next page and is
  // first decoded (called) only after the first store: the store's page becomes a code page
  // then, and the later stores must still reach the decoded-code invalidation.
  const src =
    "lea rdi, [rip + target + 1]\nmov ecx, 6\n1:\nmov edx, dword ptr [rdi]\nadd edx, 1\nmov dword ptr [rdi], edx\n" +
    "call target\ndec ecx\njnz 1b\njmp 2f\n" +
    ".balign 4096\ntarget:\nmov eax, 100\nadd ebx, eax\nret\n2:\n";
  const setup = (m: TestMachine): void => {
    m.cpu.lo[3] = 0;
  };
  sameWhenCompiled(src, setup, (r) =>
    assert.equal(r.lo[3], 101 + 102 + 103 + 104 + 105 + 106, "the interpreter sees every store"),
  );
});

test("compiled base + index * scale addresses wrap modulo 2^64 as the interpreter's do", () => {
  // RBX * 4 = 2^64 (wraps to 0), RSI = -1 (a negative index), R8 * 8 + disp just below 2^47
  // (non-canonical: #GP), each inside a loop compiled after 1 or 2 passes.
  const src =
    "mov rbx, 0x4000000000000000\nmov rsi, -1\nmov ecx, 4\n1:\nmov rax, qword ptr [rbp + rbx*4 + 8]\n" +
    "add rdx, rax\nmov rax, qword ptr [rbp + rsi*8 + 64]\nadd rdx, rax\nmov dword ptr [rbp + rsi*4 + 32], ecx\n" +
    "dec ecx\njnz 1b\nmov r8, 0xfffffffffff\nmov rax, qword ptr [r8*8 + 0x7fff]\n";
  const setup = (m: TestMachine): void => {
    m.cpu.lo[5] = BUF + 0x100;
    for (let n = 0; n < 64; n++) m.mem.write32(BUF + n * 4, (n * 0x9e3779b1) >>> 0);
  };
  sameWhenCompiled(src, setup, (r) =>
    assert.deepEqual(r.events, [13], "the non-canonical access faults (#GP)"),
  );
});

test("compiled FS/GS-relative loads and stores add the segment base", () => {
  const src =
    "mov ecx, 8\nxor ebx, ebx\n1:\nmov rax, qword ptr fs:[rbx + 8]\nadd rdx, rax\nmov dword ptr gs:[rbx*4 + 16], ecx\n" +
    "mov eax, dword ptr gs:[rbx*4 + 16]\nadd rsi, rax\nadd ebx, 1\ndec ecx\njnz 1b\n";
  const setup = (m: TestMachine): void => {
    m.cpu.segBase[4] = BUF + 0x1000; // FS
    m.cpu.segBase[5] = BUF + 0x2000; // GS
    for (let n = 0; n < 64; n++) m.mem.write32(BUF + 0x1000 + n * 4, (n * 0x9e3779b1) >>> 0);
  };
  sameWhenCompiled(src, setup, (r) =>
    assert.equal(r.lo[6], 8 + 7 + 6 + 5 + 4 + 3 + 2 + 1, "the GS stores are read back"),
  );
});

test("compiled DIV r32/r64 gives the handler's quotients, remainders and #DE", () => {
  // 64-bit divisions by divisors below 2^32 (the compiled path) and at or above it (the
  // handler), 32-bit ones, then a division by zero (#DE, vector 0) after the loop.
  const src =
    "mov ecx, 300\n1:\nimul rax, r9\nadd rax, r10\nmov r8, rax\nshr r8, 33\nor r8, 1\nxor edx, edx\ndiv r8\n" +
    "add rsi, rax\nadd rdi, rdx\nmov r11, rax\nor r11, r12\nmov rdx, rsi\nshr rdx, 50\ndiv r11\nadd rsi, rax\n" +
    "add rdi, rdx\nmov eax, esi\nxor edx, edx\nmov ebx, ecx\ndiv ebx\nadd rdi, rax\nadd rdi, rdx\nmov rax, rsi\n" +
    "dec ecx\njnz 1b\nxor ebx, ebx\ndiv rbx\n";
  const setup = (m: TestMachine): void => {
    m.cpu.lo[0] = 0x12345;
    m.cpu.lo[9] = 0x4c957f2d;
    m.cpu.hi[9] = 0x5851f42d;
    m.cpu.lo[10] = 0xf767814f | 0;
    m.cpu.hi[10] = 0x14057b7e;
    m.cpu.hi[12] = 0x100; // OR-ed into the second divisor: 2^40 and up
  };
  sameWhenCompiled(src, setup, (r) => assert.deepEqual(r.events, [0], "the division by zero raises #DE"));
});

test("compiled loads and stores reach RAM above 2 GiB physical", () => {
  // 2 GiB + 4 MiB of RAM; linear 4 MiB (PD entry 2) maps physical 2 GiB, where the compiled
  // accesses' physical address no longer fits an int32 (cpu.tlbPhys32 holds it negative).
  const ram = 2048 + 4;
  let last: TestMachine | null = null;
  const setup = (m: TestMachine): void => {
    m.mem.write32(LAYOUT.pml4 + 0x2000 + 2 * 8, (0x80000000 | 0x80 | 7) >>> 0);
    m.cpu.flushTlb(false);
    last = m;
  };
  const src =
    "mov rdi, 0x400000\nmov ecx, 100\n1:\nmov eax, ecx\nimul eax, eax\nmov dword ptr [rdi + rcx*4], eax\n" +
    "mov edx, dword ptr [rdi + rcx*4 + 4]\nadd rsi, rdx\ndec ecx\njnz 1b\n";
  const ref = runSmall(src, Infinity, setup, ram);
  let sum = 0;
  for (let n = 2; n <= 100; n++) sum += n * n;
  assert.equal(JSON.parse(ref).lo[6], sum, "each load reads the previous iteration's store");
  for (const th of [1, 2]) {
    assert.equal(runSmall(src, th, setup, ram), ref, `threshold ${th}`);
    assert.equal(last!.mem.read32(0x80000000 + 50 * 4), 2500, `threshold ${th}: the store is at 2 GiB + 200`);
  }
});
