#!/usr/bin/env node
/**
 * Generator for test/cpu/gen/sse-vectors.json: runs every SSE test case on the HOST CPU
 * (real silicon with SSE4.2) and records the results, so pinvm is compared against hardware.
 *
 * Each case is an Intel-syntax instruction sequence using xmm0/xmm1 (inputs/outputs), rax/
 * rcx/rdx, and rsi pointing at a 32-byte 16-aligned memory operand. A harness function per
 * case (written as a .S file) loads the inputs from an I/O block at rdi, runs the sequence,
 * and stores xmm0, xmm1, MXCSR, RFLAGS, rax, rcx, rdx. The same prologue/epilogue runs
 * under pinvm in test/cpu/sse-silicon.test.ts. All exception masks stay set (no #XM here).
 *
 * Usage: node test/cpu/gen/sse-vectors.mjs  (needs gcc; writes sse-vectors.json next to it).
 * The committed JSON was produced on an AMD Zen (family 1AH) host; see the JSON's "host".
 */
import { Buffer } from "node:buffer";
import console from "node:console";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** Prologue/epilogue shared with the pinvm side (exported through the JSON). */
export const PROLOGUE = `movdqu xmm0, [rdi]
movdqu xmm1, [rdi+16]
ldmxcsr [rdi+32]
mov rax, [rdi+40]
mov rdx, [rdi+48]
mov rcx, [rdi+56]
lea rsi, [rdi+160]`;
export const EPILOGUE = `pushfq
pop r11
mov [rdi+104], r11
movdqu [rdi+64], xmm0
movdqu [rdi+80], xmm1
stmxcsr [rdi+96]
mov [rdi+112], rax
mov [rdi+120], rcx
mov [rdi+128], rdx`;

// deterministic PRNG (xorshift32)
let seed = 0x12345678;
const rnd = () => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed;
};
const pick = (a) => a[rnd() % a.length];

const F32 = [
  0, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000, 0x40400000, 0x7f7fffff, 0xff7fffff, 0x00800000,
  0x80800000, 0x00000001, 0x807fffff, 0x00400000, 0x7f800000, 0xff800000, 0x7fc00001, 0x7f800001, 0xffc12345,
  0xff812345, 0x3eaaaaab, 0x4b800001, 0x5f000000, 0xdf000000, 0x4f000000, 0xcf000001, 0x3f000000, 0x40200000,
  0xbf400000, 0x4effffff, 0x33800000, 0x0c000000, 0x72000000, 0x00ffffff,
];
const F64 = [
  [0, 0],
  [0, 0x80000000],
  [0, 0x3ff00000],
  [0, 0xbff00000],
  [0, 0x3ff80000],
  [0, 0x40080000],
  [0xffffffff, 0x7fefffff],
  [0, 0x00100000],
  [1, 0],
  [0xffffffff, 0x800fffff],
  [0, 0x7ff00000],
  [0, 0xfff00000],
  [1, 0x7ff80000],
  [1, 0x7ff00000],
  [0x12345678, 0xfff81234],
  [0x55555555, 0x3fd55555],
  [0, 0x43e00000],
  [0, 0xc3e00000],
  [0, 0x41e00000],
  [0x200000, 0xc1e00000],
  [0, 0x3fe00000],
  [0, 0x40040000],
  [0, 0xbfe80000],
  [0xffc00000, 0x41dfffff],
  [0, 0x3ca00000],
  [0, 0x01000000],
  [0, 0x7e000000],
  [1, 0x3ff00000],
  [0, 0x36a00000],
];
const randF32 = () => (rnd() % 3 === 0 ? rnd() : (rnd() & 0x807fffff) | ((100 + (rnd() % 56)) << 23)) >>> 0;
const randF64 = () => [
  rnd(),
  rnd() % 3 === 0 ? rnd() : ((rnd() & 0x800fffff) | ((990 + (rnd() % 70)) << 20)) >>> 0,
];
const MX = [0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x9f80, 0x1fc0, 0x9fc0];

