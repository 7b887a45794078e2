#!/usr/bin/env node
/**
 * The `pinvm` command: parse QEMU-style flags (args.ts), build a PcMachine, boot the
 * Multiboot kernel given with -kernel (or the built-in demo guest), run it with COM1 on
 * stdout, and exit with the status QEMU would use: the debug-exit status when the guest
 * wrote that port, 0 when it halted, 2 (with a message) on a triple fault, 1 on bad usage
 * or an unloadable kernel. Errors are one line on stderr, never a stack trace (set
 * PINVM_DEBUG=1 to see the trace of an internal error).
 */
import { readFileSync } from "node:fs";
import { HvError } from "../hv/index.js";
import { PcMachine, type MachineResult } from "../vmm/machine.js";
import { loadMultiboot } from "../vmm/loaders/load-multiboot.js";
import { LoaderError } from "../vmm/loaders/multiboot.js";
import { demoImage } from "../vmm/demo-image.js";
import { USAGE, UsageError, parseCommandLine, type MachineConfig } from "./args.js";

/** Buffers guest console bytes and writes them out per line (stdout/stderr are synchronous for files and pipes on POSIX). */
class ConsoleWriter {
  private buffer: number[] = [];
  /** Creates a writer to `stream`. */
  constructor(private readonly stream: NodeJS.WriteStream) {}
  /** Takes one byte from the guest. */
  byte = (b: number): void => {
    this.buffer.push(b);
    if (b === 0x0a || this.buffer.length >= 4096) this.flush();
  };
  /** Writes what is buffered. */
  flush(): void {
    if (this.buffer.length === 0) return;
    this.stream.write(Uint8Array.from(this.buffer));
    this.buffer = [];
  }
}

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

function readKernel(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (code ?? String(e));
    throw new UsageError(`could not open kernel file '${path}': ${why}`);
  }
}

/** Boots and runs the configured machine; returns the process exit status. */
function runMachine(config: MachineConfig): number {
  const image = config.kernel === undefined ? demoImage() : readKernel(config.kernel);
  const serialOut = new ConsoleWriter(process.stdout);
  const debugOut = new ConsoleWriter(process.stderr);
  const machine = new PcMachine({
    memoryBytes: config.memoryBytes,
    serial: config.serial === "stdio" ? serialOut.byte : null,
    debugExit: config.debugExit ?? null,
    debugConsole: config.debugcon === "stdio" ? debugOut.byte : undefined,
  });
  try {
    // QEMU's multiboot loader passes "<kernel file name> <append>" as the command line.
    const commandLine =
      config.kernel === undefined
        ? "demo"
        : config.append
          ? `${config.kernel} ${config.append}`
          : config.kernel;
    loadMultiboot(machine, image, { commandLine });
  } catch (e) {
    if (e instanceof LoaderError) {
      throw new UsageError(`${config.kernel ? `kernel '${config.kernel}'` : "demo guest"}: ${e.message}`);
    }
    throw e;
  }
  let result: MachineResult;
  try {
    result = machine.run();
  } finally {
    serialOut.flush();
    debugOut.flush();
  }
  if (result.kind === "shutdown") {
    process.stderr.write(`pinvm: guest triple fault (shutdown) at rip=0x${result.rip.toString(16)}\n`);
    if (!config.noReboot)
      process.stderr.write("pinvm: reboot is not modelled yet; stopping as with -no-reboot\n");
  }
  return result.exitCode;
}

/** Runs the command with `argv` (without node and script); returns the exit status. */
export function main(argv: readonly string[]): number {
  try {
    let config: MachineConfig;
    try {
      config = parseCommandLine(argv);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"))
        throw new UsageError((e as Error).message);
      throw e;
    }
    if (config.help) {
      process.stdout.write(USAGE + "\n");
      return 0;
    }
    if (config.version) {
      process.stdout.write(`pinvm ${packageVersion()}\n`);
      return 0;
    }
    for (const w of config.warnings) process.stderr.write(`pinvm: warning: ${w}\n`);
    return runMachine(config);
  } catch (e) {
    if (e instanceof UsageError || e instanceof HvError) {
      process.stderr.write(`pinvm: ${e.message}\n`);
      return 1;
    }
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`pinvm: internal error: ${message.split("\n")[0]}\n`);
    if (process.env.PINVM_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
