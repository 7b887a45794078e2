/**
 * Test helper for SIMD tests: a 64-bit machine with SSE enabled, and the runner for the
 * silicon vector files under test/cpu/gen/ (written by gen/mmx-vectors.mjs and
 * gen/sse-vectors.mjs): each vector's input block is placed at IO_BLOCK, RDI points at it, the
 * case's code runs, and the caller reads the output block back.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createMachine, enterLong64, runCode, type TestMachine } from "./machine.js";
import { installFaultHandlers } from "./faults.js";

/** Where a vector's input/output block lives in guest memory. */
export const IO_BLOCK = 0x200000;

/** A vector file: the code around each case, the cases, and the recorded inputs/outputs. */
export interface SimdVectors<C extends { asm: string }> {
  host: string;
  prologue: string;
  epilogue: string;
  cases: C[];
  vectors: { c: number; in: string; out: string }[];
}

/** A 64-bit machine with CR4.OSFXSR|OSXMMEXCPT set and CR0.EM clear; optionally fault handlers. */
export function simdMachine(withFaultHandlers = false): TestMachine {
  const m = createMachine();
  enterLong64(m);
  m.cpu.cr4 |= 0x600;
  m.cpu.cr0 &= ~4;
  if (withFaultHandlers) installFaultHandlers(m, 64);
  return m;
}

/** Read `test/cpu/gen/<name>` and group its vectors by case index. */
export function loadSimdVectors<C extends { asm: string }>(
  name: string,
): { data: SimdVectors<C>; byCase: Map<number, { in: string; out: string }[]> } {
  const path = fileURLToPath(new URL(`../../../test/cpu/gen/${name}`, import.meta.url));
  const data = JSON.parse(readFileSync(path, "utf8")) as SimdVectors<C>;
  const byCase = new Map<number, { in: string; out: string }[]>();
  for (const v of data.vectors) {
    let l = byCase.get(v.c);
    if (l === undefined) byCase.set(v.c, (l = []));
    l.push(v);
  }
  return { data, byCase };
}

/** Load a vector's input ("head|memory" hex) at IO_BLOCK, point RDI at it, run `src` to HLT. */
export function runSimdVector(m: TestMachine, src: string, input: string, label: string): void {
  const [head, mem] = input.split("|");
  const io = new Uint8Array(192);
  io.set(Buffer.from(head, "hex"), 0);
  io.set(Buffer.from(mem, "hex"), 160);
  m.mem.load(IO_BLOCK, io);
  m.cpu.lo[7] = IO_BLOCK;
  m.cpu.hi[7] = 0;
  const r = runCode(m, src, 64);
  assert.equal(r, "halt", `${label}: did not halt (rip=${m.cpu.rip.toString(16)})`);
}

/** Bytes as lowercase hex. */
export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
