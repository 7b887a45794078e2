/**
 * Helpers of the command tests: run the built `pinvm` (dist/src/cli/main.js) as a child
 * process with a timeout, and find the guest images of guests/build.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file runs from dist/test/cli). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
/** The built command. */
export const CLI = join(ROOT, "dist", "src", "cli", "main.js");
/** The built guests. */
export const GUESTS = join(ROOT, "guests", "build");

/** What one run of the command gave. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `pinvm ARGS` with stdin closed (or fed `input`), at most `timeoutMs`. */
export function pinvm(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): CliRun {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    timeout: options.timeoutMs ?? 90_000,
    input: options.input ?? "",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Path of a guest image, e.g. guest("tests/cr_pinning.elf"). */
export function guest(name: string): string {
  return join(GUESTS, name);
}

/** A skip reason when the command or one of the guests is not built, else undefined. */
export function missing(...guests: string[]): string | undefined {
  if (!existsSync(CLI)) return "dist/src/cli/main.js not built (npx tsc -p .)";
  const absent = guests.find((g) => !existsSync(guest(g)));
  return absent === undefined ? undefined : `guests/build/${absent} not built (make -C guests)`;
}

/** The non-empty lines of `text`. */
export function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "");
}
