/**
 * CR-pinning benchmark: what pinning costs a guest that writes CR4, and what it costs one that
 * does not. Runs guests/build/bench_crpin.elf (guests/bench_crpin.c) under the `pinvm` command
 * with `--cr-pin off`, `rfc2019` and `jun2020` (the guest pins CR0.WP and CR4.SMEP/SMAP/UMIP
 * through whatever it is offered), and under `qemu-system-x86_64 -accel tcg` for reference, in
 * one run.
 *
 * The guest times three loops of the same shape (a plain register move, MOV CR4 of the value
 * CR4 holds, MOV CR4 flipping the unpinned OSXMMEXCPT), `rounds` times in turn, each between
 * `BENCH START <loop>` and `BENCH END <loop>` lines. This script takes the wall time between the
 * two lines (process.hrtime: for pinvm when the guest writes the line's last byte to COM1, for
 * QEMU when it arrives on the child's stdout), drops the first round
 * (warm-up: pinvm compiles the loops on their first pass), and reports the median per loop and
 * configuration in ns per iteration (with the fastest and slowest round in brackets: on a
 * shared machine the spread is often larger than the effect), then:
 *  - the pinning overhead of each CR4 loop: pinned / off - 1 (the target is at most 1 %);
 *  - the difference of the plain loop between pinned and off (should be noise: pinning must not
 *    touch code without CR writes).
 * The guest also prints RDTSC cycles per loop; under pinvm the TSC follows retired
 * instructions, so it shows the same count with and without pinning and is printed only for
 * reference (under QEMU it is host time). QEMU's plain loop is close to the resolution of
 * timing lines on a pipe (its output may arrive in one chunk); its CR4 loops are what it is there for.
 *
 * pinvm runs in this process, on a PcMachine configured as `pinvm --cr-pin <profile>` configures
 * it (the CLI's stdout is written per run slice, so line arrival times from a child would not
 * separate the loops), one configuration after another in turn, so that JIT warm-up does not
 * favour one. Benchmarks never fail on time: the exit status is 0 unless no run could be made at
 * all.
 *
 * Usage: node dist/bench/crpin.js [--iterations N] [--rounds N] [--runs N] [--qemu-iterations N]
 *                                 [--no-qemu] [--profiles rfc2019,jun2020] [--guest path]
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { PinProfile } from "../src/hv/paravirt/profiles.js";
import { PIN_PROFILES } from "../src/hv/paravirt/profiles.js";
import { PcMachine } from "../src/vmm/machine.js";
import { loadMultiboot } from "../src/vmm/loaders/load-multiboot.js";
import { qemuAvailable, qemuCommandLine, repoRoot } from "../test/oracle/qemu.js";
import {
  eachOption,
  elapsedSeconds,
  guestPresent,
  LineSplitter,
  median,
  runIfMain,
  runTimedChild,
} from "./common.js";

/** The loops the guest times, in its order. */
export const LOOPS = ["plain", "cr4-same", "cr4-toggle"] as const;

/** One of the guest's loops. */
export type LoopName = (typeof LOOPS)[number];

/** Command-line options. */
export interface CrpinBenchOptions {
  /** The guest image. */
  guest: string;
  /** Iterations of each loop per round under pinvm. */
  iterations: number;
  /** Rounds per run (the first is dropped as warm-up when there are more). */
  rounds: number;
  /** Runs per pinvm configuration (interleaved across configurations). */
  runs: number;
  /** Iterations per loop under QEMU (QEMU is much faster). */
  qemuIterations: number;
  /** Whether to run QEMU. */
  qemu: boolean;
  /** Pinning profiles measured against `--cr-pin off`. */
  profiles: string[];
}

