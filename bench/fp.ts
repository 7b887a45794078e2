/**
 * Floating-point benchmark: runs guests/build/bench_fp.elf (built from guests/bench_fp.c:
 * n-body, matrix multiply, Mandelbrot and a polynomial/conversion loop in SSE2 double
 * arithmetic) under pinvm in this process and under `qemu-system-x86_64 -accel tcg`, and
 * prints guest MIPS for both and their ratio. Same method and options as bench/run.ts (whose
 * exported `parseArgs` and `main` it reuses): instructions and time between the guest's
 * `BENCH START` / `BENCH END` lines, checksums of both runs compared, QEMU timed over more
 * rounds than pinvm (every round executes the same number of instructions).
 *
 * Usage: node dist/bench/fp.js [--rounds N] [--qemu-rounds N] [--qemu-runs N] [--no-qemu]
 *                              [--guest path] [--max-instructions N] [--entry ...]
 * (npm run bench:fp). Defaults: 20 pinvm rounds (~1.2M instructions each), 3 QEMU runs of 400 rounds.
 */
import { join } from "node:path";
import { main, parseArgs, type BenchOptions } from "./run.js";
import { repoRoot } from "../test/oracle/qemu.js";
import { runIfMain } from "./common.js";

/** Options for the FP benchmark: bench/run.ts's, with bench_fp as the guest and its own round defaults. */
export function fpOptions(argv: string[]): BenchOptions {
  const guest = join(repoRoot(import.meta.url), "guests", "build", "bench_fp.elf");
  return parseArgs(["--guest", guest, "--rounds", "20", "--qemu-rounds", "400", ...argv]);
}

runIfMain(import.meta.url, () => main(fpOptions(process.argv.slice(2))));
