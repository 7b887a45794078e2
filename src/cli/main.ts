#!/usr/bin/env node
/**
 * The `pinvm` command: parse the flags (args.ts parseArguments), build a PcMachine (or
 * restore one from a snapshot), boot what the flags name (kernel-image.ts tells Multiboot,
 * Linux and ELF apart), and run it with the console on stdio, in slices so that keyboard
 * input and Ctrl-A x are handled between them.
 *
 * `pinvm demo` boots the built-in demo guest twice, with CR pinning (default jun2020) and
 * without, each with two vCPUs, and prints pinvm's report of the refused CR writes.
 *
 * Exit status (docs/cli.md): the guest's isa-debug-exit status (V << 1) | 1; 0 on power-off
 * or a final halt, and (as QEMU) on a triple fault or a reset with -no-reboot, with a message
 * on stderr naming the cause; 3 when the hypervisor
 * stopped a vCPU (internal error); 4 when --violations exit stopped the guest; 124 when
 * --max-instructions ran out; 1 with one line `pinvm: ...` on stderr for every host-side
 * error (bad flags, unreadable or malformed kernel or snapshot). No stack traces, except with
 * PINVM_DEBUG=1 for an internal error of pinvm itself.
 */
import { accessSync, constants, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { HvError, type CpuidEntry, type PinningOptions, type Violation } from "../hv/index.js";
import {
  PcMachine,
  type MachineResult,
  type PcMachineOptions,
  SHUTDOWN_EXIT_STATUS,
} from "../vmm/machine.js";
import { bootMachine, type BootImage } from "../vmm/loaders/kernel-image.js";
import { LoaderError } from "../vmm/loaders/multiboot.js";
import { demoImage } from "../vmm/demo-image.js";
import { SnapshotError } from "../vmm/snapshot/errors.js";
import { restoreMachineSnapshot, saveMachineSnapshot } from "../vmm/snapshot/machine-snapshot.js";
import { parseArguments, UsageError, type CharBackend, type RunConfig } from "./args.js";
import { fileSink, StdinConsole, streamSink, type ByteSink } from "./console.js";

/** Exit status when --violations exit stopped the guest. */
export const VIOLATION_EXIT_STATUS = 4;
/** Exit status for a host-side error. */
export const HOST_ERROR_STATUS = 1;
/** Instructions per machine.run() call between looks at stdin. */
const SLICE_INSTRUCTIONS = 1_000_000;

/**
 * Flags that shape the machine and that a snapshot load takes from the file instead (-m,
 * -smp and --cr-pin are checked against it instead).
 */
const SNAPSHOT_SHAPE_FLAGS = [
  // QEMU's flags first (shown with one dash), then pinvm's.
  "cpu",
  "device",
  "machine",
  "nodefaults",
  "pins-on-init",
  "allowed-cr0",
  "allowed-cr4",
  "violations",
  "reset-style",
  "soft-reset",
];

/** A host-side failure: printed as `pinvm: <message>`, status 1. */
class HostError extends Error {}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

function readHostFile(what: string, path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (code ?? String(e));
    throw new HostError(`could not open ${what} '${path}': ${why}`);
  }
}

function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/** One report line for a refused CR write: vCPU, RIP, CR, old, attempted, pins. */
export function formatViolation(v: Violation): string {
  const u = (n: number) => hex(n >>> 0);
  const outcome =
    v.action === "gp"
      ? "refused with #GP(0)"
      : v.action === "exit"
        ? "refused, machine stopped"
        : v.action === "rewrite"
          ? "corrected on RSM"
          : v.action === "internal-error"
            ? "refused on RSM, vCPU stopped"
            : "allowed (not checked on RSM)";
  return (
    `CR pinning violation #${v.sequence}: vcpu ${v.vcpu} rip=${hex(v.rip)} ${v.cr.toUpperCase()} ` +
    `(${v.source}) old=${u(v.old)} attempted=${u(v.attempted)} ` +
    `pinned-high=${u(v.pinnedHigh)} pinned-low=${u(v.pinnedLow)} profile=${v.profile}: ${outcome}`
  );
}

