/**
 * Fuzz test: no guest input may make the host throw. Random bytes (pure noise, and noise
 * biased toward valid encodings: legacy/REX prefixes + common opcodes + random ModRM/SIB/
 * displacement/immediates) are run as code in real mode, 16-bit and 32-bit protected mode
 * and 64-bit mode, with an IDT whose every vector leads to a stub that reports the vector on
 * port 0xE9 and halts. Every run must end architecturally — "halt" (an exception delivered,
 * or a HLT in the noise), "shutdown" (triple fault) or "limit" (instruction budget spent) —
 * with the CPU state consistent; a JS exception escaping Cpu.run, a broken invariant or a
 * hang (a single run that does not come back) is a finding.
 *
 * Each mode runs in a worker thread so that the main thread can detect a hang and kill it.
 * Everything is derived from one seed, printed at start; per-program seeds make any finding
 * reproducible on its own.
 *
 * Environment: PINVM_FUZZ_SEED (default 0x5eed0001), PINVM_FUZZ_ITERS (programs per mode,
 * default 1000), PINVM_FUZZ_BUDGET (instructions per program, default 1000),
 * PINVM_FUZZ_ONLY ("<mode>:<index>", run and print one program only).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { Worker, isMainThread, workerData, parentPort } from "node:worker_threads";
import { CANON_HIGH, CANON_LOW } from "../../src/cpu/cpu.js";
import { SEG } from "../../src/x86/segment.js";
import { loadFromDescriptor } from "../../src/cpu/segmentation.js";
import {
  LAYOUT,
  createMachine,
  enterLong64,
  enterProtected32,
  enterReal,
  type TestMachine,
} from "../helpers/machine.js";

/** The execution modes fuzzed. */
export const FUZZ_MODES = ["real", "prot16", "prot32", "long64"] as const;

/** One execution mode. */
export type FuzzMode = (typeof FUZZ_MODES)[number];

/** Settings of one fuzz campaign (one mode). */
export interface FuzzConfig {
  mode: FuzzMode;
  seed: number;
  iters: number;
  budget: number;
  /** Run only this program index (-1: all). */
  only: number;
}

/** A problem found by the fuzzer: a host exception, a broken invariant, or a hang. */
export interface FuzzFinding {
  mode: FuzzMode;
  index: number;
  programSeed: number;
  kind: "host-exception" | "invariant" | "hang" | "slow";
  message: string;
  stack: string;
  /** RIP (mode-relative) where the problem showed, and the bytes there. */
  rip: number;
  bytesAtRip: string;
  /** The first bytes of the program from its entry point. */
  entryBytes: string;
  entry: number;
}

/** What a worker reports for one mode. */
export interface FuzzSummary {
  mode: FuzzMode;
  programs: number;
  instructions: number;
  outcomes: Record<string, number>;
  vectors: Record<string, number>;
  maxMs: number;
  findings: FuzzFinding[];
}

const DEFAULT_SEED = 0x5eed0001;

