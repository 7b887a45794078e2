/**
 * CPU benchmark: runs the integer workload guest (guests/build/bench_int.elf, built from
 * guests/bench_int.c) under pinvm in this process and under `qemu-system-x86_64 -accel tcg`,
 * and prints guest instructions per second for both and their ratio.
 *
 * The timed part is what the guest does between its serial lines `BENCH START` and
 * `BENCH END`. pinvm counts the instructions it retires in between (cpu.icount) and the wall
 * time; QEMU is timed by when the two lines arrive on its serial stdout (process.hrtime).
 * The guest is deterministic, so QEMU retires the same instructions between the markers as
 * pinvm does — provided both print the same `bench-checksum`, which is checked and printed.
 * Every round of the guest executes the same number of instructions, so pinvm's counts for
 * 1 and N rounds give the count for any number of rounds; QEMU is timed over many more
 * rounds than pinvm could run in reasonable time (see main()).
 *
 * The pinvm side is a minimal PC for this guest only: RAM, a Multiboot v1 load, the
 * transmit side of a 16550 UART at 0x3F8 and the isa-debug-exit device at 0xF4 (kept here,
 * in bench/, until the VMM's machine model can be used instead).
 *
 * Entry: "multiboot" boots the image as QEMU does (32-bit entry, the runtime's own switch to
 * long mode). "direct" skips the runtime's start-up: the host puts the CPU in 64-bit mode
 * (identity paging, flat GDT, an IDT whose stubs report the vector) and calls test_main(),
 * with multiboot_info pointing at the info structure. The instructions between the markers
 * are the same either way; "direct" lets the benchmark run while the system instructions of
 * the start-up are still missing from the core. "auto" (default) tries multiboot first.
 *
 * pinvm's figure, the one compared with QEMU, is a run of as many rounds as QEMU's timed runs
 * (`--long-rounds`, default `--qemu-rounds`): the same instructions between the markers for
 * both, each on a fresh machine, so both include their warm-up (pinvm: block compilation and
 * V8's optimization of the compiled functions; QEMU: translation). Before it pinvm makes a
 * 1-round and a `--rounds`-round run (for the per-round count, and a "short run" figure that
 * shows how much of a short run the warm-up takes), and after it `--steady-runs` more short
 * runs whose median is the steady-state figure. All pinvm runs are in one process, each on a
 * new Cpu and PhysicalMemory.
 *
 * Usage: node dist/bench/run.js [--rounds N] [--qemu-rounds N] [--qemu-runs N] [--no-qemu] [--guest path]
 *                               [--max-instructions N] [--entry auto|multiboot|direct] [--steady-runs N]
 *                               [--long-rounds N]
 * Benchmarks never fail on time: the exit status is 0 unless a run could not be made at all
 * or the checksums differ.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Cpu } from "../src/cpu/cpu.js";
import { PhysicalMemory } from "../src/cpu/memory.js";
import { defaultHooks } from "../src/cpu/hooks.js";
import { OPCODES } from "../src/cpu/optable.js";
import { ATTR, SEG } from "../src/x86/segment.js";
import {
  multibootInitialState,
  parseMultiboot,
  writeMultibootInfo,
  type MultibootSegmentState,
} from "../src/vmm/loaders/multiboot.js";
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

/** Guest RAM, the same for both runs. */
const MEM_MIB = 128;
/** Where the Multiboot information structure goes (below the 640 KiB line, above the IVT). */
const INFO_ADDR = 0x9000;
const COM1 = 0x3f8;
const DEBUG_EXIT = 0xf4;

/** Command-line options. */
export interface BenchOptions {
  guest: string;
  rounds: number;
  qemuRuns: number;
  /** Rounds for the timed QEMU runs. */
  qemuRounds: number;
  qemu: boolean;
  maxInstructions: number;
  entry: "auto" | "multiboot" | "direct";
  /**
   * Extra pinvm runs of `rounds` rounds after the measured one, in the same process, for the
   * steady-state figure (compiled blocks and V8's optimized code are warm by then).
   */
  steadyRuns: number;
  /**
   * Rounds of pinvm's main timed run, the figure compared with QEMU: by default the same as
   * `qemuRounds`, so both are timed over the same instructions (0 skips that run).
   */
  longRounds: number | null;
}