// --------------------------------------------------------------------------------- CPU model

/** CPUID bit of each -cpu feature: [leaf, subleaf, register, bit] (SDM Vol.2A CPUID, Tables 3-8 to 3-11). */
// prettier-ignore
const FEATURE_BITS: Readonly<Record<string, readonly [number, number, "eax" | "ebx" | "ecx" | "edx", number]>> = {
  fpu: [1, 0, "edx", 0], de: [1, 0, "edx", 2], pse: [1, 0, "edx", 3], tsc: [1, 0, "edx", 4],
  msr: [1, 0, "edx", 5], pae: [1, 0, "edx", 6], mce: [1, 0, "edx", 7], cx8: [1, 0, "edx", 8],
  apic: [1, 0, "edx", 9], sep: [1, 0, "edx", 11], pge: [1, 0, "edx", 13], cmov: [1, 0, "edx", 15],
  pat: [1, 0, "edx", 16], pse36: [1, 0, "edx", 17], clflush: [1, 0, "edx", 19], mmx: [1, 0, "edx", 23],
  fxsr: [1, 0, "edx", 24], sse: [1, 0, "edx", 25], sse2: [1, 0, "edx", 26],
  sse3: [1, 0, "ecx", 0], ssse3: [1, 0, "ecx", 9], cx16: [1, 0, "ecx", 13], pcid: [1, 0, "ecx", 17],
  "sse4.1": [1, 0, "ecx", 19], "sse4.2": [1, 0, "ecx", 20], popcnt: [1, 0, "ecx", 23], xsave: [1, 0, "ecx", 26],
  fsgsbase: [7, 0, "ebx", 0], smep: [7, 0, "ebx", 7], smap: [7, 0, "ebx", 20], umip: [7, 0, "ecx", 2],
  "lahf-lm": [0x80000001, 0, "ecx", 0], abm: [0x80000001, 0, "ecx", 5],
  syscall: [0x80000001, 0, "edx", 11], nx: [0x80000001, 0, "edx", 20], pdpe1gb: [0x80000001, 0, "edx", 26],
  rdtscp: [0x80000001, 0, "edx", 27], lm: [0x80000001, 0, "edx", 29],
};

/** Applies -cpu feature switches and vendor= to every vCPU's CPUID table (KVM_SET_CPUID2). */
function applyCpuModel(machine: PcMachine, cpu: RunConfig["cpu"]): void {
  const features = Object.entries(cpu.features);
  if (features.length === 0 && cpu.vendor === undefined) return;
  for (const vcpu of machine.vcpus) {
    const table: CpuidEntry[] = vcpu.getSupportedCpuid().map((e) => ({ ...e }));
    const entry = (leaf: number, index: number): CpuidEntry => {
      const found = table.find((e) => e.function === leaf && e.index === index);
      if (!found) throw new HostError(`-cpu: this processor has no CPUID leaf ${hex(leaf)}`);
      return found;
    };
    for (const [name, on] of features) {
      const bit = FEATURE_BITS[name];
      if (!bit) throw new HostError(`-cpu: feature '${name}' has no CPUID bit known to pinvm`);
      const e = entry(bit[0], bit[1]);
      e[bit[2]] = on ? (e[bit[2]] | (1 << bit[3])) >>> 0 : (e[bit[2]] & ~(1 << bit[3])) >>> 0;
    }
    if (cpu.vendor !== undefined) {
      // CPUID.0: the vendor string is EBX, EDX, ECX, four ASCII bytes each, little-endian.
      const word = (i: number) =>
        [0, 1, 2, 3].reduce((w, k) => w | (cpu.vendor!.charCodeAt(i + k) << (8 * k)), 0) >>> 0;
      const e = entry(0, 0);
      e.ebx = word(0);
      e.edx = word(4);
      e.ecx = word(8);
    }
    vcpu.setCpuid(table);
  }
}

// ------------------------------------------------------------------------------- the machine

/** Host-side outputs of one machine, closed when it stops. */
class Outputs {
  readonly sinks: ByteSink[] = [];
  private stdoutSink: ByteSink | null = null;
  private stderrSink: ByteSink | null = null;