/** Read a numeric environment variable (decimal or 0x-hex). */
function envNumber(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name}=${v} is not a number`);
  return n >>> 0;
}

/** Mix three numbers into one 32-bit seed (a murmur3-style finalizer). */
export function mixSeed(a: number, b: number, c: number): number {
  let h = (a ^ Math.imul(b + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(c + 0x7f4a7c15, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A small deterministic PRNG (xorshift32 with a multiplicative output step). */
export class Rng {
  private s: number;
  /** Seed the generator (0 is replaced by a constant). */
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x6d2b79f5;
  }
  /** Next unsigned 32-bit value. */
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return Math.imul(this.s, 0x9e3779bb) >>> 0;
  }
  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }
  /** A byte. */
  byte(): number {
    return this.u32() >>> 24;
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  /** A random element. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)];
  }
}

const LEGACY_PREFIXES = [0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65];

/** One-byte opcodes worth hitting often (ALU, MOV, stack, control, string, I/O, groups). */
const COMMON_1 = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0b, 0x10, 0x11, 0x19, 0x1b, 0x20, 0x21, 0x23, 0x25, 0x29,
  0x2b, 0x30, 0x31, 0x33, 0x38, 0x39, 0x3b, 0x3c, 0x3d, 0x50, 0x53, 0x55, 0x58, 0x5d, 0x60, 0x61, 0x63, 0x68,
  0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x74, 0x75, 0x7c, 0x7f, 0x80, 0x81, 0x83, 0x84, 0x85, 0x86,
  0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x91, 0x98, 0x99, 0x9a, 0x9c, 0x9d, 0x9e, 0x9f,
  0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb8,
  0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1,
  0xd2, 0xd3, 0xd4, 0xd5, 0xd7, 0xd8, 0xd9, 0xdb, 0xdd, 0xdf, 0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7,
  0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef, 0xf1, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc,
  0xfd, 0xfe, 0xff,
];

/** Second bytes of 0F-map opcodes worth hitting often (system, Jcc, SETcc, CMOVcc, bit ops, ...). */
const COMMON_0F = [
  0x00, 0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x0d, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x30, 0x31,
  0x32, 0x33, 0x34, 0x35, 0x40, 0x44, 0x4f, 0x80, 0x84, 0x85, 0x8f, 0x90, 0x94, 0x9f, 0xa0, 0xa1, 0xa2, 0xa3,
  0xa4, 0xa5, 0xa8, 0xa9, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8,
  0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, 0xc0, 0xc1, 0xc7, 0xc8, 0xcb, 0x38, 0x3a, 0x10, 0x11, 0x28, 0x6f, 0x7f,
  0xd6, 0xef,
];

/** Where the code lives, per mode: physical address of the two random pages. */
function codeBase(mode: FuzzMode): number {
  return mode === "real" || mode === "prot16" ? 0x8000 : LAYOUT.code;
}

/** Physical address of the per-vector handler stubs (8 bytes each). */
const STUBS = 0x3000;

/** A generated program: two pages of code bytes, entry offset and initial registers. */
export interface FuzzProgram {
  code: Uint8Array;
  entry: number;
  lo: Int32Array;
  hi: Int32Array;
  flags: number;
  randomStack: boolean;
  biased: boolean;
}

/** Append one instruction-shaped byte sequence biased toward valid encodings. */
function biasedInstr(r: Rng, mode: FuzzMode, out: number[]): void {
  const nPrefix = r.chance(0.6) ? 0 : r.below(4);
  for (let n = 0; n < nPrefix; n++) out.push(r.pick(LEGACY_PREFIXES));
  if (mode === "long64" && r.chance(0.5)) out.push(0x40 | r.below(16));
  if (r.chance(0.7)) {
    out.push(r.pick(COMMON_1));
  } else {
    out.push(0x0f);
    const b = r.pick(COMMON_0F);
    out.push(b);
    if (b === 0x38 || b === 0x3a) out.push(r.byte());
  }
  // ModRM: favour register operands and simple memory forms half the time.
  const modrm = r.chance(0.5) ? 0xc0 | r.below(64) : r.byte();
  out.push(modrm);
  // Enough trailing bytes for SIB, displacement and immediates; they may become the next instruction.
  const tail = r.below(7);
  for (let n = 0; n < tail; n++) out.push(r.chance(0.3) ? 0 : r.byte());
}

/** Generate program `index` of `mode` under campaign `seed`. */
export function generateProgram(seed: number, mode: FuzzMode, index: number): FuzzProgram {
  const r = new Rng(mixSeed(seed, FUZZ_MODES.indexOf(mode), index));
  const code = new Uint8Array(8192);
  const biased = r.chance(0.6);
  if (biased) {
    const seq: number[] = [];
    while (seq.length < code.length) {
      if (r.chance(0.05)) seq.push(r.byte());
      else biasedInstr(r, mode, seq);
    }
    code.set(seq.slice(0, code.length));
  } else {
    for (let n = 0; n < code.length; n++) code[n] = r.byte();
  }
  // Mostly start at the top of the first page; sometimes near its end to cross into the second.
  const entry = r.chance(0.8) ? 0 : r.chance(0.5) ? 4096 - 1 - r.below(15) : r.below(4096);
  const lo = new Int32Array(16);
  const hi = new Int32Array(16);
  const small = r.chance(0.6);
  for (let n = 0; n < 16; n++) {
    if (small) {
      lo[n] = r.chance(0.2) ? r.below(16) : r.below(0x200000); // inside the 2 MiB of RAM
      hi[n] = 0;
    } else {
      lo[n] = r.u32() | 0;
      hi[n] = r.chance(0.5) ? 0 : r.chance(0.5) ? -1 : r.u32() | 0;
    }
  }
  const randomStack = r.chance(0.03);
  // Status flags and DF at random (CF PF AF ZF SF DF OF).
  const flags = r.u32() & 0xcd5;
  return { code, entry, lo, hi, flags, randomStack, biased };
}

function hex(bytes: ArrayLike<number>): string {
  return Array.from(bytes, (b) => (b & 0xff).toString(16).padStart(2, "0")).join(" ");
}

/** The machine for one program: handler stubs, IDT, mode, code and registers in place. */
function setUp(mode: FuzzMode, p: FuzzProgram, events: number[]): TestMachine {
  const m = createMachine(2);
  m.hooks.ioWrite = (port, _size, value) => {
    if (port === 0xe9) events.push(value & 0xff);
  };
  const { cpu, mem } = m;
  // Stub for vector v: mov al, v; out 0xe9, al; hlt; jmp $-1 (same bytes in every mode).
  for (let v = 0; v < 256; v++)
    mem.load(STUBS + v * 8, Uint8Array.of(0xb0, v, 0xe6, 0xe9, 0xf4, 0xeb, 0xfd, 0x90));
  const stub = (v: number): number => STUBS + v * 8;
  switch (mode) {
    case "real":
      enterReal(m);
      cpu.idtrBase = 0;
      cpu.idtrLimit = 0x3ff;
      for (let v = 0; v < 256; v++) mem.write32(v * 4, stub(v)); // segment 0, offset = stub
      break;
    case "prot16":
    case "prot32":
      enterProtected32(m);
      if (mode === "prot16") {
        const d = { lo: 0x0000ffff, hi: 0x00009b00, addr: LAYOUT.gdt + 0x38 };
        loadFromDescriptor(cpu, SEG.CS, 0x38, d);
        cpu.updateMode();
      }
      cpu.idtrBase = LAYOUT.idt;
      cpu.idtrLimit = 256 * 8 - 1;
      for (let v = 0; v < 256; v++) {
        // 16-bit interrupt gates into the 16-bit code segment, or 32-bit gates into code32.
        const sel = mode === "prot16" ? 0x38 : 0x18;
        const type = mode === "prot16" ? 0x8600 : 0x8e00;
        mem.write32(LAYOUT.idt + v * 8, ((sel << 16) | (stub(v) & 0xffff)) >>> 0);
        mem.write32(LAYOUT.idt + v * 8 + 4, ((stub(v) & 0xffff0000) | type) >>> 0);
      }
      break;
    case "long64":
      enterLong64(m);
      cpu.idtrBase = LAYOUT.idt;
      cpu.idtrLimit = 256 * 16 - 1;
      for (let v = 0; v < 256; v++) {
        const a = LAYOUT.idt + v * 16;
        mem.write32(a, ((0x08 << 16) | (stub(v) & 0xffff)) >>> 0);
        mem.write32(a + 4, ((stub(v) & 0xffff0000) | 0x8e00) >>> 0);
        mem.write32(a + 8, 0);
        mem.write32(a + 12, 0);
      }
      break;
  }
  const base = codeBase(mode);
  mem.load(base, p.code);
  const sp = cpu.lo[4];
  cpu.lo.set(p.lo);
  cpu.hi.set(p.hi);
  if (!p.randomStack) {
    cpu.lo[4] = sp;
    cpu.hi[4] = 0;
  }
  if (mode !== "long64") cpu.hi.fill(0);
  cpu.setEflags(p.flags | 2);
  cpu.rip = base + p.entry; // CS base is 0 in every mode here
  cpu.halted = false;
  return m;
}

/** Bytes at the current RIP, read without faulting (for reports). */
function bytesAt(m: TestMachine, rip: number): string {
  const { cpu, mem } = m;
  const lin = cpu.long64 ? rip : (cpu.segBase[SEG.CS] + rip) >>> 0;
  const out: number[] = [];
  for (let n = 0; n < 15; n++) {
    const a = lin + n;
    if (a < 0 || a >= mem.size) break;
    out.push(mem.u8[a]); // paging here is the identity map, so linear = physical
  }
  return hex(out);
}

/** Check the architectural invariants of the CPU state after a run; returns a message or "". */
function checkInvariants(
  m: TestMachine,
  mode: FuzzMode,
  result: unknown,
  icount0: number,
  budget: number,
): string {
  const { cpu } = m;
  if (result !== "halt" && result !== "shutdown" && result !== "limit")
    return `run() returned ${String(result)}`;
  if (!(cpu.lo instanceof Int32Array) || cpu.lo.length !== 16) return "cpu.lo is not an Int32Array(16)";
  if (!(cpu.hi instanceof Int32Array) || cpu.hi.length !== 16) return "cpu.hi is not an Int32Array(16)";
  if (!Number.isInteger(cpu.icount) || cpu.icount < icount0 || cpu.icount > icount0 + budget + 64) {
    return `icount advanced from ${icount0} to ${cpu.icount} with a budget of ${budget}`;
  }
  if (!Number.isInteger(cpu.rip)) return `rip is not an integer: ${cpu.rip}`;
  if (result === "shutdown") return "";
  if (cpu.long64) {
    if (cpu.rip < CANON_LOW || cpu.rip >= CANON_HIGH) return `rip ${cpu.rip} is not canonical in 64-bit mode`;
  } else {
    if (cpu.rip < 0 || cpu.rip > 0xffffffff) return `rip ${cpu.rip} out of the 32-bit range`;
    if (cpu.rip > cpu.segLimit[SEG.CS] + 1) {
      return `rip ${cpu.rip.toString(16)} beyond CS limit ${cpu.segLimit[SEG.CS].toString(16)} + 1`;
    }
    if (cpu.codeSize === 2 && cpu.rip > 0x10000)
      return `rip ${cpu.rip.toString(16)} beyond 64 KiB in 16-bit code`;
  }
  if (cpu.codeSize !== 2 && cpu.codeSize !== 4 && cpu.codeSize !== 8) return `codeSize ${cpu.codeSize}`;
  if (!(cpu.cpl >= 0 && cpu.cpl <= 3 && Number.isInteger(cpu.cpl))) return `cpl ${cpu.cpl}`;
  const fl = cpu.getEflags();
  if (!Number.isInteger(fl) || fl < 0 || fl > 0xffffffff || (fl & 2) === 0) return `eflags ${fl}`;
  for (let s = 0; s < 8; s++) {
    if (!Number.isFinite(cpu.segBase[s]) || !Number.isFinite(cpu.segLimit[s]))
      return `segment ${s} base/limit not finite`;
    if (cpu.segSel[s] < 0 || cpu.segSel[s] > 0xffff) return `segment ${s} selector ${cpu.segSel[s]}`;
  }
  if (!Number.isFinite(cpu.cr2)) return `cr2 ${cpu.cr2}`;
  void mode;
  return "";
}

/** Run one program; returns a finding or null, and records the outcome. */
function runOne(cfg: FuzzConfig, index: number, summary: FuzzSummary): FuzzFinding | null {
  const programSeed = mixSeed(cfg.seed, FUZZ_MODES.indexOf(cfg.mode), index);
  const p = generateProgram(cfg.seed, cfg.mode, index);
  const events: number[] = [];
  const m = setUp(cfg.mode, p, events);
  const entryBytes = hex(p.code.subarray(p.entry, p.entry + 24));
  const icount0 = m.cpu.icount;
  const t0 = performance.now();
  let result: unknown;
  const base = (kind: FuzzFinding["kind"], message: string, stack: string): FuzzFinding => ({
    mode: cfg.mode,
    index,
    programSeed,
    kind,
    message,
    stack,
    rip: m.cpu.rip,
    bytesAtRip: bytesAt(m, m.cpu.rip),
    entryBytes,
    entry: p.entry,
  });
  try {
    result = m.cpu.run(cfg.budget);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(`non-Error thrown: ${JSON.stringify(e)}`);
    summary.outcomes["host-exception"] = (summary.outcomes["host-exception"] ?? 0) + 1;
    return base("host-exception", `${err.name}: ${err.message}`, err.stack ?? "");
  }
  const ms = performance.now() - t0;
  summary.maxMs = Math.max(summary.maxMs, ms);
  summary.instructions += m.cpu.icount - icount0;
  const key = String(result);
  summary.outcomes[key] = (summary.outcomes[key] ?? 0) + 1;
  if (result === "halt") {
    const v = events.length > 0 ? `#${events[events.length - 1]}` : "hlt";
    summary.vectors[v] = (summary.vectors[v] ?? 0) + 1;
  }
  let msg: string;
  try {
    msg = checkInvariants(m, cfg.mode, result, icount0, cfg.budget);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    return base("host-exception", `while checking state: ${err.name}: ${err.message}`, err.stack ?? "");
  }
  if (msg !== "") return base("invariant", msg, "");
  if (ms > 2000) return base("slow", `one program took ${ms.toFixed(0)} ms`, "");
  return null;
}