/** Result of the pinvm run. */
export interface PinvmResult {
  serial: string;
  exitCode: number | null;
  stop: string;
  /** Instructions retired between the markers (null when a marker was missing). */
  instructions: number | null;
  /** Seconds between the markers. */
  seconds: number | null;
  totalInstructions: number;
  totalSeconds: number;
  checksum: string | null;
  /** Bytes at RIP when the run ended abnormally. */
  ripBytes: string;
  rip: number;
  /** How the guest was entered. */
  entry: "multiboot" | "direct";
  /** Direct entry: an exception that reached the host's IDT stubs, as text. */
  trap: string | null;
  /** The processor, for inspection after the run. */
  cpu: Cpu;
}

/** Result of one QEMU run. */
export interface QemuResult {
  serial: string;
  exitCode: number | null;
  seconds: number | null;
  checksum: string | null;
  command: string[];
}

/**
 * Parse the command line (defaults: the bench_int guest, short pinvm runs of 5 rounds, 3 QEMU
 * runs of 200 rounds and one pinvm run of the same 200 rounds).
 */
export function parseArgs(argv: string[]): BenchOptions {
  const root = repoRoot(import.meta.url);
  const o: BenchOptions = {
    guest: join(root, "guests", "build", "bench_int.elf"),
    rounds: 5,
    qemuRuns: 3,
    qemuRounds: 200,
    qemu: true,
    maxInstructions: 500_000_000,
    entry: "auto",
    steadyRuns: 3,
    longRounds: null,
  };
  eachOption(argv, (a, next) => {
    if (a === "--rounds") o.rounds = Number(next());
    else if (a === "--qemu-runs") o.qemuRuns = Number(next());
    else if (a === "--qemu-rounds") o.qemuRounds = Number(next());
    else if (a === "--no-qemu") o.qemu = false;
    else if (a === "--steady-runs") o.steadyRuns = Number(next());
    else if (a === "--long-rounds") o.longRounds = Number(next());
    else if (a === "--guest") o.guest = next();
    else if (a === "--max-instructions") o.maxInstructions = Number(next());
    else if (a === "--entry") {
      const e = next();
      if (e !== "auto" && e !== "multiboot" && e !== "direct") throw new Error(`--entry ${e}`);
      o.entry = e;
    } else return false;
    return true;
  });
  return o;
}

function checksumOf(serial: string): string | null {
  const m = /^bench-checksum ([0-9a-f]+)$/m.exec(serial);
  return m ? m[1] : null;
}

/** Put a segment register into the state the Multiboot loader promises. */
function setSegment(cpu: Cpu, seg: number, s: MultibootSegmentState): void {
  cpu.segSel[seg] = s.selector;
  cpu.segBase[seg] = s.base;
  cpu.segLimit[seg] = s.limit;
  cpu.segAttr[seg] =
    s.type |
    (s.s ? ATTR.S : 0) |
    (s.dpl << ATTR.DPL_SHIFT) |
    (s.present ? ATTR.P : 0) |
    (s.db ? ATTR.DB : 0) |
    (s.g ? ATTR.G : 0) |
    (s.l ? ATTR.L : 0);
}

/** Addresses used by the direct entry (all below the image at 1 MiB). */
const DIRECT = { gdt: 0x7000, idt: 0xa000, stubs: 0xb000, retStub: 0xb800, pml4: 0x20000, stack: 0x80000 };

/** Look up symbols in the ELF64 link of the guest (nm). */
function symbols(elf64: string, names: string[]): Map<string, number> {
  const r = spawnSync("nm", [elf64], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`nm ${elf64} failed: ${r.stderr}`);
  const out = new Map<string, number>();
  for (const l of r.stdout.split("\n")) {
    const [addr, , name] = l.trim().split(/\s+/);
    if (names.includes(name)) out.set(name, parseInt(addr, 16));
  }
  for (const n of names) if (!out.has(n)) throw new Error(`symbol ${n} not in ${elf64}`);
  return out;
}