/** What one guest run produced. */
export interface GuestRun {
  /** What the guest printed on COM1. */
  serial: string;
  /** Process exit status (null when killed). */
  exitCode: number | null;
  /** The profile the guest reported (`bench-crpin profile=...`), or null. */
  profile: string | null;
  /** Seconds per iteration of each loop, one entry per measured round. */
  secondsPerIteration: Map<LoopName, number[]>;
  /** RDTSC cycles per iteration of each loop, one entry per measured round. */
  tscPerIteration: Map<LoopName, number[]>;
  /** The command that was run. */
  command: string[];
  /** What the child wrote on stderr. */
  stderr: string;
}

/** Parses the command line. */
export function parseArgs(argv: string[]): CrpinBenchOptions {
  const root = repoRoot(import.meta.url);
  const o: CrpinBenchOptions = {
    guest: join(root, "guests", "build", "bench_crpin.elf"),
    iterations: 500_000,
    rounds: 5,
    runs: 3,
    qemuIterations: 2_000_000,
    qemu: true,
    profiles: ["rfc2019", "jun2020"],
  };
  eachOption(argv, (a, next) => {
    const count = (): number => {
      const v = Number(next());
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
      return v;
    };
    if (a === "--iterations") o.iterations = count();
    else if (a === "--rounds") o.rounds = count();
    else if (a === "--runs") o.runs = count();
    else if (a === "--qemu-iterations") o.qemuIterations = count();
    else if (a === "--no-qemu") o.qemu = false;
    else if (a === "--profiles") {
      o.profiles = next().split(",").filter(Boolean);
      for (const p of o.profiles)
        if (!PIN_PROFILES.includes(p as PinProfile) || p === "off") throw new Error(`--profiles: ${p}?`);
    } else if (a === "--guest") o.guest = next();
    else return false;
    return true;
  });
  return o;
}

/**
 * Collects a guest's COM1 text and times its BENCH lines: feed() takes text with the time it was
 * written or arrived. `iterations` converts loop times into per-iteration figures; round 0 is
 * dropped when `rounds` > 1.
 */
class LineTimer {
  serial = "";
  private readonly lines = new LineSplitter();
  private readonly started = new Map<string, bigint>();
  private readonly round = new Map<string, number>();
  readonly seconds = new Map<LoopName, number[]>(LOOPS.map((l) => [l, []]));
  readonly tsc = new Map<LoopName, number[]>(LOOPS.map((l) => [l, []]));

  constructor(
    private readonly iterations: number,
    private readonly rounds: number,
  ) {}

  private measured(r: number): boolean {
    return this.rounds === 1 || r > 0;
  }

  /** Takes text from the guest, written or received at `now`. */
  feed(text: string, now: bigint): void {
    this.serial += text;
    for (const line of this.lines.feed(text)) {
      const marker = /^BENCH (START|END) (\S+)$/.exec(line);
      const loop = marker?.[2] as LoopName | undefined;
      if (marker && loop && this.seconds.has(loop)) {
        if (marker[1] === "START") {
          this.started.set(loop, now);
        } else if (this.started.has(loop)) {
          const r = this.round.get(loop) ?? 0;
          this.round.set(loop, r + 1);
          if (this.measured(r))
            this.seconds.get(loop)!.push(elapsedSeconds(this.started.get(loop)!, now) / this.iterations);
        }
      }
      const t = /^bench-crpin (\S+) round=(\d+) iterations=\d+ tsc=(\d+)$/.exec(line);
      const tl = t?.[1] as LoopName | undefined;
      if (t && tl && this.tsc.has(tl) && this.measured(Number(t[2])))
        this.tsc.get(tl)!.push(Number(t[3]) / this.iterations);
    }
  }

  /** The run's result. */
  result(exitCode: number | null, command: string[], stderr: string): GuestRun {
    return {
      serial: this.serial,
      exitCode,
      profile: /^bench-crpin profile=(\S+)/m.exec(this.serial)?.[1] ?? null,
      secondsPerIteration: this.seconds,
      tscPerIteration: this.tsc,
      command,
      stderr,
    };
  }
}