function vec(kind) {
  const out = [];
  if (kind === "ps") for (let k = 0; k < 4; k++) out.push(rnd() % 4 === 0 ? randF32() : pick(F32));
  else if (kind === "pd")
    for (let k = 0; k < 2; k++) {
      const v = rnd() % 4 === 0 ? randF64() : pick(F64);
      out.push(v[0] >>> 0, v[1] >>> 0);
    }
  else if (kind === "int")
    for (let k = 0; k < 4; k++) {
      const r = rnd() % 6;
      out.push(
        r === 0
          ? 0
          : r === 1
            ? 0xffffffff
            : r === 2
              ? 0x80007f80
              : r === 3
                ? (rnd() & 0x00ff00ff) >>> 0
                : rnd(),
      );
    }
  else if (kind === "str") {
    // byte strings with small alphabets and a possible terminator
    const b = [];
    for (let k = 0; k < 16; k++) b.push(rnd() % 7 === 0 ? 0 : 0x41 + (rnd() % 5));
    for (let k = 0; k < 4; k++)
      out.push((b[4 * k] | (b[4 * k + 1] << 8) | (b[4 * k + 2] << 16) | (b[4 * k + 3] << 24)) >>> 0);
  }
  return out;
}

/** Cases: [asm, operand kind, flagsMask, gprInputs]. */
const CASES = [];
const add = (asm, kind, flags = 0, gpr = false) => CASES.push({ asm, kind, flags, gpr });

for (const sfx of ["ps", "ss"]) {
  for (const op of ["add", "sub", "mul", "div", "min", "max"]) add(`${op}${sfx} xmm0, xmm1`, "ps");
  add(`sqrt${sfx} xmm0, xmm1`, "ps");
  for (let p = 0; p < 8; p++) add(`cmp${sfx} xmm0, xmm1, ${p}`, "ps");
}
for (const sfx of ["pd", "sd"]) {
  for (const op of ["add", "sub", "mul", "div", "min", "max"]) add(`${op}${sfx} xmm0, xmm1`, "pd");
  add(`sqrt${sfx} xmm0, xmm1`, "pd");
  for (let p = 0; p < 8; p++) add(`cmp${sfx} xmm0, xmm1, ${p}`, "pd");
}
add("addps xmm0, [rsi]", "ps");
add("mulsd xmm0, [rsi]", "pd");
add("divss xmm0, [rsi]", "ps");
add("addsubps xmm0, xmm1", "ps");
add("addsubpd xmm0, xmm1", "pd");
add("haddps xmm0, xmm1", "ps");
add("hsubps xmm0, xmm1", "ps");
add("haddpd xmm0, xmm1", "pd");
add("hsubpd xmm0, xmm1", "pd");
for (const ins of ["ucomiss", "comiss"]) add(`${ins} xmm0, xmm1`, "ps", 0x8d5);
for (const ins of ["ucomisd", "comisd"]) add(`${ins} xmm0, xmm1`, "pd", 0x8d5);
add("cvtss2sd xmm0, xmm1", "ps");
add("cvtsd2ss xmm0, xmm1", "pd");
add("cvtps2pd xmm0, xmm1", "ps");
add("cvtpd2ps xmm0, xmm1", "pd");
add("cvtdq2ps xmm0, xmm1", "int");
add("cvtps2dq xmm0, xmm1", "ps");
add("cvttps2dq xmm0, xmm1", "ps");
add("cvtdq2pd xmm0, xmm1", "int");
add("cvtpd2dq xmm0, xmm1", "pd");
add("cvttpd2dq xmm0, xmm1", "pd");
add("cvtss2si eax, xmm1", "ps");
add("cvttss2si eax, xmm1", "ps");
add("cvtss2si rax, xmm1", "ps");
add("cvttss2si rax, xmm1", "ps");
add("cvtsd2si eax, xmm1", "pd");
add("cvttsd2si eax, xmm1", "pd");
add("cvtsd2si rax, xmm1", "pd");
add("cvttsd2si rax, xmm1", "pd");
add("cvtsi2ss xmm0, eax", "int", 0, true);
add("cvtsi2ss xmm0, rax", "int", 0, true);
add("cvtsi2sd xmm0, eax", "int", 0, true);
add("cvtsi2sd xmm0, rax", "int", 0, true);
for (const m of [0, 1, 2, 3, 4, 8, 9, 10, 11, 12]) {
  add(`roundps xmm0, xmm1, ${m}`, "ps");
  add(`roundsd xmm0, xmm1, ${m}`, "pd");
}
add("roundss xmm0, xmm1, 4", "ps");
add("roundpd xmm0, xmm1, 4", "pd");
add("dpps xmm0, xmm1, 0xff", "ps");
add("dpps xmm0, xmm1, 0x35", "ps");
add("dppd xmm0, xmm1, 0x31", "pd");
for (const ins of [
  "andps",
  "andnps",
  "orps",
  "xorpd",
  "unpcklps",
  "unpckhps",
  "unpcklpd",
  "unpckhpd",
  "movhlps",
  "movlhps",
  "movsldup",
  "movshdup",
  "movddup",
])
  add(`${ins} xmm0, xmm1`, "int");
