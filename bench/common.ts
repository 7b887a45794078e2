/**
 * What the benchmarks (bench/run.ts, bench/fp.ts, bench/crpin.ts) share: option parsing, the
 * guest-image check, a QEMU child whose stdout is the guest's COM1 read as timed lines, the
 * median, and the entry point that runs a benchmark's main() when node was started on it.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";

/**
 * Walks a command line: calls `take` with each option name and a function that consumes the
 * option's value (throwing `<name> needs a value` when there is none). `take` returns false for
 * an option it does not know, which throws `unknown option <name>`.
 */
export function eachOption(argv: string[], take: (name: string, value: () => string) => boolean): void {
  for (let n = 0; n < argv.length; n++) {
    const a = argv[n];
    const value = (): string => {
      const v = argv[++n];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (!take(a, value)) throw new Error(`unknown option ${a}`);
  }
}

/** Whether the guest image exists; prints how to build it when it does not. */
export function guestPresent(guest: string): boolean {
  if (existsSync(guest)) return true;
  console.error(`guest image ${guest} not found: run \`make -C guests\` first`);
  return false;
}

/** The median (the upper one for an even count) of `xs`; NaN when there are none. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
}

/** Seconds between two process.hrtime.bigint() readings. */
export function elapsedSeconds(from: bigint, to: bigint): number {
  return Number(to - from) / 1e9;
}

/** Splits text that arrives in pieces into lines (without the "\n" and a trailing "\r"). */
export class LineSplitter {
  private pending = "";

  /** Takes a piece of text; returns the lines it completes. */
  feed(text: string): string[] {
    this.pending += text;
    const lines: string[] = [];
    let nl: number;
    while ((nl = this.pending.indexOf("\n")) >= 0) {
      lines.push(this.pending.slice(0, nl).replace(/\r$/, ""));
      this.pending = this.pending.slice(nl + 1);
    }
    return lines;
  }
}

/** How a child run by runTimedChild ended. */
export interface ChildExit {
  /** Process exit status (null when killed). */
  exitCode: number | null;
  /** What the child wrote on stderr. */
  stderr: string;
}

/**
 * Runs `command` (QEMU with the guest's COM1 on stdout), handing each piece of stdout (as
 * latin1 text) to `onText` with the process.hrtime.bigint() time it arrived; kills the child
 * after `timeoutMs`. Rejects only when the child cannot be started.
 */
export function runTimedChild(
  command: string[],
  timeoutMs: number,
  onText: (text: string, now: bigint) => void,
): Promise<ChildExit> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    const kill = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => {
      const now = process.hrtime.bigint();
      onText(chunk.toString("latin1"), now);
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", (e) => {
      clearTimeout(kill);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(kill);
      resolve({ exitCode: code, stderr });
    });
  });
}

/**
 * When node was started on the module at `moduleUrl` (pass import.meta.url), runs `main` and
 * sets process.exitCode to what it returns, or to 2 (after printing the error) when it throws.
 */
export function runIfMain(moduleUrl: string, main: () => Promise<number>): void {
  if (process.argv[1] === undefined || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = 2;
    },
  );
}