/** Runs a command whose stdout is the guest's COM1 (QEMU), timing the BENCH lines as they arrive. */
export async function runGuest(command: string[], iterations: number, rounds: number): Promise<GuestRun> {
  const timer = new LineTimer(iterations, rounds);
  const { exitCode, stderr } = await runTimedChild(command, 1_800_000, (text, now) => timer.feed(text, now));
  return timer.result(exitCode, command, stderr);
}

/**
 * Runs the guest on a PcMachine in this process with CR pinning `profile` ("off" included),
 * timing each BENCH line when the guest writes its last byte.
 */
export function runPinvm(o: CrpinBenchOptions, profile: PinProfile): GuestRun {
  const timer = new LineTimer(o.iterations, o.rounds);
  const append = `iterations=${o.iterations} rounds=${o.rounds}`;
  const machine = new PcMachine({
    memoryBytes: 128 * 1024 * 1024,
    serial: (byte) => timer.feed(String.fromCharCode(byte), process.hrtime.bigint()),
    debugExit: { iobase: 0xf4, iosize: 4 },
    pinning: { profile },
  });
  loadMultiboot(machine, new Uint8Array(readFileSync(o.guest)), { commandLine: `${o.guest} ${append}` });
  const result = machine.run({ maxInstructions: 20_000_000_000 });
  const command = [`PcMachine --cr-pin ${profile}`, "-kernel", o.guest, "-append", append];
  return timer.result(
    result.exitCode,
    command,
    result.kind === "debug-exit" ? "" : JSON.stringify(result.kind),
  );
}

/** Per-configuration medians over every measured round of every run. */
interface Summary {
  label: string;
  profileSeen: string;
  nsPerIteration: Record<LoopName, number>;
  /** Fastest and slowest measured round, ns per iteration: the noise to read the medians against. */
  nsRange: Record<LoopName, [number, number]>;
  tscPerIteration: Record<LoopName, number>;
}

function summarize(label: string, runs: GuestRun[]): Summary {
  const ns = {} as Record<LoopName, number>;
  const range = {} as Record<LoopName, [number, number]>;
  const tsc = {} as Record<LoopName, number>;
  for (const l of LOOPS) {
    const samples = runs.flatMap((r) => r.secondsPerIteration.get(l)!);
    ns[l] = median(samples) * 1e9;
    range[l] = [Math.min(...samples) * 1e9, Math.max(...samples) * 1e9];
    tsc[l] = median(runs.flatMap((r) => r.tscPerIteration.get(l)!));
  }
  const seen = [...new Set(runs.map((r) => r.profile ?? "?"))].join("/");
  return { label, profileSeen: seen, nsPerIteration: ns, nsRange: range, tscPerIteration: tsc };
}

function describeRun(run: GuestRun): string {
  const tail = run.serial.split("\n").slice(-6).join("\n  | ");
  const err = run.stderr.trim().split("\n").slice(-3).join("\n  ! ");
  return `exit ${run.exitCode}; command: ${run.command.join(" ")}\n  | ${tail}${err ? `\n  ! ${err}` : ""}`;
}

function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}

function percent(pinned: number, off: number): string {
  if (!Number.isFinite(pinned) || !Number.isFinite(off) || off <= 0) return "n/a";
  const p = (pinned / off - 1) * 100;
  return `${p >= 0 ? "+" : ""}${p.toFixed(2)}%`;
}

function printSummary(s: Summary): void {
  const cells = LOOPS.map(
    (l) =>
      `${l} ${fmt(s.nsPerIteration[l])} ns [${fmt(s.nsRange[l][0])}-${fmt(s.nsRange[l][1])}]` +
      ` (tsc ${fmt(s.tscPerIteration[l])})`,
  );
  console.log(`${s.label.padEnd(16)} guest saw profile ${s.profileSeen.padEnd(9)} ${cells.join(" | ")}`);
}