add("shufps xmm0, xmm1, 0x1b", "int");
add("shufpd xmm0, xmm1, 2", "int");
add("movmskps eax, xmm1", "int");
add("movmskpd eax, xmm1", "int");
add("movss xmm0, xmm1", "int");
add("movsd xmm0, xmm1", "int");
add("movss xmm0, [rsi]", "int");
add("movsd xmm0, [rsi]", "int");
add("movlps xmm0, [rsi]", "int");
add("movhps xmm0, [rsi]", "int");
add("movq xmm0, xmm1", "int");
add("movd xmm0, eax", "int", 0, true);
add("movq xmm0, rax", "int", 0, true);
add("movd eax, xmm1", "int");
add("movq rax, xmm1", "int");
add("insertps xmm0, xmm1, 0x9a", "int");
add("extractps eax, xmm1, 2", "int");
// SSE2 integer
for (const ins of [
  "paddb",
  "paddw",
  "paddd",
  "paddq",
  "psubb",
  "psubw",
  "psubd",
  "psubq",
  "paddsb",
  "paddsw",
  "paddusb",
  "paddusw",
  "psubsb",
  "psubsw",
  "psubusb",
  "psubusw",
  "pmullw",
  "pmulhw",
  "pmulhuw",
  "pmuludq",
  "pmaddwd",
  "psadbw",
  "pavgb",
  "pavgw",
  "pminub",
  "pmaxub",
  "pminsw",
  "pmaxsw",
  "pcmpeqb",
  "pcmpeqw",
  "pcmpeqd",
  "pcmpgtb",
  "pcmpgtw",
  "pcmpgtd",
  "pand",
  "pandn",
  "por",
  "pxor",
  "packsswb",
  "packuswb",
  "packssdw",
  "punpcklbw",
  "punpcklwd",
  "punpckldq",
  "punpcklqdq",
  "punpckhbw",
  "punpckhwd",
  "punpckhdq",
  "punpckhqdq",
  "psllw",
  "pslld",
  "psllq",
  "psrlw",
  "psrld",
  "psrlq",
  "psraw",
  "psrad",
  // SSSE3
  "pshufb",
  "phaddw",
  "phaddd",
  "phaddsw",
  "phsubw",
  "phsubd",
  "phsubsw",
  "pmaddubsw",
  "pmulhrsw",
  "psignb",
  "psignw",
  "psignd",
  "pabsb",
  "pabsw",
  "pabsd",
  // SSE4.1 / 4.2
  "pminsb",
  "pminsd",
  "pminuw",
  "pminud",
  "pmaxsb",
  "pmaxsd",
  "pmaxuw",
  "pmaxud",
  "pmulld",
  "pmuldq",
  "packusdw",
  "pcmpeqq",
  "pcmpgtq",
  "phminposuw",
  "pmovsxbw",
  "pmovsxbd",
  "pmovsxbq",
  "pmovsxwd",
  "pmovsxwq",
  "pmovsxdq",
  "pmovzxbw",
  "pmovzxbd",
  "pmovzxbq",
  "pmovzxwd",
  "pmovzxwq",
  "pmovzxdq",
  "pblendvb",
  "blendvps",
  "blendvpd",
])
  add(`${ins} xmm1, xmm0`, "int");