  /** The output function of a char backend (undefined for a missing one). */
  of(backend: CharBackend, stdio: "stdout" | "stderr"): (b: number) => void {
    switch (backend.kind) {
      case "null":
        return () => {};
      case "file": {
        let sink: ByteSink;
        try {
          sink = fileSink(backend.path);
        } catch (e) {
          throw new HostError((e as Error).message);
        }
        this.sinks.push(sink);
        return sink.byte;
      }
      case "stdio":
        if (stdio === "stdout") {
          this.stdoutSink ??= this.add(streamSink(process.stdout));
          return this.stdoutSink.byte;
        }
        this.stderrSink ??= this.add(streamSink(process.stderr));
        return this.stderrSink.byte;
    }
  }

  private add(sink: ByteSink): ByteSink {
    this.sinks.push(sink);
    return sink;
  }

  /** Flushes everything. */
  flush(): void {
    for (const s of this.sinks) s.flush();
  }

  /** Flushes and closes everything. */
  close(): void {
    for (const s of this.sinks) s.close();
  }
}

/** The PcMachine options from the flags, for output wiring and the machine's shape. */
function machineOptions(
  config: RunConfig,
  outputs: Outputs,
  trace: (line: string) => void,
): PcMachineOptions {
  const serial = config.serial.map((b) => (b === null ? null : outputs.of(b, "stdout")));
  const pinning: PinningOptions | undefined =
    config.pinning.profile === "off"
      ? undefined
      : {
          profile: config.pinning.profile,
          pinsOnInit: config.pinning.pinsOnInit,
          allowedCr0: config.pinning.allowedCr0,
          allowedCr4: config.pinning.allowedCr4,
        };
  return {
    memoryBytes: config.memoryBytes,
    machineType: config.machineType,
    cpus: config.vcpuCount,
    serial: serial.length === 0 ? null : serial[0],
    extraSerial: serial.slice(1),
    debugExit: config.debugExit,
    debugConsole: config.debugcon === null ? undefined : outputs.of(config.debugcon, "stderr"),
    pcTestdev: config.pcTestdev,
    pinning,
    violations: config.pinning.violations,
    resetStyle: config.resetStyle,
    softReset: config.softReset,
    noReboot: config.noReboot,
    trace: config.trace ? trace : undefined,
  };
}

/** What the flags boot, with the files read. */
function bootImageFor(config: RunConfig): BootImage | null {
  const boot = config.boot;
  switch (boot.kind) {
    case "demo":
      return { kind: "kernel", name: "demo", image: demoImage(), modules: [] };
    case "kernel":
      return {
        kind: "kernel",
        name: boot.path,
        image: readHostFile("kernel file", boot.path),
        ...(boot.append === undefined ? {} : { append: boot.append }),
        modules: boot.initrd.map((m) => ({
          commandLine: m.commandLine,
          data: readHostFile("-initrd file", m.path),
        })),
      };
    case "bios":
      return { kind: "bios", name: boot.path, image: readHostFile("-bios file", boot.path) };
    case "snapshot":
      return null;
  }
}

