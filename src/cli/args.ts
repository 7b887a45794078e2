/**
 * The `pinvm` command line: QEMU's flags where QEMU has them (single-dash long options such
 * as `-kernel`, `-m 128M`, `-device isa-debug-exit,iobase=0xf4`), parsed with node:util
 * parseArgs after a small pre-pass that turns each known `-name` into `--name=value`
 * (parseArgs only knows GNU-style long options). The result is a validated MachineConfig;
 * anything wrong is a UsageError whose message fits on one line.
 */
import { parseArgs } from "node:util";

/** Bad command line; the message is shown as `pinvm: <message>`. */
export class UsageError extends Error {
  /** Creates a usage error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** What to run, after validation. */
export interface MachineConfig {
  /** Show usage and exit. */
  help: boolean;
  /** Show the version and exit. */
  version: boolean;
  /** Multiboot kernel image path; undefined = the built-in demo guest. */
  kernel?: string;
  /** Kernel arguments (-append). */
  append?: string;
  /** Guest RAM in bytes. */
  memoryBytes: number;
  /** COM1 on stdout, or no COM1 at all. */
  serial: "stdio" | "none";
  /** Port-E9 debug console on stderr... or dropped. */
  debugcon: "stdio" | "none";
  /** isa-debug-exit placement, if the device was asked for. */
  debugExit?: { iobase: number; iosize: number };
  /** -no-reboot given. */
  noReboot: boolean;
  /** Messages for flags accepted but without effect. */
  warnings: string[];
}

/** Guest RAM when -m is not given (QEMU's default). */
export const DEFAULT_MEMORY_MIB = 128;
/** Smallest RAM pinvm accepts: Multiboot kernels load at 1 MiB. */
export const MIN_MEMORY_BYTES = 2 * 1024 * 1024;
/** Largest RAM pinvm accepts (below the 32-bit PCI hole). */
export const MAX_MEMORY_BYTES = 0xf000_0000;
/** Where `-device isa-debug-exit` goes without iobase/iosize (the guest runtime's port). */
export const DEBUG_EXIT_DEFAULT = { iobase: 0xf4, iosize: 4 } as const;

/** Options pinvm knows: name -> takes a value. Aliases map to their canonical name. */
const OPTIONS: Record<string, { value: boolean; multiple?: boolean; alias?: string }> = {
  kernel: { value: true },
  append: { value: true },
  m: { value: true },
  serial: { value: true },
  debugcon: { value: true },
  display: { value: true },
  device: { value: true, multiple: true },
  accel: { value: true },
  cpu: { value: true },
  smp: { value: true },
  "no-reboot": { value: false },
  nographic: { value: false },
  nodefaults: { value: false },
  help: { value: false },
  h: { value: false, alias: "help" },
  version: { value: false },
};

/** The usage text of `pinvm --help`. */
export const USAGE = `usage: pinvm [options]

Boots a Multiboot v1 kernel (or, without -kernel, the built-in demo guest) on an emulated
x86-64 PC with COM1 on stdio. Flags follow QEMU's; single or double dash both work.

  -kernel FILE         Multiboot v1 image (ELF32 or a.out-kludge) to boot
  -append ARGS         kernel command line (after the kernel's file name, as QEMU passes it)
  -m SIZE              guest RAM: MiB, or with suffix K/M/G (default ${DEFAULT_MEMORY_MIB}M)
  -serial stdio|none   COM1 on stdin/stdout (default) or no COM1
  -debugcon stdio|none port-E9 debug console on stderr, or dropped (default none)
  -device isa-debug-exit[,iobase=ADDR][,iosize=N]
                       guest writes V to the port: pinvm exits with (V << 1) | 1
                       (default iobase=0xf4, iosize=4)
  -no-reboot           stop on a triple fault (pinvm always does; reboot is not modelled)
  -display none        accepted (pinvm has no display)
  -nographic           accepted (serial is on stdio already)
  -nodefaults          without -serial, create no COM1
  -accel tcg|kvm       accepted and ignored: pinvm always emulates in software
  -cpu max|qemu64      accepted; pinvm models one CPU
  -smp 1               one vCPU (the only choice so far)
  -h, -help, --help    show this help
  -version, --version  show the version

Exit status: the debug-exit status if the guest used it, 0 when the guest halted,
2 on a triple fault, 1 on bad usage or an unloadable kernel.`;

/**
 * QEMU-style arguments to GNU-style: `-kernel f` -> `--kernel=f`. Values are taken as they
 * are (a value may start with a dash). Unknown options and stray words are UsageErrors.
 */
export function normalizeArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("-") || arg === "-" || arg === "--") {
      throw new UsageError(`unexpected argument '${arg}' (a kernel is given with -kernel FILE)`);
    }
    const body = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = Object.hasOwn(OPTIONS, name) ? OPTIONS[name] : undefined;
    if (spec === undefined) throw new UsageError(`unknown option '${arg}' (see pinvm --help)`);
    const canonical = spec.alias ?? name;
    if (!spec.value) {
      if (eq >= 0) throw new UsageError(`option '-${name}' takes no value`);
      out.push(`--${canonical}`);
      continue;
    }
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`option '${arg}' needs a value`);
      value = argv[++i];
    }
    out.push(`--${canonical}=${value}`);
  }
  return out;
}