/**
 * Direct entry: 64-bit mode set up by the host, then a call of test_main() that returns to a
 * stub writing EAX to the debug-exit port. IDT stubs write the vector to port 0xE9 and halt.
 */
function enterDirect(cpu: Cpu, mem: PhysicalMemory, elf64: string): void {
  const sym = symbols(elf64, ["test_main", "multiboot_info", "multiboot_magic"]);
  mem.write32(sym.get("multiboot_info")!, INFO_ADDR);
  mem.write32(sym.get("multiboot_magic")!, 0x2badb002);
  // GDT: null, 0x08 code64, 0x10 data.
  const gdt: [number, number][] = [
    [0, 0],
    [0x0000ffff, 0x00af9b00],
    [0x0000ffff, 0x00cf9300],
  ];
  gdt.forEach(([lo, hi], n) => {
    mem.write32(DIRECT.gdt + n * 8, lo);
    mem.write32(DIRECT.gdt + n * 8 + 4, hi);
  });
  cpu.gdtrBase = DIRECT.gdt;
  cpu.gdtrLimit = gdt.length * 8 - 1;
  // Identity map of the first 1 GiB with 2 MiB pages.
  mem.write32(DIRECT.pml4, (DIRECT.pml4 + 0x1000) | 3);
  mem.write32(DIRECT.pml4 + 0x1000, (DIRECT.pml4 + 0x2000) | 3);
  for (let n = 0; n < 512; n++) mem.write32(DIRECT.pml4 + 0x2000 + n * 8, ((n << 21) | 0x83) >>> 0);
  // IDT: vector v -> stub: mov al, v; out 0xe9, al; hlt.
  for (let v = 0; v < 256; v++) {
    const stub = DIRECT.stubs + v * 8;
    mem.load(stub, Uint8Array.of(0xb0, v, 0xe6, 0xe9, 0xf4, 0xeb, 0xfd, 0x90));
    mem.write32(DIRECT.idt + v * 16, ((0x08 << 16) | (stub & 0xffff)) >>> 0);
    mem.write32(DIRECT.idt + v * 16 + 4, ((stub & 0xffff0000) | 0x8e00) >>> 0);
  }
  cpu.idtrBase = DIRECT.idt;
  cpu.idtrLimit = 256 * 16 - 1;
  // Return stub: out 0xf4, eax; hlt.
  mem.load(DIRECT.retStub, Uint8Array.of(0xe7, 0xf4, 0xf4, 0xeb, 0xfd));
  cpu.cr4 = 0x20; // PAE
  cpu.cr3 = DIRECT.pml4;
  cpu.efer = 0x500; // LME | LMA
  cpu.cr0 = 0x80010011; // PG | WP | ET | PE
  const code = { selector: 0x08, base: 0, limit: 0xffffffff, type: 0xb, l: 1, db: 0 };
  cpu.segSel[SEG.CS] = code.selector;
  cpu.segBase[SEG.CS] = 0;
  cpu.segLimit[SEG.CS] = 0xffffffff;
  cpu.segAttr[SEG.CS] = 0xb | ATTR.S | ATTR.P | ATTR.L | ATTR.G;
  for (const s of [SEG.DS, SEG.ES, SEG.FS, SEG.GS, SEG.SS]) {
    cpu.segSel[s] = 0x10;
    cpu.segBase[s] = 0;
    cpu.segLimit[s] = 0xffffffff;
    cpu.segAttr[s] = 0x3 | ATTR.S | ATTR.P | ATTR.DB | ATTR.G;
  }
  cpu.cpl = 0;
  cpu.setEflags(2);
  cpu.updateMode();
  cpu.flushTlb(false);
  // call test_main with the return stub's address on a 16-byte aligned stack (minus 8).
  cpu.lo[4] = DIRECT.stack - 8;
  cpu.hi[4] = 0;
  mem.write32(DIRECT.stack - 8, DIRECT.retStub);
  mem.write32(DIRECT.stack - 4, 0);
  cpu.rip = sym.get("test_main")!;
}