/** Builds (or restores) and boots the machine of `config`. */
function buildMachine(config: RunConfig, outputs: Outputs, trace: (line: string) => void): PcMachine {
  const options = machineOptions(config, outputs, trace);
  if (config.boot.kind === "snapshot") {
    const bytes = readHostFile("snapshot", config.boot.path);
    const given = new Set(config.explicit);
    const fromSnapshot = SNAPSHOT_SHAPE_FLAGS.filter((f) => given.has(f));
    if (fromSnapshot.length > 0) {
      process.stderr.write(
        `pinvm: warning: ${fromSnapshot.map((f) => (SNAPSHOT_SHAPE_FLAGS.indexOf(f) < 4 ? `-${f}` : `--${f}`)).join(", ")} ignored: ` +
          `the machine's shape comes from the snapshot\n`,
      );
    }
    try {
      return restoreMachineSnapshot(bytes, {
        serial: options.serial,
        extraSerial: options.extraSerial,
        debugConsole: options.debugConsole,
        trace: options.trace,
        noReboot: options.noReboot,
        pinvmVersion: packageVersion(),
        expect: {
          ...(given.has("m") ? { memoryBytes: config.memoryBytes } : {}),
          ...(given.has("smp") ? { vcpuCount: config.vcpuCount } : {}),
          ...(given.has("cr-pin") ? { crPin: config.pinning.profile } : {}),
        },
      });
    } catch (e) {
      if (e instanceof SnapshotError) throw new HostError(`snapshot '${config.boot.path}': ${e.message}`);
      throw e;
    }
  }
  if (config.machineType !== "pc" && config.machineType !== "q35") {
    throw new HostError(`-machine ${String(config.machineType)}: unknown machine`);
  }
  if (!config.smm)
    throw new HostError("-machine smm=off: pinvm's processor always has SMM (smm=off is not supported)");
  const machine = new PcMachine(options);
  applyCpuModel(machine, config.cpu);
  const image = bootImageFor(config)!;
  try {
    bootMachine(machine, image);
  } catch (e) {
    if (e instanceof LoaderError) throw new HostError(e.message);
    throw e;
  }
  return machine;
}

/** How a run ended, for the exit status and messages. */
type RunEnd = MachineResult | { kind: "quit"; exitCode: 0; instructions: number };

/** Exit status of a run (docs/cli.md "Exit status"). */
function exitStatusOf(end: RunEnd): number {
  switch (end.kind) {
    case "reset":
      return SHUTDOWN_EXIT_STATUS;
    case "cr-pin-violation":
      return VIOLATION_EXIT_STATUS;
    default:
      return end.exitCode;
  }
}

/** Runs `machine` in slices until it stops; prints violations and handles snapshots and input. */
async function runMachine(
  machine: PcMachine,
  config: RunConfig,
  outputs: Outputs,
  report: (line: string) => void,
): Promise<RunEnd> {
  let executed = 0;
  let lastSequence = machine.vm.pinning.log.total;
  let quit = false;
  let wake: (() => void) | null = null;
  const printViolations = (): void => {
    const log = machine.vm.pinning.log;
    if (log.total === lastSequence) return;
    outputs.flush();
    for (const v of log.entries()) if (v.sequence > lastSequence) report(formatViolation(v));
    lastSequence = log.total;
  };
  const uart = machine.board.uarts.find((_, n) => config.serial[n]?.kind === "stdio") ?? null;
  // Keys wait here until the UART has room (Serial16550.setInputSource): none is lost to an overrun.
  const typed: number[] = [];
  let typedAt = 0;
  uart?.setInputSource(() => (typedAt < typed.length ? typed[typedAt++] : undefined));
  const console =
    uart === null
      ? null
      : new StdinConsole({
          receive: (b) => {
            if (typedAt === typed.length) typed.length = typedAt = 0;
            typed.push(b);
          },
          quit: () => {
            quit = true;
            wake?.();
          },
          wake: () => {
            uart.pullInput();
            wake?.();
          },
        });
  console?.attach();
  let saveAt = config.snapshotSave?.atInstruction;
  try {
    for (;;) {
      let budget = SLICE_INSTRUCTIONS;
      if (config.maxInstructions !== null) budget = Math.min(budget, config.maxInstructions - executed);
      if (saveAt !== undefined) budget = Math.min(budget, saveAt - executed);
      const result = budget > 0 ? machine.run({ maxInstructions: budget }) : null;
      if (result) executed += result.instructions;
      // Output is line-buffered; what the guest wrote without a newline yet (a prompt, the
      // echo of a key) is shown at the end of every slice, as a terminal user expects.
      outputs.flush();
      printViolations();
      if (saveAt !== undefined && executed >= saveAt) {
        writeSnapshot(machine, config.snapshotSave!.path, outputs);
        if (config.trace)
          report(`trace: snapshot written to ${config.snapshotSave!.path} after ${executed} instructions`);
        saveAt = undefined;
        if (result === null || result.kind === "instruction-limit") continue;
      }
      if (result !== null && result.kind !== "instruction-limit") {
        const waitForInput =
          result.kind === "halted" && result.interruptsEnabled && console?.interactive === true;
        if (!waitForInput) return result;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      } else if (config.maxInstructions !== null && executed >= config.maxInstructions) {
        return result ?? machine.run({ maxInstructions: 0 });
      }
      if (quit) return { kind: "quit", exitCode: 0, instructions: executed };
      if (console) await new Promise<void>((resolve) => setImmediate(resolve));
      if (quit) return { kind: "quit", exitCode: 0, instructions: executed };
    }
  } finally {
    console?.detach();
    outputs.flush();
  }
}

