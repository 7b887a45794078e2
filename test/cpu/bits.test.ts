/**
 * Bit-instruction tests: BT/BTS/BTR/BTC (register and immediate offsets, register and memory
 * bit strings), BSF/BSR, TZCNT/LZCNT, POPCNT and BSWAP.
 *
 * Part 1: every vector in vectors/bits.json — results and RFLAGS recorded on real silicon by
 * gen/gen-int-vectors.c. Undefined flags (SDM Vol.2 "Flags Affected") are masked.
 * Part 2: hand-derived cases: bit strings in memory with positive/negative offsets, LOCK,
 * #UD for POPCNT without F3, our documented choices for undefined results.
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

const B = (x: number | string): bigint => BigInt(x);

/** Defined flags (and compared registers) per instruction. */
function bitsCompare(v: Vector): { flags: number; regs?: ("rax" | "rcx" | "rdx")[] } {
  const mn = v.insn.split(" ")[0];
  switch (mn) {
    case "bt":
    case "bts":
    case "btr":
    case "btc":
      return { flags: CF | ZF };
    case "bsf":
    case "bsr":
      return { flags: ZF };
    case "tzcnt":
    case "lzcnt":
      return { flags: ZF | CF };
    case "popcnt":
      return { flags: STATUS };
    default:
      // BSWAP (no flags). The 16-bit form (.byte 66 0F C8) is undefined in the SDM, but the
      // recording host zeroes the low word as Intel does, so its result is compared too.
      return { flags: STATUS };
  }
}

test("silicon bit-instruction vectors (gen/gen-int-vectors.c)", () => {
  const { vectors } = loadVectors("bits");
  const fails = checkVectors(new Runner(), vectors, bitsCompare);
  assert.ok(vectors.length > 2000);
  assert.deepEqual(fails.slice(0, 20), []);
});

const runner = new Runner();
function run(insn: string, rax: bigint, rdx: bigint, flags = 0, rcx = B(0)): Regs | number {
  return runner.run(insn, { rax, rcx, rdx, rflags: 2 | flags });
}

test("BT* on memory bit strings: signed offsets beyond the operand (16/32/64-bit offsets)", () => {
  const m = createMachine();
  enterLong64(m);
  m.mem.write32(0x8000, 0);
  m.mem.write32(0x8010, 0);
  m.mem.write32(0x7ff8, 0);
  runCode(
    m,
    "mov rbx, 0x8000\nmov eax, 130\nbts dword ptr [rbx], eax\nmov rax, -1\nbts qword ptr [rbx], rax\n" +
      "mov ax, -17\nbts word ptr [rbx], ax\nmov eax, 3\nlock btc dword ptr [rbx+16], eax\nsetc cl\n" +
      "mov rax, 0x8000000000000000\nmov rdx, 0x8000\nbt qword ptr [rbx], 0x43\nsetc dl",
    64,
  );
  assert.equal(m.mem.read32(0x8010) >>> 0, (1 << 2) | (1 << 3)); // bit 130 → dword 4, bit 2; plus BTC bit 3
  // bit -1 (64-bit offset) → qword at 0x7ff8, bit 63 = bit 31 of the dword at 0x7ffc;
  // bit -17 (16-bit offset) → word at 0x8000 - 4 = 0x7ffc, bit 15.
  assert.equal(m.mem.read32(0x7ffc) >>> 0, 0x80008000);
  assert.equal(m.mem.read32(0x7ff8) >>> 0, 0);
  assert.equal(m.cpu.lo[1] & 0xff, 0); // bit 3 was clear before BTC
  assert.equal(m.cpu.lo[2] & 0xff, 0); // imm 0x43 masked to 3 → bit 3 of [0x8000] = 0
});

