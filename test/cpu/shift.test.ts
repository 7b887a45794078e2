/**
 * Shift/rotate tests (ROL ROR RCL RCR SHL SAL SHR SAR, SHLD/SHRD).
 *
 * Part 1: every vector in vectors/shift.json — results and RFLAGS recorded on real silicon by
 * gen/gen-int-vectors.c (the "cpu" field names the host). Flags the SDM leaves undefined are
 * masked (Vol.2 SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD, SHRD "Flags Affected").
 * Part 2: hand-derived cases for our documented choices of the undefined flags (Intel
 * behaviour), memory destinations, immediate/1 forms and 32-bit protected mode.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, enterLong64, enterProtected32, runCode } from "../helpers/machine.js";
import {
  Runner,
  loadVectors,
  checkVectors,
  STATUS,
  CF,
  PF,
  AF,
  ZF,
  SF,
  OF,
  type Vector,
  type Regs,
} from "./int-harness.js";

function width(insn: string): number {
  const dst = insn.split(" ")[1].replace(",", "");
  return dst === "al" ? 8 : dst === "ax" ? 16 : dst === "eax" ? 32 : 64;
}

/** Defined flags of a shift vector (SDM Vol.2 Flags Affected sections). */
function shiftMask(v: Vector): { flags: number } {
  const [mn] = v.insn.split(" ");
  const w = width(v.insn);
  const parts = v.insn.split(",").map((s) => s.trim());
  const countSrc = parts[parts.length - 1];
  const raw = countSrc === "cl" ? Number(v.in.rcx & BigInt(0xff)) : Number(countSrc);
  const c = raw & (w === 64 ? 63 : 31);
  if (c === 0) return { flags: STATUS };
  const ofDefined = c === 1 ? OF : 0;
  switch (mn) {
    case "rol":
    case "ror":
    case "rcl":
    case "rcr":
      return { flags: CF | PF | AF | ZF | SF | ofDefined };
    case "shld":
    case "shrd":
      return c > w ? { flags: 0 } : { flags: CF | PF | ZF | SF | ofDefined };
    case "shl":
    case "sal":
    case "shr":
      return { flags: (c < w ? CF : 0) | PF | ZF | SF | ofDefined };
    default:
      return { flags: CF | PF | ZF | SF | ofDefined };
  }
}

test("silicon shift vectors (gen/gen-int-vectors.c)", () => {
  const { vectors } = loadVectors("shift");
  const runner = new Runner();
  const regsCompare = (v: Vector): { flags: number; regs?: ("rax" | "rcx" | "rdx")[] } => {
    const m = shiftMask(v);
    // SHLD/SHRD with count > operand size: the result is undefined too.
    return m.flags === 0 ? { flags: 0, regs: ["rcx", "rdx"] } : m;
  };
  const fails = checkVectors(runner, vectors, regsCompare);
  assert.ok(vectors.length > 5000);
  assert.deepEqual(fails.slice(0, 20), []);
});

const runner = new Runner();
function run(insn: string, rax: bigint, rcx: bigint, flags: number, rdx = BigInt(0)): Regs {
  const r = runner.run(insn, { rax, rcx, rdx, rflags: 2 | flags });
  assert.notEqual(typeof r, "number");
  return r as Regs;
}
const B = (x: number | string): bigint => BigInt(x);

test("count 0 leaves flags and operand; 32-bit destination still zero-extends", () => {
  const r = run("shl eax, cl", B("0xffffffff80000001"), B(0x20), STATUS);
  assert.equal(r.rax, B(0x80000001)); // masked count 0, but the 32-bit write clears bits 63..32
  assert.equal(r.rflags & STATUS, STATUS);
  const r8 = run("rcl al, cl", B(0x1234), B(0), CF | OF);
  assert.equal(r8.rax, B(0x1234));
  assert.equal(r8.rflags & STATUS, CF | OF);
});

test("SHL/SAL: CF = last bit out, OF = MSB(result) XOR CF for every count (Intel)", () => {
  let r = run("shl eax, cl", B(0xc0000000), B(1), 0);
  assert.equal(r.rax, B(0x80000000));
  assert.equal(r.rflags & STATUS, CF | SF | PF); // OF = MSB 1 XOR CF 1 = 0; low byte 0 → PF
  r = run("shl eax, cl", B(0x60000000), B(2), 0);
  assert.equal(r.rax, B(0x80000000));
  // CF = bit 30 = 1, MSB = 0 → OF = 1 (count 2: undefined in the SDM, Intel formula)
  assert.equal(r.rflags & (CF | OF | AF), CF);
  r = run("sal rax, cl", B(1), B(63), 0);
  assert.equal(r.rax, B("0x8000000000000000"));
  assert.equal(r.rflags & (CF | OF | SF | ZF | AF), OF | SF);
  r = run("shl al, cl", B(0x81), B(8), 0); // count == width: CF = bit 0
  assert.equal(r.rax & B(0xff), B(0));
  assert.equal(r.rflags & (CF | ZF), CF | ZF);
});