/** The benchmark; returns the exit status. */
export async function main(o: CrpinBenchOptions = parseArgs(process.argv.slice(2))): Promise<number> {
  if (!guestPresent(o.guest)) return 2;
  console.log(`guest: ${o.guest}`);
  console.log(
    `pinvm: ${o.iterations} iterations per loop, ${o.rounds} rounds (first dropped), ${o.runs} runs per configuration`,
  );
  const configs = ["off", ...o.profiles];
  const runs = new Map<string, GuestRun[]>(configs.map((c) => [c, []]));
  const rejected = new Set<string>();
  // One untimed run per configuration first: the CPU's JIT and V8 warm up on the same code.
  for (const config of configs)
    runPinvm({ ...o, iterations: Math.ceil(o.iterations / 4), rounds: 1 }, config as PinProfile);
  for (let n = 0; n < o.runs; n++) {
    for (const config of n % 2 === 0 ? configs : [...configs].reverse()) {
      if (rejected.has(config)) continue;
      const run = runPinvm(o, config as PinProfile);
      const complete = LOOPS.every((l) => run.secondsPerIteration.get(l)!.length > 0);
      if (!complete) {
        console.log(`pinvm --cr-pin ${config}: no complete measurement, skipped: ${describeRun(run)}`);
        rejected.add(config);
        continue;
      }
      if (config !== "off" && run.profile !== config)
        console.log(`pinvm --cr-pin ${config}: the guest saw profile ${run.profile}: pinning is not active`);
      runs.get(config)!.push(run);
    }
  }
  const summaries = configs
    .filter((c) => runs.get(c)!.length > 0)
    .map((c) => summarize(`pinvm ${c}`, runs.get(c)!));
  for (const s of summaries) printSummary(s);

  let qemu: Summary | null = null;
  if (o.qemu && qemuAvailable()) {
    const command = qemuCommandLine(o.guest, {
      accel: "tcg",
      cpu: "max,vendor=GenuineIntel",
      extraArgs: ["-append", `iterations=${o.qemuIterations} rounds=${o.rounds}`],
    });
    const run = await runGuest(command, o.qemuIterations, o.rounds);
    if (LOOPS.every((l) => run.secondsPerIteration.get(l)!.length > 0)) {
      qemu = summarize("QEMU TCG", [run]);
      printSummary(qemu);
    } else {
      console.log(`qemu: no complete measurement: ${describeRun(run)}`);
    }
  } else if (o.qemu) {
    console.log("qemu: qemu-system-x86_64 not found; skipping the reference run");
  }

  const off = summaries.find((s) => s.label === "pinvm off");
  if (!off) {
    console.log("RESULT no pinvm measurement without pinning: nothing to compare");
    return summaries.length === 0 && qemu === null ? 1 : 0;
  }
  const parts: string[] = [];
  for (const s of summaries) {
    if (s === off) continue;
    const name = s.label.replace(/^pinvm /, "");
    parts.push(
      `${name}: mov-cr4 ${percent(s.nsPerIteration["cr4-same"], off.nsPerIteration["cr4-same"])}, ` +
        `toggle ${percent(s.nsPerIteration["cr4-toggle"], off.nsPerIteration["cr4-toggle"])}, ` +
        `plain ${percent(s.nsPerIteration.plain, off.nsPerIteration.plain)}`,
    );
  }
  const reference = qemu
    ? ` | QEMU TCG mov-cr4 ${fmt(qemu.nsPerIteration["cr4-same"])} ns, plain ${fmt(qemu.nsPerIteration.plain, 2)} ns`
    : "";
  console.log(
    `RESULT pinning overhead vs --cr-pin off (target <= 1% on mov-cr4): ${parts.join(" | ") || "n/a"} | ` +
      `pinvm off mov-cr4 ${fmt(off.nsPerIteration["cr4-same"])} ns, plain ${fmt(off.nsPerIteration.plain, 2)} ns` +
      reference,
  );
  return 0;
}

runIfMain(import.meta.url, () => main());
