#!/usr/bin/env node
/**
 * Generator for test/cpu/gen/mmx-vectors.json: runs every MMX test case on the HOST CPU (real
 * silicon with MMX, the SSE/SSE2 MMX forms and SSSE3) and records the results, so pinvm is
 * compared against hardware in test/cpu/mmx.test.ts.
 *
 * Each case is an Intel-syntax sequence using mm0/mm1 (inputs/outputs), xmm0/xmm1, rax, and
 * rsi pointing at a 32-byte 16-aligned memory operand. The prologue loads the inputs from an
 * I/O block at rdi; the epilogue stores mm0, mm1, xmm0, xmm1, MXCSR and rax, then EMMS. All
 * SIMD exception masks stay set.
 *
 * Usage: node test/cpu/gen/mmx-vectors.mjs  (needs gcc; writes mmx-vectors.json next to it).
 */
import { Buffer } from "node:buffer";
import console from "node:console";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** Prologue/epilogue shared with the pinvm side (exported through the JSON). */
export const PROLOGUE = `movq mm0, [rdi]
movq mm1, [rdi+8]
movdqu xmm0, [rdi+16]
movdqu xmm1, [rdi+32]
ldmxcsr [rdi+48]
mov rax, [rdi+56]
lea rsi, [rdi+160]`;
export const EPILOGUE = `movq [rdi+64], mm0
movq [rdi+72], mm1
movdqu [rdi+80], xmm0
movdqu [rdi+96], xmm1
stmxcsr [rdi+112]
mov [rdi+120], rax
emms`;

let seed = 0x2468ace1;
const rnd = () => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed;
};
const pick = (a) => a[rnd() % a.length];

/** A 32-bit integer pattern biased toward saturation and sign edges. */
function int32() {
  const r = rnd() % 8;
  if (r === 0) return 0;
  if (r === 1) return 0xffffffff;
  if (r === 2)
    return pick([0x80007fff, 0x7fff8000, 0x807f7f80, 0x00ff00ff, 0xff00ff00, 0x80000000, 0x7fffffff]);
  if (r === 3) return (rnd() & 0x00ff00ff) >>> 0;
  if (r === 4) return (rnd() & 0x8f8f8f8f) >>> 0;
  return rnd();
}
const F32 = [
  0, 0x80000000, 0x3f800000, 0xbfc00000, 0x3f000000, 0x3fc00000, 0x40200000, 0x4f000000, 0xcf000000,
  0xcf000001, 0x7f800000, 0x7fc00000, 0x00000001, 0x4effffff, 0xc0600000,
];
const F64 = [
  [0, 0],
  [0, 0x3ff80000],
  [0, 0xc0040000],
  [0, 0x41e00000],
  [0, 0xc1e00000],
  [0x200000, 0xc1e00000],
  [0, 0x7ff80000],
  [1, 0x3ff00000],
  [0, 0x3fe00000],
  [0xffc00000, 0x41dfffff],
];
const randF32 = () => ((rnd() & 0x807fffff) | ((110 + (rnd() % 50)) << 23)) >>> 0;
const randF64 = () => [rnd(), ((rnd() & 0x800fffff) | ((1000 + (rnd() % 50)) << 20)) >>> 0];

/** Cases: asm, operand kind ("int" | "cnt" | "ps" | "pd"). */
const CASES = [];
const add = (asm, kind = "int") => CASES.push({ asm, kind });

const BIN = [
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
  "packssdw",
  "packuswb",
  "punpcklbw",
  "punpcklwd",
  "punpckldq",
  "punpckhbw",
  "punpckhwd",
  "punpckhdq",
  "pmullw",
  "pmulhw",
  "pmaddwd",
  "pavgb",
  "pavgw",
  "pminub",
  "pmaxub",
  "pminsw",
  "pmaxsw",
  "pmulhuw",
  "psadbw",
  "pmuludq",
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
];
for (const ins of BIN) add(`${ins} mm0, mm1`);
for (const ins of [
  "paddw",
  "psubusb",
  "pmaddwd",
  "punpcklbw",
  "punpckhdq",
  "packsswb",
  "pshufb",
  "phaddd",
  "psadbw",
])
  add(`${ins} mm0, [rsi]`);