/** Run a campaign for one mode. `progress[0]` receives the index being run (for hang reports). */
export function runCampaign(cfg: FuzzConfig, progress?: Int32Array): FuzzSummary {
  const summary: FuzzSummary = {
    mode: cfg.mode,
    programs: 0,
    instructions: 0,
    outcomes: {},
    vectors: {},
    maxMs: 0,
    findings: [],
  };
  const seen = new Set<string>();
  const first = cfg.only >= 0 ? cfg.only : 0;
  const last = cfg.only >= 0 ? cfg.only + 1 : cfg.iters;
  for (let index = first; index < last; index++) {
    if (progress) Atomics.store(progress, 0, index);
    const f = runOne(cfg, index, summary);
    summary.programs++;
    if (f === null) continue;
    // One report per distinct problem (message and first stack frame in the core).
    const frame = f.stack.split("\n").find((l) => l.includes("/src/")) ?? "";
    const key = `${f.kind}|${f.message.replace(/[0-9a-f]{4,}/g, "N")}|${frame.trim()}`;
    if (seen.has(key) || summary.findings.length >= 25) continue;
    seen.add(key);
    summary.findings.push(f);
  }
  return summary;
}

/** Human-readable text for a finding, with what is needed to reproduce it. */
export function describeFinding(f: FuzzFinding, seed: number): string {
  return [
    `[${f.kind}] mode=${f.mode} program=${f.index} (PINVM_FUZZ_SEED=0x${seed.toString(16)} PINVM_FUZZ_ONLY=${f.mode}:${f.index})`,
    `  ${f.message}`,
    `  entry offset ${f.entry}: ${f.entryBytes}`,
    `  rip=${f.rip.toString(16)} bytes at rip: ${f.bytesAtRip}`,
    ...(f.stack
      ? f.stack
          .split("\n")
          .slice(0, 8)
          .map((l) => `  ${l}`)
      : []),
  ].join("\n");
}