/** Run the guest under pinvm; counts instructions and time between the markers. */
export function runPinvm(o: BenchOptions, entry: "multiboot" | "direct"): PinvmResult {
  const image = new Uint8Array(readFileSync(o.guest));
  const mb = parseMultiboot(image);
  const mem = new PhysicalMemory(MEM_MIB * 1024 * 1024);
  for (const s of mb.segments) mem.load(s.paddr, s.data); // RAM is zero: bss needs nothing
  writeMultibootInfo(mem.u8, INFO_ADDR, {
    memLowerKiB: 639,
    memUpperKiB: (MEM_MIB - 1) * 1024,
    commandLine: `rounds=${o.rounds}`,
    bootLoaderName: "pinvm-bench",
  });

  const hooks = defaultHooks();
  let serial = "";
  let line = "";
  let lcr = 0;
  let exitCode: number | null = null;
  let startCount = -1;
  let endCount = -1;
  let startTime = 0n;
  let endTime = 0n;
  let trap: string | null = null;
  // eslint-disable-next-line prefer-const
  let cpu: Cpu;
  hooks.ioWrite = (port, _size, value) => {
    if (port === COM1 + 3) lcr = value & 0xff;
    else if (port === COM1 && (lcr & 0x80) === 0) {
      const ch = String.fromCharCode(value & 0xff);
      serial += ch;
      if (ch !== "\n") {
        line += ch;
        return;
      }
      if (line === "BENCH START") {
        startCount = cpu.icount;
        startTime = process.hrtime.bigint();
      } else if (line === "BENCH END") {
        endCount = cpu.icount;
        endTime = process.hrtime.bigint();
      }
      line = "";
    } else if (port === 0xe9 && entry === "direct") {
      // An IDT stub: the frame is [error code,] RIP, CS, RFLAGS, RSP, SS on the stack.
      const v = value & 0xff;
      const withError = [8, 10, 11, 12, 13, 14, 17, 21, 29, 30].includes(v);
      const sp = cpu.reg64(4) + (withError ? 8 : 0);
      const rip = mem.read32(sp) + mem.read32(sp + 4) * 4294967296;
      const err = withError ? ` error=${mem.read32(sp - 8).toString(16)}` : "";
      trap = `vector ${v}${err} at rip=${rip.toString(16)}: ${bytesAt(mem, rip)}`;
      cpu.stopRequested = true;
    } else if (port === DEBUG_EXIT) {
      exitCode = value >>> 0;
      cpu.stopRequested = true;
    }
  };
  hooks.ioRead = (port, size) => {
    if (port === COM1 + 5) return 0x60; // LSR: transmitter holding register and shifter empty
    if (port === COM1 + 3) return lcr;
    if (port >= COM1 && port < COM1 + 8) return 0;
    return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  };
  // IA32_APIC_BASE (1BH) belongs to the local APIC, which the hypervisor models (src/hv):
  // this minimal PC answers the guest runtime's start-up read with the power-up value of a
  // bootstrap processor (base FEE00000H, BSP and global enable set; SDM Vol.3 11.4.4) and
  // accepts writes; every other MSR the CPU does not own gets #GP, as before.
  let apicBase = 0xfee00900;
  hooks.rdmsr = (index) => (index === 0x1b ? { lo: apicBase, hi: 0 } : "gp");
  hooks.wrmsr = (index, lo, hi) => {
    if (index !== 0x1b || hi !== 0) return false;
    apicBase = lo >>> 0;
    return true;
  };
  cpu = new Cpu(mem, hooks);

  if (entry === "direct") {
    enterDirect(cpu, mem, o.guest.replace(/\.elf$/, ".elf64"));
  } else {
    const st = multibootInitialState(mb.entry, INFO_ADDR);
    cpu.cr0 = st.cr0;
    setSegment(cpu, SEG.CS, st.cs);
    setSegment(cpu, SEG.DS, st.ds);
    setSegment(cpu, SEG.ES, st.es);
    setSegment(cpu, SEG.FS, st.fs);
    setSegment(cpu, SEG.GS, st.gs);
    setSegment(cpu, SEG.SS, st.ss);
    cpu.cpl = 0;
    cpu.setEflags(st.eflags);
    cpu.updateMode();
    cpu.lo[0] = st.eax;
    cpu.lo[3] = st.ebx;
    cpu.rip = st.eip;
  }

  const t0 = process.hrtime.bigint();
  let stop = "limit";
  const icount0 = cpu.icount;
  while (exitCode === null && trap === null && cpu.icount - icount0 < o.maxInstructions) {
    stop = cpu.run(Math.min(10_000_000, o.maxInstructions - (cpu.icount - icount0)));
    if (stop === "halt" || stop === "shutdown" || stop === "stop") break;
  }
  const t1 = process.hrtime.bigint();
  const ok = startCount >= 0 && endCount >= 0;
  const ripBytes =
    exitCode === null ? bytesAt(mem, cpu.long64 ? cpu.rip : (cpu.segBase[SEG.CS] + cpu.rip) >>> 0) : "";
  return {
    serial,
    exitCode,
    stop,
    instructions: ok ? endCount - startCount : null,
    seconds: ok ? elapsedSeconds(startTime, endTime) : null,
    totalInstructions: cpu.icount - icount0,
    totalSeconds: elapsedSeconds(t0, t1),
    checksum: checksumOf(serial),
    ripBytes,
    rip: cpu.rip,
    entry,
    trap,
    cpu,
  };
}