for (const ins of ["psllw", "pslld", "psllq", "psrlw", "psrld", "psrlq", "psraw", "psrad"]) {
  add(`${ins} mm0, mm1`, "cnt");
  add(`${ins} mm0, [rsi]`, "cnt");
  for (const c of [0, 1, 7, 15, 16, 31, 32, 33, 63, 64, 200]) add(`${ins} mm0, ${c}`);
}
for (const m of [0x1b, 0xe4, 0x00, 0xff, 0x4e]) add(`pshufw mm0, mm1, ${m}`);
add("pshufw mm0, [rsi], 0x39");
for (const k of [0, 1, 2, 3, 5]) {
  add(`pextrw eax, mm1, ${k}`);
  add(`pinsrw mm0, eax, ${k}`);
}
add("pinsrw mm0, [rsi], 2");
add("pmovmskb eax, mm1");
add("pmovmskb rax, mm1");
for (const n of [0, 1, 3, 7, 8, 9, 15, 16, 17]) add(`palignr mm0, mm1, ${n}`);
add("movd mm0, eax");
add("movq mm0, rax");
add("movd eax, mm1");
add("movq rax, mm1");
add("movq mm0, mm1");
add("movq mm0, [rsi]");
add("movd mm0, [rsi]");
add("movq [rsi], mm1\nmovq mm0, [rsi]");
add("movd [rsi], mm1\nmovq mm0, [rsi]");
add("movntq [rsi], mm1\nmovq mm0, [rsi]");
add("movq2dq xmm0, mm1");
add("movdq2q mm0, xmm1");
add("lea rdi, [rsi+8]\nmaskmovq mm1, mm0\nlea rdi, [rsi-160]\nmovq mm0, [rsi+8]");
add("cvtpi2ps xmm0, mm1");
add("cvtpi2ps xmm0, [rsi]");
add("cvtpi2pd xmm0, mm1");
add("cvtpi2pd xmm0, [rsi]");
add("cvtps2pi mm0, xmm1", "ps");
add("cvttps2pi mm0, xmm1", "ps");
add("cvtps2pi mm0, [rsi]", "ps");
add("cvtpd2pi mm0, xmm1", "pd");
add("cvttpd2pi mm0, xmm1", "pd");
add("cvtpd2pi mm0, [rsi]", "pd");

const PER_CASE = 10;
const MX = [0x1f80, 0x3f80, 0x5f80, 0x7f80];
const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "pinvm-mmxgen-"));

let asm = ".intel_syntax noprefix\n.text\n";
CASES.forEach((c, n) => {
  asm += `.globl case_${n}\ncase_${n}:\n${PROLOGUE}\n${c.asm}\n${EPILOGUE}\nret\n`;
});
writeFileSync(join(dir, "cases.S"), asm);
let cmain = "#include <stdio.h>\n#include <stdint.h>\n";
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
execFileSync("gcc", ["-O1", "-mssse3", "-o", join(dir, "run"), join(dir, "main.c"), join(dir, "cases.S")]);

const vectors = [];
const inBuf = [];
CASES.forEach((c, n) => {
  for (let v = 0; v < PER_CASE; v++) {
    const io = new Uint32Array(48);
    for (let k = 0; k < 4; k++) io[k] = int32();
    if (c.kind === "cnt") {
      // shift counts: mostly small, sometimes with high bits set
      const cnt = [pick([0, 1, 3, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 256]), rnd() % 5 === 0 ? 1 : 0];
      io[2] = cnt[0];
      io[3] = cnt[1];
      io[40] = cnt[0];
      io[41] = cnt[1];
    } else {
      for (let k = 40; k < 48; k++) io[k] = int32();
    }
    for (let k = 4; k < 12; k++) io[k] = int32();
    if (c.kind === "ps") for (const k of [8, 9, 10, 11, 40, 41]) io[k] = rnd() % 3 ? pick(F32) : randF32();
    if (c.kind === "pd")
      for (const k of [8, 10, 40, 42]) {
        const d = rnd() % 3 ? pick(F64) : randF64();
        io[k] = d[0];
        io[k + 1] = d[1];
      }
    io[12] = c.kind === "ps" || c.kind === "pd" || c.asm.startsWith("cvtpi") ? pick(MX) : 0x1f80;
    io[13] = 0;
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
  v.out =
    out.subarray(k * 192 + 64, k * 192 + 128).toString("hex") +
    "|" +
    out.subarray(k * 192 + 160, k * 192 + 192).toString("hex");
});
const host = readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown";
writeFileSync(
  join(here, "mmx-vectors.json"),
  JSON.stringify({ host, prologue: PROLOGUE, epilogue: EPILOGUE, cases: CASES, vectors }, null, 0),
);
console.log(`${CASES.length} cases, ${vectors.length} vectors from ${host}`);