test("BT* memory forms in 32-bit mode; group 8 immediate masking; BTR/BTC results", () => {
  const m = createMachine();
  enterProtected32(m);
  m.mem.write32(0x9000, 0xf0f0f0f0);
  m.mem.write32(0x9004, 0x0000ffff);
  runCode(
    m,
    "mov eax, 36\nbtr dword ptr [0x9000], eax\nsetc bl\nbtc word ptr [0x9000], 0x24\nsetc bh\nmov ecx, -28\nbt dword ptr [0x9004], ecx\nsetc cl",
    32,
  );
  // btr bit 36 → [0x9004] bit 4 cleared (was 1); btc imm 0x24 & 15 = 4 on the word at 0x9000 (bit 4 = 1 → 0)
  assert.equal(m.mem.read32(0x9004) >>> 0, 0x0000ffef);
  assert.equal(m.mem.read32(0x9000) >>> 0, 0xf0f0f0e0);
  assert.equal(m.cpu.lo[3] & 0xffff, 0x0101);
  // -28 → dword at 0x9004 - 4 = 0x9000, bit 4 (now 0)
  assert.equal(m.cpu.lo[1] & 0xff, 0);
});

test("BSF/BSR with zero source: ZF=1 and the destination is untouched (also its upper half)", () => {
  let r = run("bsf eax, edx", B("0x1122334455667788"), B(0), 0) as Regs;
  assert.equal(r.rax, B("0x1122334455667788"));
  assert.equal(r.rflags & ZF, ZF);
  r = run("bsr rax, rdx", B(5), B("0x8000000000000001"), ZF) as Regs;
  assert.equal(r.rax, B(63));
  assert.equal(r.rflags & ZF, 0);
  r = run("bsf ax, dx", B(0xffff), B(0x8000), 0) as Regs;
  assert.equal(r.rax, B(15));
});

test("TZCNT/LZCNT/POPCNT flags and widths", () => {
  let r = run("lzcnt rax, rdx", B(-1), B(0), 0) as Regs;
  assert.equal(r.rax, B(64));
  assert.equal(r.rflags & (CF | ZF), CF);
  r = run("tzcnt ax, dx", B(-1), B(1), CF) as Regs;
  assert.equal(r.rax & B(0xffff), B(0));
  assert.equal(r.rflags & (CF | ZF), ZF);
  r = run("lzcnt eax, edx", B(-1), B(0x10000), 0) as Regs;
  assert.equal(r.rax, B(15)); // 32-bit write zero-extends
  r = run("popcnt rax, rdx", B(0), B("0xff00000000000001"), STATUS) as Regs;
  assert.equal(r.rax, B(9));
  assert.equal(r.rflags & STATUS, 0);
  r = run("popcnt eax, edx", B(7), B(0), 0) as Regs;
  assert.equal(r.rflags & STATUS, ZF);
});

test("POPCNT without F3 (0F B8) is #UD; LOCK BT is #UD; LOCK BTS reg is #UD", () => {
  assert.equal(run(".byte 0x0f, 0xb8, 0xc2", B(0), B(0)), 6);
  assert.equal(run(".byte 0xf0, 0x0f, 0xa3, 0x10", B(0x8000), B(0)), 6); // lock bt [rax], edx
  assert.equal(run(".byte 0xf0, 0x0f, 0xab, 0xd0", B(0), B(0)), 6); // lock bts eax, edx
  assert.equal(run(".byte 0x0f, 0xba, 0xe0, 0x01", B(0), B(0)) === 6, false); // bt eax, 1 is fine
  assert.equal(run(".byte 0x0f, 0xba, 0xc0, 0x01", B(0), B(0)), 6); // group 8 /0 is #UD
});

test("BSWAP: 32/64-bit with REX.B; 16-bit operand zeroes the low word (Intel, documented choice)", () => {
  const m = createMachine();
  enterLong64(m);
  runCode(
    m,
    "mov r9, 0x0102030405060708\nbswap r9\nmov eax, 0x11223344\nbswap eax\nmov ebx, 0x12345678\n.byte 0x66, 0x0f, 0xcb",
    64,
  );
  assert.equal(m.cpu.hi[9] >>> 0, 0x08070605);
  assert.equal(m.cpu.lo[9] >>> 0, 0x04030201);
  assert.equal(m.cpu.lo[0] >>> 0, 0x44332211);
  assert.equal(m.cpu.lo[3] >>> 0, 0x12340000);
});

test("undefined flags after BT/BSF are left unchanged (documented choice)", () => {
  let r = run("bt eax, edx", B(1), B(0), OF | SF | AF | PF) as Regs;
  assert.equal(r.rflags & STATUS, OF | SF | AF | PF | CF);
  r = run("bsf eax, edx", B(1), B(4), OF | CF | PF) as Regs;
  assert.equal(r.rflags & STATUS, OF | CF | PF);
});