/** Run a campaign in a worker, killing it when it stops making progress (a hang). */
function runInWorker(cfg: FuzzConfig, stallMs: number): Promise<FuzzSummary> {
  const progress = new Int32Array(new SharedArrayBuffer(4));
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { fuzz: cfg, progress } });
    let last = -1;
    let lastChange = Date.now();
    const timer = setInterval(() => {
      const now = Atomics.load(progress, 0);
      if (now !== last) {
        last = now;
        lastChange = Date.now();
        return;
      }
      if (Date.now() - lastChange < stallMs) return;
      clearInterval(timer);
      void worker.terminate();
      const p = generateProgram(cfg.seed, cfg.mode, now);
      resolve({
        mode: cfg.mode,
        programs: now,
        instructions: 0,
        outcomes: {},
        vectors: {},
        maxMs: stallMs,
        findings: [
          {
            mode: cfg.mode,
            index: now,
            programSeed: mixSeed(cfg.seed, FUZZ_MODES.indexOf(cfg.mode), now),
            kind: "hang",
            message: `no progress for ${stallMs} ms (worker killed)`,
            stack: "",
            rip: -1,
            bytesAtRip: "",
            entryBytes: hex(p.code.subarray(p.entry, p.entry + 24)),
            entry: p.entry,
          },
        ],
      });
    }, 250);
    worker.once("message", (s: FuzzSummary) => {
      clearInterval(timer);
      resolve(s);
    });
    worker.once("error", (e) => {
      clearInterval(timer);
      reject(e);
    });
  });
}

