/**
 * SSE/SSE2/SSE3/SSSE3/SSE4.1/SSE4.2 differential tests against real silicon: every vector in
 * gen/sse-vectors.json was produced by running the same instruction sequence on the host CPU
 * (see gen/sse-vectors.mjs, which records the host model). Compared: XMM0, XMM1, MXCSR
 * (including exception flags), RAX/RCX/RDX and, for instructions that define them, the
 * arithmetic flags.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { IO_BLOCK, hex, loadSimdVectors, runSimdVector, simdMachine } from "../helpers/simd-vectors.js";

interface Case {
  asm: string;
  kind: string;
  flags: number;
}
const { data, byCase } = loadSimdVectors<Case>("sse-vectors.json");

for (const [n, vecs] of byCase) {
  const c = data.cases[n];
  test(`silicon: ${c.asm}`, () => {
    const m = simdMachine();
    const src = `${data.prologue}\n${c.asm}\n${data.epilogue}`;
    const errors: string[] = [];
    for (const v of vecs) {
      runSimdVector(m, src, v.in, c.asm);
      const got = new Uint8Array(72);
      for (let k = 0; k < 72; k++) got[k] = m.mem.read8(IO_BLOCK + 64 + k);
      const exp = Buffer.from(v.out, "hex");
      // flags at offset 40..47 of the output block: compare only the defined bits
      const gf = got[40] | (got[41] << 8);
      const ef = exp[40] | (exp[41] << 8);
      const fm = c.flags;
      for (let k = 40; k < 48; k++) got[k] = exp[k] = 0;
      if (hex(got) !== hex(exp) || (gf & fm) !== (ef & fm)) {
        errors.push(
          `in ${v.in}\n  exp ${hex(exp)} fl ${(ef & fm).toString(16)}\n  got ${hex(got)} fl ${(gf & fm).toString(16)}`,
        );
      }
    }
    assert.deepEqual(errors.slice(0, 3), [], `${errors.length}/${vecs.length} mismatches for ${c.asm}`);
  });
}
