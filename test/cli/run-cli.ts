/**
 * Helpers of the command tests: run the built `pinvm` (dist/src/cli/main.js) as a child
 * process with a timeout, find the guest images of guests/build, and build small real-mode
 * firmware images for `-bios` in a temporary directory.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { assemble } from "../helpers/asm.js";

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

/**
 * A 4 KiB real-mode firmware image for `-bios` (CS base F0000H, entered at FFF0H, which
 * jumps to `start:`): `body`, then a HLT loop at label `1:`, then `tail` (code the body may
 * jump to, e.g. a second-boot path that ends in `jmp 1b`).
 */
export function realModeBios(body: string, tail = ""): Uint8Array {
  return assemble(
    `
start:
  ${body}
1:
  hlt
  jmp 1b
${tail}
.org 0xff0
  jmp start
.org 0x1000
`,
    16,
    0xf000,
  );
}

/** Runs `fn` with a new temporary directory, removed afterwards. */
export function withTempDir<T>(prefix: string, fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs guests/build/hello.elf for 5000 instructions and saves a snapshot there to `path`
 * (status 124, the instruction limit); the starting point of the corrupt-snapshot tests.
 */
export function saveHelloSnapshot(path: string): CliRun {
  return pinvm([
    "-kernel",
    guest("hello.elf"),
    "-device",
    "isa-debug-exit",
    "--snapshot-save",
    path,
    "--snapshot-at",
    "5000",
    "--max-instructions",
    "5000",
  ]);
}