if (!isMainThread && workerData?.fuzz !== undefined) {
  const { fuzz, progress } = workerData as { fuzz: FuzzConfig; progress: Int32Array };
  parentPort!.postMessage(runCampaign(fuzz, progress));
} else if (isMainThread) {
  const seed = envNumber("PINVM_FUZZ_SEED", DEFAULT_SEED);
  const iters = envNumber("PINVM_FUZZ_ITERS", 1000);
  const budget = envNumber("PINVM_FUZZ_BUDGET", 1000);
  const onlySpec = process.env.PINVM_FUZZ_ONLY ?? "";
  const [onlyMode, onlyIndex] = onlySpec.split(":");
  console.log(
    `# fuzz: PINVM_FUZZ_SEED=0x${seed.toString(16)} PINVM_FUZZ_ITERS=${iters} PINVM_FUZZ_BUDGET=${budget}` +
      (onlySpec ? ` PINVM_FUZZ_ONLY=${onlySpec}` : ""),
  );
  for (const mode of FUZZ_MODES) {
    if (onlySpec && onlyMode !== mode) continue;
    test(`fuzz ${mode}: random code ends in halt, shutdown or limit, never a host exception`, async () => {
      const cfg: FuzzConfig = { mode, seed, iters, budget, only: onlySpec ? Number(onlyIndex) : -1 };
      if (cfg.only >= 0) {
        const p = generateProgram(seed, mode, cfg.only);
        console.log(`# program ${mode}:${cfg.only} entry=${p.entry} biased=${p.biased}`);
        console.log(`# bytes: ${hex(p.code.subarray(p.entry, p.entry + 64))}`);
      }
      const s = await runInWorker(cfg, 10_000);
      const outcomes = Object.entries(s.outcomes)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ");
      const vectors = Object.entries(s.vectors)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k}:${v}`)
        .join(" ");
      console.log(
        `# ${mode}: ${s.programs} programs, ${s.instructions} instructions, slowest ${s.maxMs.toFixed(1)} ms; ${outcomes}`,
      );
      console.log(`# ${mode} halts by vector: ${vectors}`);
      for (const f of s.findings) console.log(describeFinding(f, seed));
      assert.equal(
        s.findings.length,
        0,
        `${s.findings.length} fuzz finding(s) in ${mode}:\n` +
          s.findings.map((f) => describeFinding(f, seed)).join("\n"),
      );
    });
  }
}