function writeSnapshot(machine: PcMachine, path: string, outputs: Outputs): void {
  outputs.flush();
  let bytes: Uint8Array;
  try {
    bytes = saveMachineSnapshot(machine, { pinvmVersion: packageVersion() });
  } catch (e) {
    if (e instanceof SnapshotError) throw new HostError(`--snapshot-save: ${e.message}`);
    throw e;
  }
  try {
    writeFileSync(path, bytes);
  } catch (e) {
    throw new HostError(
      `--snapshot-save: cannot write '${path}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
}

/**
 * Refuses, before anything runs, a --snapshot-save FILE that could not be written: its
 * directory missing or not writable, or FILE a directory (the file itself is not touched).
 */
function checkSnapshotTarget(path: string): void {
  try {
    accessSync(dirname(path), constants.W_OK);
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new HostError("");
  } catch (e) {
    const why = e instanceof HostError ? "is a directory" : ((e as NodeJS.ErrnoException).code ?? String(e));
    throw new HostError(`--snapshot-save: cannot write '${path}': ${why}`);
  }
}

/** The stderr message for how a run ended, if any. */
function endMessage(end: RunEnd): string | null {
  switch (end.kind) {
    case "shutdown":
      return `guest triple fault (${end.reason}) at rip=${hex(end.rip)}; -no-reboot given, exiting`;
    case "reset":
      return `guest reset (${end.source}); -no-reboot given, exiting`;
    case "internal-error":
      return `vcpu ${end.vcpu} stopped by the hypervisor: ${end.detail}`;
    case "cr-pin-violation":
      return `--violations exit: stopped at the first CR pinning violation`;
    case "instruction-limit":
      return `--max-instructions reached after ${end.instructions} instructions (rip=${hex(end.rip)})`;
    default:
      return null;
  }
}

/** `pinvm run`: one machine, from flags or a snapshot. */
async function commandRun(config: RunConfig): Promise<number> {
  const outputs = new Outputs();
  const say = (line: string): void => {
    outputs.flush();
    process.stderr.write(`pinvm: ${line}\n`);
  };
  try {
    if (config.snapshotSave) checkSnapshotTarget(config.snapshotSave.path);
    const machine = buildMachine(config, outputs, (line) => say(`trace: ${line}`));
    const end = await runMachine(machine, config, outputs, say);
    if (config.trace) say(`trace: run ended: ${end.kind} after ${end.instructions} instructions`);
    if (config.snapshotSave && config.snapshotSave.atInstruction === undefined && end.kind !== "quit") {
      writeSnapshot(machine, config.snapshotSave.path, outputs);
    }
    const message = endMessage(end);
    if (message) say(message);
    return exitStatusOf(end);
  } finally {
    outputs.close();
  }
}

/** `pinvm demo`: the demo guest with pinning, then without; a report after each run. */
async function commandDemo(config: RunConfig): Promise<number> {
  const given = new Set(config.explicit);
  const base: RunConfig = {
    ...config,
    vcpuCount: given.has("smp") ? config.vcpuCount : 2,
    debugExit: config.debugExit ?? { iobase: 0xf4, iosize: 4 },
  };
  const runs: RunConfig[] = [base];
  if (base.pinning.profile !== "off") {
    runs.push({ ...base, pinning: { ...base.pinning, profile: "off" }, snapshotSave: null });
  }
  if (config.snapshotSave) checkSnapshotTarget(config.snapshotSave.path);
  let status = 0;
  for (const [i, run] of runs.entries()) {
    const flags = `--cr-pin ${run.pinning.profile} -smp ${run.vcpuCount}`;
    process.stdout.write(
      `${i > 0 ? "\n" : ""}=== pinvm demo, run ${i + 1} of ${runs.length}: ${flags} ` +
        `(${run.pinning.profile === "off" ? "no CR pinning" : "CR pinning on"}) ===\n\n`,
    );
    const outputs = new Outputs();
    const violations: Violation[] = [];
    let end: RunEnd;
    try {
      const machine = buildMachine(run, outputs, (line) => process.stderr.write(`pinvm: trace: ${line}\n`));
      end = await runMachine(machine, run, outputs, (line) => {
        if (run.trace) process.stderr.write(`pinvm: ${line}\n`);
      });
      violations.push(...machine.vm.pinning.log.entries());
      if (run.snapshotSave && run.snapshotSave.atInstruction === undefined) {
        writeSnapshot(machine, run.snapshotSave.path, outputs);
      }
    } finally {
      outputs.close();
    }
    process.stdout.write(`\n--- pinvm report (--cr-pin ${run.pinning.profile}) ---\n`);
    if (run.pinning.profile === "off") {
      process.stdout.write("CR pinning off: the hypervisor refused no CR write, nothing to report\n");
    } else {
      process.stdout.write(`${violations.length} CR write(s) refused by the pins:\n`);
      for (const v of violations) process.stdout.write(`  ${formatViolation(v)}\n`);
    }
    const guestOk = end.kind === "debug-exit" && end.guestCode === 0;
    process.stdout.write(
      `guest ${end.kind === "debug-exit" ? `exited with code ${end.guestCode}` : `stopped: ${end.kind}`}` +
        `${guestOk ? " (all checks passed)" : ""}\n`,
    );
    const message = endMessage(end);
    if (message) process.stderr.write(`pinvm: ${message}\n`);
    if (!guestOk && status === 0) status = exitStatusOf(end) || HOST_ERROR_STATUS;
  }
  return status;
}

/** Runs the command with `argv` (without node and script); resolves to the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const parsed = parseArguments(argv);
    switch (parsed.kind) {
      case "error":
        throw parsed.error;
      case "help":
        process.stdout.write(parsed.text + "\n");
        return 0;
      case "version":
        process.stdout.write(`pinvm ${packageVersion()}\n`);
        return 0;
      case "run":
        break;
    }
    const config = parsed.config;
    for (const w of config.warnings) process.stderr.write(`pinvm: warning: ${w}\n`);
    return config.command === "demo" ? await commandDemo(config) : await commandRun(config);
  } catch (e) {
    if (
      e instanceof UsageError ||
      e instanceof HostError ||
      e instanceof HvError ||
      e instanceof LoaderError
    ) {
      process.stderr.write(`pinvm: ${e.message}\n`);
      return HOST_ERROR_STATUS;
    }
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`pinvm: internal error: ${message.split("\n")[0]}\n`);
    if (process.env.PINVM_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return HOST_ERROR_STATUS;
  }
}

/** Whether this module is the program being run (not imported by a test), also through a symlink such as npm's `pinvm`. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * Resolves when everything written to `stream` so far has been handed to the OS. A write to a
 * full pipe is queued in the process; process.exit would drop it (seen with --trace output
 * of more than the 64 KiB a pipe holds), so the exit waits for an empty write's callback,
 * which runs after every earlier write.
 */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) resolve();
    else stream.write("", () => resolve());
  });
}

/**
 * A reader that goes away (`pinvm ... | head`) ends pinvm quietly, as the shell expects of a
 * filter killed by SIGPIPE (status 141 = 128 + SIGPIPE); another write error of stdout is
 * one line and status 1. Without a listener Node would throw from the write with a trace.
 */
function handleStreamErrors(): void {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") process.stderr.write(`pinvm: cannot write to standard output: ${e.message}\n`);
    process.exit(e.code === "EPIPE" ? 141 : 1);
  });
  process.stderr.on("error", () => process.exit(1));
}

if (isEntryPoint()) {
  handleStreamErrors();
  const status = await main(process.argv.slice(2));
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(status);
}
