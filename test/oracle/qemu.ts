/**
 * QEMU oracle runner: boots a guest image (guests/build/*.elf, Multiboot v1) under
 * `qemu-system-x86_64` and collects what it printed on COM1 and how it left through the
 * isa-debug-exit device. Used by tests that compare pinvm with QEMU (TCG, or KVM where
 * /dev/kvm opens). Node-only; lives under test/ so that src/ stays free of node APIs.
 */
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The QEMU binary used unless a run names another. */
export const QEMU_BINARY = "qemu-system-x86_64";

/** I/O base of the isa-debug-exit device, the same port the guest runtime writes to. */
export const DEBUG_EXIT_PORT = 0xf4;

/** How to run one guest under QEMU. */
export interface QemuRunOptions {
  /** Accelerator: "tcg" (software, always there) or "kvm" (needs /dev/kvm). Default "tcg". */
  accel?: "tcg" | "kvm";
  /** Hard limit on the run; QEMU is killed (SIGKILL) when it is exceeded. Default 10000. */
  timeoutMs?: number;
  /** Guest RAM in MiB. Default 128. */
  memMiB?: number;
  /** -cpu model; default QEMU's own default for TCG and "host" for KVM. */
  cpu?: string;
  /** Arguments appended to the command line as they are. */
  extraArgs?: string[];
  /** QEMU binary to run. Default QEMU_BINARY. */
  qemuBinary?: string;
}

/** What one QEMU run produced. */
export interface QemuRunResult {
  /** Everything the guest wrote to COM1. */
  serial: string;
  /** QEMU's process exit status; null when it was killed by a signal (e.g. on timeout). */
  exitCode: number | null;
  /**
   * The value the guest wrote to the debug-exit port, decoded from exitCode ((code << 1) | 1);
   * null when QEMU did not leave through that device.
   */
  guestExitCode: number | null;
  /** True when the run hit timeoutMs and was killed. */
  timedOut: boolean;
  /** QEMU's own diagnostics (stderr). */
  stderr: string;
  /** The full command line that was run, for messages. */
  command: string[];
}

/**
 * Builds the QEMU command line for a guest image; exported so that a failing test can print
 * the command a person can re-run by hand.
 */
export function qemuCommandLine(elfPath: string, options: QemuRunOptions = {}): string[] {
  const accel = options.accel ?? "tcg";
  const args = [
    options.qemuBinary ?? QEMU_BINARY,
    "-nodefaults",
    "-accel",
    accel,
    "-m",
    String(options.memMiB ?? 128),
    "-display",
    "none",
    "-serial",
    "stdio",
    "-no-reboot",
    "-device",
    `isa-debug-exit,iobase=0x${DEBUG_EXIT_PORT.toString(16)},iosize=0x04`,
    "-kernel",
    elfPath,
  ];
  const cpu = options.cpu ?? (accel === "kvm" ? "host" : undefined);
  if (cpu !== undefined) args.push("-cpu", cpu);
  args.push(...(options.extraArgs ?? []));
  return args;
}

/**
 * Decodes a QEMU exit status produced by the isa-debug-exit device: the device makes QEMU
 * exit with (value << 1) | 1, so odd statuses carry a guest value and even ones do not.
 */
export function decodeDebugExit(exitCode: number | null): number | null {
  if (exitCode === null || (exitCode & 1) === 0) return null;
  return exitCode >>> 1;
}

/**
 * Runs a guest image under QEMU until it exits, or kills it after options.timeoutMs.
 * Never rejects for a guest's behaviour; rejects only when QEMU cannot be started.
 */
export function runUnderQemu(elfPath: string, options: QemuRunOptions = {}): Promise<QemuRunResult> {
  const command = qemuCommandLine(elfPath, options);
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const exitCode = timedOut ? null : code;
      resolve({
        serial: Buffer.concat(stdout).toString("latin1"),
        exitCode,
        guestExitCode: decodeDebugExit(exitCode),
        timedOut,
        stderr: Buffer.concat(stderr).toString("utf8"),
        command,
      });
    });
  });
}

/** True when the QEMU binary can be run (`qemu-system-x86_64 --version` succeeds). */
export function qemuAvailable(qemuBinary: string = QEMU_BINARY): boolean {
  const probe = spawnSync(qemuBinary, ["--version"], { stdio: "ignore", timeout: 10_000 });
  return probe.error === undefined && probe.status === 0;
}

/** True when /dev/kvm exists and can be opened read-write, so `-accel kvm` may work. */
export function kvmAvailable(): boolean {
  try {
    closeSync(openSync("/dev/kvm", "r+"));
    return true;
  } catch {
    return false;
  }
}

/**
 * The repository root: the nearest directory at or above `from` (a file URL or path,
 * default this module) that holds package.json. Works from test/ and from dist/test/.
 */
export function repoRoot(from: string = import.meta.url): string {
  let dir = dirname(from.startsWith("file:") ? fileURLToPath(from) : from);
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
}

/** Path of a built guest image, guests/build/<name>.elf under the repository root. */
export function guestImagePath(name: string): string {
  return join(repoRoot(), "guests", "build", `${name}.elf`);
}