/** Up to 15 bytes at a physical (= identity-mapped linear) address, as hex. */
function bytesAt(mem: PhysicalMemory, addr: number): string {
  const b: string[] = [];
  for (let n = 0; n < 15 && addr + n >= 0 && addr + n < mem.size; n++)
    b.push(mem.u8[addr + n].toString(16).padStart(2, "0"));
  return b.join(" ");
}

/** Run the guest once under QEMU TCG, timing the markers as they arrive on stdout. */
export async function runQemu(o: BenchOptions): Promise<QemuResult> {
  const command = qemuCommandLine(o.guest, {
    accel: "tcg",
    memMiB: MEM_MIB,
    extraArgs: ["-append", `rounds=${o.rounds}`],
  });
  const lines = new LineSplitter();
  let serial = "";
  let start = 0n;
  let end = 0n;
  const { exitCode } = await runTimedChild(command, 600_000, (text, now) => {
    serial += text;
    for (const l of lines.feed(text)) {
      if (l === "BENCH START") start = now;
      else if (l === "BENCH END") end = now;
    }
  });
  return {
    serial,
    exitCode,
    seconds: start !== 0n && end !== 0n ? elapsedSeconds(start, end) : null,
    checksum: checksumOf(serial),
    command,
  };
}

/**
 * Which instructions of the guest pinvm's decoder does not know: disassembles the image with
 * objdump and looks every opcode up in the opcode tables. Returns "mnemonic (opcode)" lines.
 * Only the 64-bit text is meaningful (boot.S's 32-bit start-up is disassembled as 64-bit).
 */