add("ptest xmm0, xmm1", "int", 0x8d5);
add("ptest xmm0, xmm0", "int", 0x8d5);
for (const c of [3, 15, 16, 33, 64]) {
  add(`psllw xmm0, ${c}`, "int");
  add(`psrad xmm0, ${c}`, "int");
  add(`psrlq xmm0, ${c}`, "int");
}
add("pslldq xmm0, 5", "int");
add("psrldq xmm0, 11", "int");
add("pshufd xmm0, xmm1, 0x4e", "int");
add("pshufhw xmm0, xmm1, 0x1b", "int");
add("pshuflw xmm0, xmm1, 0xb1", "int");
add("pmovmskb eax, xmm1", "int");
add("pextrw eax, xmm1, 5", "int");
add("pinsrw xmm0, eax, 3", "int", 0, true);
add("pextrb eax, xmm1, 13", "int");
add("pextrd eax, xmm1, 2", "int");
add("pextrq rax, xmm1, 1", "int");
add("pinsrb xmm0, eax, 9", "int", 0, true);
add("pinsrd xmm0, eax, 1", "int", 0, true);
add("pinsrq xmm0, rax, 1", "int", 0, true);
add("palignr xmm0, xmm1, 5", "int");
add("palignr xmm0, xmm1, 20", "int");
add("blendps xmm0, xmm1, 5", "int");
add("blendpd xmm0, xmm1, 2", "int");
add("pblendw xmm0, xmm1, 0x5a", "int");
add("mpsadbw xmm0, xmm1, 5", "int");
add("mpsadbw xmm0, xmm1, 2", "int");
add("crc32 eax, cl", "int", 0, true);
add("crc32 eax, cx", "int", 0, true);
add("crc32 eax, ecx", "int", 0, true);
add("crc32 rax, rcx", "int", 0, true);
for (const imm of [0x00, 0x04, 0x08, 0x0c, 0x10, 0x30, 0x40, 0x44, 0x1a, 0x01, 0x0d, 0x03, 0x02]) {
  add(`pcmpistri xmm0, xmm1, ${imm}`, "str", 0x8d5);
  add(`pcmpistrm xmm0, xmm1, ${imm}`, "str", 0x8d5);
  add(`pcmpestri xmm0, xmm1, ${imm}`, "str", 0x8d5, true);
  add(`pcmpestrm xmm0, xmm1, ${imm | 0x40}`, "str", 0x8d5, true);
}

const PER_CASE = 12;
const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "pinvm-ssegen-"));

let asm = ".intel_syntax noprefix\n.text\n";
CASES.forEach((c, n) => {
  asm += `.globl case_${n}\ncase_${n}:\n${PROLOGUE}\n${c.asm}\n${EPILOGUE}\nret\n`;
});
writeFileSync(join(dir, "cases.S"), asm);
let cmain = `#include <stdio.h>
#include <stdint.h>
#include <string.h>
`;
CASES.forEach((_c, n) => (cmain += `void case_${n}(uint8_t*);\n`));
cmain += `static void (*const fns[])(uint8_t*) = {${CASES.map((_c, n) => `case_${n}`).join(",")}};
static uint8_t io[192] __attribute__((aligned(64)));
int main(void) {
  unsigned idx;
  uint32_t mx0 = 0x1f80;
  while (fread(&idx, 4, 1, stdin) == 1) {
    if (fread(io, 1, 192, stdin) != 192) return 1;
    fns[idx](io);
    __asm__ volatile("ldmxcsr %0" :: "m"(mx0));
    fwrite(io, 1, 192, stdout);
  }
  return 0;
}
`;
writeFileSync(join(dir, "main.c"), cmain);
execFileSync("gcc", ["-O1", "-msse4.2", "-o", join(dir, "run"), join(dir, "main.c"), join(dir, "cases.S")]);

const vectors = [];
const inBuf = [];
CASES.forEach((c, n) => {
  for (let v = 0; v < PER_CASE; v++) {
    const io = new Uint32Array(48);
    const a = vec(c.kind);
    const b = vec(c.kind);
    io.set(a, 0);
    io.set(b, 4);
    io[8] = c.kind === "int" || c.kind === "str" ? 0x1f80 : pick(MX);
    const gp = () => (rnd() % 3 === 0 ? rnd() % 20 : rnd());
    if (c.gpr || c.kind === "str") {
      io[10] = c.kind === "str" ? rnd() % 20 : gp();
      io[11] = c.kind === "str" ? (rnd() % 4 === 0 ? 0xffffffff : 0) : gp();
      io[12] = c.kind === "str" ? rnd() % 20 : gp();
      io[13] = c.kind === "str" ? 0 : gp();
      io[14] = gp();
      io[15] = gp();
    }
    io.set(b, 40);
    io.set(a, 44);
    const hdr = new Uint32Array([n]);
    inBuf.push(Buffer.from(hdr.buffer), Buffer.from(io.buffer));
    vectors.push({
      c: n,
      in:
        Buffer.from(io.buffer).subarray(0, 64).toString("hex") +
        "|" +
        Buffer.from(io.buffer).subarray(160, 192).toString("hex"),
    });
  }
});
const out = execFileSync(join(dir, "run"), { input: Buffer.concat(inBuf), maxBuffer: 1 << 28 });
vectors.forEach((v, k) => {
  v.out = out.subarray(k * 192 + 64, k * 192 + 136).toString("hex");
});
const host = readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown";
writeFileSync(
  join(here, "sse-vectors.json"),
  JSON.stringify({ host, prologue: PROLOGUE, epilogue: EPILOGUE, cases: CASES, vectors }, null, 0),
);
console.log(`${CASES.length} cases, ${vectors.length} vectors from ${host}`);
