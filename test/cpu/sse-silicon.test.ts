/**
 * SSE/SSE2/SSE3/SSSE3/SSE4.1/SSE4.2 differential tests against real silicon: every vector in
 * gen/sse-vectors.json was produced by running the same instruction sequence on the host CPU
 * (see gen/sse-vectors.mjs, which records the host model). Compared: XMM0, XMM1, MXCSR
 * (including exception flags), RAX/RCX/RDX and, for instructions that define them, the
 * arithmetic flags.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createMachine, enterLong64, runCode, type TestMachine } from "../helpers/machine.js";

interface Case {
  asm: string;
  kind: string;
  flags: number;
}
interface Vectors {
  host: string;
  prologue: string;
  epilogue: string;
  cases: Case[];
  vectors: { c: number; in: string; out: string }[];
}

const path = fileURLToPath(new URL("../../../test/cpu/gen/sse-vectors.json", import.meta.url));
const data = JSON.parse(readFileSync(path, "utf8")) as Vectors;
const IO = 0x200000;

/** A 64-bit machine with SSE enabled (CR4.OSFXSR|OSXMMEXCPT, CR0.EM=0). */
export function sseMachine(): TestMachine {
  const m = createMachine();
  enterLong64(m);
  m.cpu.cr4 |= 0x600;
  m.cpu.cr0 &= ~4;
  return m;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

const byCase = new Map<number, { in: string; out: string }[]>();
for (const v of data.vectors) {
  let l = byCase.get(v.c);
  if (l === undefined) byCase.set(v.c, (l = []));
  l.push(v);
}

for (const [n, vecs] of byCase) {
  const c = data.cases[n];
  test(`silicon: ${c.asm}`, () => {
    const m = sseMachine();
    const src = `${data.prologue}\n${c.asm}\n${data.epilogue}`;
    const errors: string[] = [];
    for (const v of vecs) {
      const [head, mem] = v.in.split("|");
      const io = new Uint8Array(192);
      io.set(Buffer.from(head, "hex"), 0);
      io.set(Buffer.from(mem, "hex"), 160);
      m.mem.load(IO, io);
      m.cpu.lo[7] = IO;
      m.cpu.hi[7] = 0;
      const r = runCode(m, src, 64);
      assert.equal(r, "halt", `${c.asm}: did not halt (rip=${m.cpu.rip.toString(16)})`);
      const got = new Uint8Array(72);
      for (let k = 0; k < 72; k++) got[k] = m.mem.read8(IO + 64 + k);
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