export function missingInstructions(elf64: string): string[] {
  const r = spawnSync("objdump", ["-d", "-M", "intel", "--insn-width=16", elf64], { encoding: "utf8" });
  if (r.status !== 0) return [`(objdump failed: ${r.stderr})`];
  const missing = new Map<string, number>();
  for (const l of r.stdout.split("\n")) {
    const m = /^\s*[0-9a-f]+:\t((?:[0-9a-f]{2} )+)\s*\t?(\S+)/.exec(l);
    if (!m) continue;
    const bytes = m[1]
      .trim()
      .split(" ")
      .map((h) => parseInt(h, 16));
    let n = 0;
    while (
      n < bytes.length &&
      [0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65].includes(bytes[n])
    )
      n++;
    if (n < bytes.length && (bytes[n] & 0xf0) === 0x40) n++;
    let opcode = bytes[n];
    if (opcode === 0x0f) {
      const b = bytes[n + 1];
      opcode = b === 0x38 ? 0x200 | bytes[n + 2] : b === 0x3a ? 0x300 | bytes[n + 2] : 0x100 | b;
    }
    let def = OPCODES[opcode];
    if (def?.group !== undefined) {
      const modrmAt = n + (opcode >= 0x200 ? 3 : opcode >= 0x100 ? 2 : 1);
      def = def.group[(bytes[modrmAt] >> 3) & 7];
    }
    if (def === undefined || (def.exec === undefined && def.prefixed === undefined)) {
      const key = `${m[2]} (${opcode.toString(16)}${OPCODES[opcode]?.group ? "/" + ((bytes[n + (opcode >= 0x100 ? 2 : 1)] >> 3) & 7) : ""})`;
      missing.set(key, (missing.get(key) ?? 0) + 1);
    }
  }
  return [...missing.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} x${v}`);
}

function mips(instr: number | null, s: number | null): string {
  return instr !== null && s !== null && s > 0 ? (instr / s / 1e6).toFixed(2) : "n/a";
}

/** Run pinvm with `rounds` rounds, trying the entries allowed; prints diagnostics on failure. */
function pinvmRounds(o: BenchOptions, rounds: number): PinvmResult | null {
  const elf64 = o.guest.replace(/\.elf$/, ".elf64");
  for (const entry of o.entry === "auto" ? (["multiboot", "direct"] as const) : [o.entry]) {
    const p = runPinvm({ ...o, rounds }, entry);
    console.log(
      `pinvm rounds=${rounds} (${entry} entry): exit=${p.exitCode ?? "none"} stop=${p.stop}, ` +
        `${p.instructions ?? "n/a"} instructions between markers in ${p.seconds?.toFixed(3) ?? "n/a"} s ` +
        `= ${mips(p.instructions, p.seconds)} MIPS, checksum ${p.checksum ?? "none"}`,
    );
    if (p.instructions !== null && p.checksum !== null && (p.exitCode === 0 || entry === "direct")) return p;
    console.log(`pinvm: the guest did not complete; serial output:\n${p.serial.replace(/^/gm, "  | ")}`);
    if (p.trap !== null) console.log(`pinvm: unexpected exception: ${p.trap}`);
    else console.log(`pinvm: stopped at rip=${p.rip.toString(16)}: ${p.ripBytes}`);
    if (entry === "multiboot" && existsSync(elf64)) {
      const miss = missingInstructions(elf64);
      console.log(`pinvm: opcodes in ${elf64} without a handler (${miss.length}):`);
      for (const l of miss) console.log(`  ${l}`);
    }
  }
  return null;
}

/**
 * The benchmark. pinvm runs 1 and `rounds` rounds: every round executes the same number of
 * instructions, so the two counts give c(N) = c1 + (N - 1) * k exactly. QEMU runs 1 and
 * `rounds` rounds once each to check that its checksums equal pinvm's (same instruction
 * stream), then `qemuRounds` rounds `qemuRuns` times for timing (QEMU is too fast to time
 * over the few rounds pinvm can afford); its instruction count is c(qemuRounds).
 */
export async function main(o: BenchOptions = parseArgs(process.argv.slice(2))): Promise<number> {
  if (!guestPresent(o.guest)) return 2;
  if (!(o.rounds >= 2)) throw new Error("--rounds must be at least 2");
  console.log(`guest: ${o.guest}`);
  const p1 = pinvmRounds(o, 1);
  const pn = p1 === null ? null : pinvmRounds(o, o.rounds);
  if (p1 === null || pn === null) return 1;
  const k = (pn.instructions! - p1.instructions!) / (o.rounds - 1);
  if (!Number.isInteger(k))
    console.log(`pinvm: per-round count ${k} is not an integer: rounds are not uniform`);
  const count = (rounds: number): number => p1.instructions! + (rounds - 1) * k;
  const ps = mips(pn.instructions, pn.seconds);
  console.log(`pinvm: ${k} instructions per round; short run: ${ps} MIPS over ${o.rounds} rounds`);
  const longRounds = o.longRounds ?? o.qemuRounds;
  let pl: PinvmResult | null = null;
  if (longRounds > 0) {
    pl = runPinvm(
      { ...o, rounds: longRounds, maxInstructions: Math.max(o.maxInstructions, 2 * count(longRounds)) },
      pn.entry,
    );
    if (pl.instructions !== count(longRounds) || pl.checksum === null) {
      console.log(
        `pinvm rounds=${longRounds}: ${pl.instructions ?? "no"} instructions between markers, ` +
          `expected ${count(longRounds)}; checksum ${pl.checksum ?? "none"}`,
      );
      return 1;
    }
    console.log(
      `pinvm rounds=${longRounds}: ${pl.instructions} instructions between markers in ${pl.seconds!.toFixed(3)} s ` +
        `= ${mips(pl.instructions, pl.seconds)} MIPS, checksum ${pl.checksum}`,
    );
  }
  const steady: number[] = [];
  for (let n = 0; n < o.steadyRuns; n++) {
    const p = runPinvm({ ...o }, pn.entry);
    if (p.instructions !== null && p.seconds !== null && p.seconds > 0 && p.checksum === pn.checksum)
      steady.push(p.instructions / p.seconds / 1e6);
  }
  const pst = steady.length > 0 ? median(steady).toFixed(2) : "n/a";
  if (o.steadyRuns > 0)
    console.log(
      `pinvm steady state: median ${pst} MIPS over ${steady.length} more runs of ${o.rounds} rounds ` +
        `(${steady.map((m) => m.toFixed(1)).join(", ")})`,
    );

  if (!o.qemu) return 0;
  if (!qemuAvailable()) {
    console.log("qemu: qemu-system-x86_64 not found; skipping the comparison");
    return 0;
  }
  const q1 = await runQemu({ ...o, rounds: 1 });
  const qn = await runQemu(o);
  const same = q1.checksum === p1.checksum && qn.checksum === pn.checksum && q1.checksum !== null;
  console.log(
    `checksums rounds=1: pinvm ${p1.checksum} qemu ${q1.checksum ?? "none"}; rounds=${o.rounds}: ` +
      `pinvm ${pn.checksum} qemu ${qn.checksum ?? "none"} -> ${same ? "match" : "DIFFER"}`,
  );
  if (!same) {
    console.log("qemu: checksums differ, so the instruction counts are not comparable");
    return 1;
  }
  const runs: QemuResult[] = [];
  for (let n = 0; n < o.qemuRuns; n++) runs.push(await runQemu({ ...o, rounds: o.qemuRounds }));
  const good = runs.filter((r) => r.seconds !== null && r.seconds > 0);
  if (good.length === 0) {
    console.log(`qemu: no run printed both markers; last serial:\n${runs[runs.length - 1]?.serial}`);
    return 1;
  }
  const qs = median(good.map((r) => r.seconds!));
  const qi = count(o.qemuRounds);
  const qm = qi / qs / 1e6;
  console.log(
    `qemu rounds=${o.qemuRounds}: ${qi} instructions, median ${qs.toFixed(3)} s between markers ` +
      `(${good.map((r) => r.seconds!.toFixed(3)).join(", ")}), checksum ${good[0].checksum}`,
  );
  const ratio = (m: string): string =>
    Number(m) > 0
      ? `QEMU/pinvm ${(qm / Number(m)).toFixed(1)}x (pinvm ${(Number(m) / qm).toFixed(3)}x QEMU)`
      : "n/a";
  const sameRounds = pl !== null && longRounds === o.qemuRounds;
  const compared = pl !== null ? mips(pl.instructions, pl.seconds) : ps;
  console.log(
    `RESULT pinvm ${compared} MIPS${sameRounds ? ` over the same ${longRounds} rounds` : ""} | QEMU TCG ${qm.toFixed(1)} MIPS | ${ratio(compared)}` +
      ` | short run ${ps} MIPS, ${ratio(ps)}${steady.length > 0 ? ` | steady ${pst} MIPS, ${ratio(pst)}` : ""}`,
  );
  return 0;
}

runIfMain(import.meta.url, () => main());