test("SHR: OF = MSB of the original operand; SAR: OF = 0; AF = 0", () => {
  let r = run("shr eax, cl", B(0x80000002), B(2), AF);
  assert.equal(r.rax, B(0x20000000));
  assert.equal(r.rflags & (CF | OF | AF | SF), OF | CF);
  r = run("sar rax, cl", B("0x8000000000000000"), B(63), OF | AF);
  assert.equal(r.rax, B("0xffffffffffffffff"));
  assert.equal(r.rflags & (CF | OF | AF | SF), SF);
  r = run("sar ax, cl", B(0x8000), B(31), 0); // beyond the width: all sign bits, CF = sign
  assert.equal(r.rax & B(0xffff), B(0xffff));
  assert.equal(r.rflags & (CF | SF | PF), CF | SF | PF);
});

test("ROL/ROR OF for counts > 1 and RCL/RCR modulo 9/17", () => {
  let r = run("rol eax, cl", B(0x40000001), B(2), 0);
  assert.equal(r.rax, B(0x00000005));
  assert.equal(r.rflags & (CF | OF), CF | OF); // CF=1, MSB=0 → OF=1
  r = run("ror eax, cl", B(0x00000003), B(2), 0);
  assert.equal(r.rax, B(0xc0000000));
  assert.equal(r.rflags & (CF | OF), CF); // top bits 1,1 → OF=0
  r = run("ror rax, cl", B(2), B(2), 0);
  assert.equal(r.rax, B("0x8000000000000000"));
  assert.equal(r.rflags & (CF | OF), CF | OF);
  r = run("rcl al, cl", B(0x81), B(9), CF); // 9 mod 9 = 0: unchanged, CF kept, OF = MSB ^ CF = 0
  assert.equal(r.rax & B(0xff), B(0x81));
  assert.equal(r.rflags & (CF | OF), CF);
  r = run("rcr ax, cl", B(0x0001), B(17 + 1), 0); // 18 mod 17 = 1
  assert.equal(r.rax & B(0xffff), B(0));
  assert.equal(r.rflags & (CF | OF), CF);
  r = run("rcl rax, cl", B("0x8000000000000000"), B(63), CF); // 65-bit rotate by 63 = right by 2
  assert.equal(r.rax, B("0x6000000000000000"));
  assert.equal(r.rflags & CF, 0);
  r = run("rcr eax, cl", B(1), B(31), 0); // 33-bit rotate right by 31 = left by 2
  assert.equal(r.rax, B(4));
  assert.equal(r.rflags & CF, 0);
});

test("SHLD/SHRD: 16-bit counts above 16 shift the 48-bit dest:src:dest (documented choice)", () => {
  let r = run("shld ax, dx, cl", B(0x1234), B(20), 0, B(0xabcd));
  // dest:src:dest = 1234 abcd 1234, << 20, bits 47..32 → bcd1
  assert.equal(r.rax & B(0xffff), B(0xbcd1));
  r = run("shrd ax, dx, cl", B(0x1234), B(20), 0, B(0xabcd));
  // 1234 abcd 1234 >> 20 → low 16 bits = 0x4abc
  assert.equal(r.rax & B(0xffff), B(0x4abc));
  r = run("shld rax, rdx, cl", B("0x8000000000000001"), B(4), 0, B("0xf000000000000000"));
  assert.equal(r.rax, B(0x1f));
  assert.equal(r.rflags & (CF | OF | SF | ZF | AF), OF); // CF = bit 60 = 0; sign changed → OF
  r = run("shrd eax, edx, cl", B(0x10), B(5), CF, B(1));
  assert.equal(r.rax, B(0x08000000));
  assert.equal(r.rflags & (CF | OF), CF);
});

test("memory destinations (64-bit) and immediate / by-1 encodings", () => {
  const m = createMachine();
  enterLong64(m);
  m.mem.write32(0x8000, 0x80000001);
  m.mem.write32(0x8004, 0x1);
  runCode(
    m,
    "mov ecx, 4\nshl qword ptr [0x8000], cl\nrol dword ptr [0x8008], 1\nsar word ptr [0x8000], 3\nshrd qword ptr [0x8010], rcx, 4",
    64,
  );
  assert.equal(m.mem.read32(0x8000) >>> 0, 0x00000002);
  assert.equal(m.mem.read32(0x8004) >>> 0, 0x18);
  assert.equal(m.mem.read32(0x8014) >>> 0, 0x40000000);
  runCode(
    m,
    "mov byte ptr [0x8020], 0x81\nror byte ptr [0x8020], 1\nrcl word ptr [0x8022], 1\nsal dword ptr [0x8024], 31",
    64,
  );
  assert.equal(m.mem.read8(0x8020), 0xc0);
  assert.equal(m.mem.read8(0x8022), 1); // CF from the ROR carried in
});

test("32-bit protected mode: SHL by immediate, SHRD by CL, RCR through CF", () => {
  const m = createMachine();
  enterProtected32(m);
  runCode(
    m,
    "mov eax, 0x12345678\nshl eax, 4\nmov edx, 0xf\nmov cl, 8\nshrd eax, edx, cl\nstc\nmov bl, 1\nrcr bl, 1",
    32,
  );
  assert.equal(m.cpu.lo[0] >>> 0, 0x0f234567);
  assert.equal(m.cpu.lo[3] & 0xff, 0x80);
  assert.equal(m.cpu.getEflags() & CF, CF);
});