function parseNumber(what: string, text: string): number {
  const value = /^0x[0-9a-f]+$/i.test(text)
    ? parseInt(text, 16)
    : /^[0-9]+$/.test(text)
      ? parseInt(text, 10)
      : NaN;
  if (!Number.isSafeInteger(value)) throw new UsageError(`${what}: '${text}' is not a number`);
  return value;
}

/** QEMU's -m syntax: `[size=]N[K|M|G|T]`, N in MiB without a suffix. Returns bytes. */
export function parseMemorySize(text: string): number {
  const match = /^(?:size=)?(\d+)([kmgt]?)b?$/i.exec(text);
  if (!match) throw new UsageError(`-m ${text}: expected a size such as 128, 128M or 1G`);
  const unit = { "": 2 ** 20, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[match[2].toLowerCase()]!;
  const bytes = Number(match[1]) * unit;
  if (bytes < MIN_MEMORY_BYTES) throw new UsageError(`-m ${text}: pinvm needs at least 2 MiB of guest RAM`);
  if (bytes > MAX_MEMORY_BYTES)
    throw new UsageError(`-m ${text}: pinvm supports at most 3840 MiB of guest RAM`);
  if (bytes % 4096 !== 0) throw new UsageError(`-m ${text}: RAM size must be a multiple of 4 KiB`);
  return bytes;
}

/** `-device` argument: only isa-debug-exit exists. */
function parseDevice(text: string): { iobase: number; iosize: number } {
  const [driver, ...props] = text.split(",");
  if (driver !== "isa-debug-exit") {
    throw new UsageError(`-device ${driver}: unsupported device (pinvm has isa-debug-exit)`);
  }
  const config: { iobase: number; iosize: number } = { ...DEBUG_EXIT_DEFAULT };
  for (const prop of props) {
    const eq = prop.indexOf("=");
    const key = eq < 0 ? prop : prop.slice(0, eq);
    if (key !== "iobase" && key !== "iosize") {
      throw new UsageError(`-device isa-debug-exit: unknown property '${key}' (iobase, iosize)`);
    }
    if (eq < 0) throw new UsageError(`-device isa-debug-exit: property '${key}' needs a value`);
    config[key] = parseNumber(`-device isa-debug-exit,${key}`, prop.slice(eq + 1));
  }
  if (config.iosize < 1 || config.iosize > 0x10000 || config.iobase + config.iosize > 0x10000) {
    throw new UsageError(
      `-device isa-debug-exit: ports 0x${config.iobase.toString(16)}+${config.iosize} out of range`,
    );
  }
  return config;
}

/** Parses and validates a command line (without the node and script paths). */
export function parseCommandLine(argv: readonly string[]): MachineConfig {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(OPTIONS)) {
    if (spec.alias) continue;
    options[name] = { type: spec.value ? "string" : "boolean", multiple: spec.multiple === true };
  }
  const { values } = parseArgs({ args: normalizeArgs(argv), options, strict: true, allowPositionals: false });
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const warnings: string[] = [];

  const serial = str("serial") ?? (values.nodefaults ? "none" : "stdio");
  if (serial !== "stdio" && serial !== "none" && serial !== "null") {
    throw new UsageError(`-serial ${serial}: pinvm supports stdio and none`);
  }
  const debugcon = str("debugcon") ?? "none";
  if (debugcon !== "stdio" && debugcon !== "none" && debugcon !== "null") {
    throw new UsageError(`-debugcon ${debugcon}: pinvm supports stdio and none`);
  }
  const display = str("display");
  if (display !== undefined && display !== "none") {
    throw new UsageError(`-display ${display}: pinvm has no display; only -display none is accepted`);
  }
  const accel = str("accel");
  if (accel !== undefined) {
    const name = accel.split(",")[0];
    if (name !== "tcg" && name !== "kvm") throw new UsageError(`-accel ${accel}: expected tcg or kvm`);
    warnings.push(`-accel ${name} ignored: pinvm always emulates the CPU in software`);
  }
  const cpu = str("cpu");
  if (cpu !== undefined && cpu !== "max" && cpu !== "qemu64") {
    throw new UsageError(`-cpu ${cpu}: pinvm models one CPU; use -cpu max or -cpu qemu64`);
  }
  const smp = str("smp");
  if (smp !== undefined && !/^(?:cpus=)?1$/.test(smp)) {
    throw new UsageError(`-smp ${smp}: pinvm supports one vCPU only (-smp 1)`);
  }
  const devices = (values.device as string[] | undefined) ?? [];
  let debugExit: MachineConfig["debugExit"];
  for (const d of devices) {
    if (debugExit) throw new UsageError("-device isa-debug-exit: given twice");
    debugExit = parseDevice(d);
  }
  const kernel = str("kernel");
  if (kernel === "") throw new UsageError("-kernel: empty file name");
  if (kernel === undefined && str("append") !== undefined) {
    throw new UsageError("-append only allowed with -kernel");
  }
  const m = str("m");
  return {
    help: values.help === true,
    version: values.version === true,
    kernel,
    append: str("append"),
    memoryBytes: m === undefined ? DEFAULT_MEMORY_MIB * 2 ** 20 : parseMemorySize(m),
    serial: serial === "stdio" ? "stdio" : "none",
    debugcon: debugcon === "stdio" ? "stdio" : "none",
    debugExit,
    noReboot: values["no-reboot"] === true,
    warnings,
  };
}
