/**
 * Smoke test of the CPU benchmark (bench/run.ts) without QEMU: a short run of the integer
 * guest through every pinvm step the benchmark makes (1 round, N rounds, the long run of as
 * many rounds as QEMU would get, a steady-state run). It checks what the benchmark checks —
 * the long run retires exactly c(1) + (rounds - 1) * k instructions between the markers and
 * prints a checksum — and never anything about time.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { main, parseArgs } from "../../bench/run.js";

test("the integer benchmark's pinvm runs agree on the instruction count per round", async (t) => {
  const o = parseArgs(["--no-qemu", "--rounds", "2", "--long-rounds", "3", "--steady-runs", "1"]);
  if (!existsSync(o.guest)) {
    t.skip(`${o.guest} not built (make -C guests)`);
    return;
  }
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  let status: number;
  try {
    status = await main(o);
  } finally {
    console.log = log;
  }
  assert.equal(status, 0, lines.join("\n"));
  const count = (r: number): number => {
    const m = new RegExp(`^pinvm rounds=${r}\\b.*?(\\d+) instructions between markers`).exec(
      lines.find((l) => l.startsWith(`pinvm rounds=${r}`)) ?? "",
    );
    assert.ok(m, `a line for ${r} rounds in:\n${lines.join("\n")}`);
    return Number(m[1]);
  };
  const [c1, c2, c3] = [count(1), count(2), count(3)];
  assert.ok(c2 > c1, "more rounds retire more instructions");
  assert.equal(c3 - c2, c2 - c1, "every round retires the same number of instructions");
  assert.ok(
    lines.some((l) => /^pinvm rounds=3: .*checksum [0-9a-f]+$/.test(l)),
    "the long run prints its checksum",
  );
});
