/**
 * The `pinvm` command line. `pinvm [run] [flags]` boots a kernel (or the built-in demo
 * guest), `pinvm demo [flags]` boots the demo guest with CR pinning on, `pinvm --help` and
 * `pinvm --version` print and exit. Flags follow QEMU where QEMU has them (`-kernel`,
 * `-m 128M`, `-device isa-debug-exit,iobase=0xf4`...), with one or two leading dashes as
 * QEMU allows; pinvm's own flags (`--cr-pin`, `--snapshot-save`...) take the same
 * spellings. `-flag value` and `-flag=value` both work (QEMU itself only takes the first).
 *
 * `parseArguments` never throws and never exits: it returns a validated RunConfig, a help
 * or version request, or a UsageError whose one-line message names the flag at fault.
 * docs/cli.md describes every flag, the QEMU compatibility choices and the exit statuses.
 */
import { CR0_DEFINED, CR4 } from "../x86/cr.js";
import { PIN_PROFILES, PROFILES, type InitPolicy, type PinProfile } from "../hv/paravirt/profiles.js";

/** Bad command line; the message is shown as `pinvm: <message>`. */
export class UsageError extends Error {
  /** Creates a usage error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

// ------------------------------------------------------------------------------ constants

/** Guest RAM when -m is not given (QEMU's default). */
export const DEFAULT_MEMORY_MIB = 128;
/** Smallest RAM pinvm accepts: Multiboot kernels load at 1 MiB. */
export const MIN_MEMORY_BYTES = 2 * 1024 * 1024;
/**
 * Largest RAM pinvm accepts: 16 GiB (the hypervisor's limit). RAM beyond the machine type's
 * split goes above 4 GiB, as in QEMU (src/vmm/firmware/e820.ts).
 */
export const MAX_MEMORY_BYTES = 16 * 2 ** 30;
/** Most vCPUs `-smp` accepts (the VMM's limit; each vCPU is interpreted in this process). */
export const MAX_SMP_CPUS = 8;
/** Most serial ports: COM1 to COM4 (the ISA serial port bases 3F8H, 2F8H, 3E8H, 2E8H). */
export const MAX_SERIAL_PORTS = 4;
/** Where `-device isa-debug-exit` goes without iobase/iosize (QEMU's and the guest runtime's port). */
export const DEBUG_EXIT_DEFAULT = { iobase: 0xf4, iosize: 4 } as const;
/** CR pinning profile of `pinvm demo` when --cr-pin is not given: the latest public posting. */
export const DEMO_CR_PIN: PinProfile = "jun2020";
/**
 * CR0 bits a mask given with --allowed-cr0 may hold: the CR0 bits that exist (SDM Vol.3
 * 2.5, Figure 2-7: PE MP EM TS ET NE WP AM NW CD PG).
 */
export const CR0_PINNABLE = CR0_DEFINED >>> 0;
/**
 * CR4 bits a mask given with --allowed-cr4 may hold: the CR4 bits pinvm's processor has
 * (SDM Vol.3 2.5, Figure 2-7, as listed in src/x86/cr.ts). Bits 15 and 19 and bits 23 and
 * up (CET, PKS, ... FRED) are refused.
 */
export const CR4_PINNABLE = Object.values(CR4).reduce((mask, bit) => mask | bit, 0) >>> 0;

// prettier-ignore
/**
 * CPU features `-cpu MODEL,+feat / -feat / feat=on|off` may name, with QEMU's spelling: the
 * features pinvm's processor implements (CPUID leaves 1, 7 and 8000_0001H in
 * src/cpu/ops/msr-cpuid.ts). Turning one off hides it from CPUID.
 */
export const CPU_FEATURES: readonly string[] = [
  "fpu", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", "sep", "pge", "cmov", "pat",
  "pse36", "clflush", "mmx", "fxsr", "sse", "sse2", "sse3", "ssse3", "cx16", "pcid", "sse4.1",
  "sse4.2", "popcnt", "xsave", "fsgsbase", "smep", "smap", "umip", "lahf-lm", "abm", "syscall",
  "nx", "pdpe1gb", "rdtscp", "lm",
];

/** QEMU's alternative spellings of feature names: alias -> CPU_FEATURES name. */
const CPU_FEATURE_ALIASES: Readonly<Record<string, string>> = {
  pni: "sse3",
  sse4_1: "sse4.1",
  sse4_2: "sse4.2",
  "sse4-1": "sse4.1",
  "sse4-2": "sse4.2",
  lahf_lm: "lahf-lm",
  xd: "nx",
  i64: "lm",
};

// --------------------------------------------------------------------------------- config

/** Where a character device (serial port, debug console) sends its output. */
export type CharBackend =
  /** The terminal: a serial port on stdin/stdout, the debug console on stderr. */
  | { kind: "stdio" }
  /** Written to the file at `path` (created, or truncated if it exists). */
  | { kind: "file"; path: string }
  /** The device exists but its output is dropped (QEMU's `null`). */
  | { kind: "null" };

/** What the machine starts from. */
export type BootSource =
  /** The built-in demo guest (no -kernel, -bios or --snapshot-load given). */
  | { kind: "demo" }
  /**
   * A kernel loaded directly, without firmware: a Multiboot v1 image, or a Linux bzImage
   * (the VMM tells them apart by content). `append` is the -append text (undefined when
   * not given); `initrd` the -initrd entries in order (Multiboot modules; a Linux kernel
   * takes one initrd).
   */
  | { kind: "kernel"; path: string; append?: string; initrd: InitrdEntry[] }
  /** A flat firmware image mapped so that it ends at 4 GiB, started at the reset vector. */
  | { kind: "bios"; path: string }
  /** A whole machine restored from a snapshot file (src/vmm/snapshot/format.ts). */
  | { kind: "snapshot"; path: string };

/** One -initrd entry: "FILE[ ARGS]" as QEMU's Multiboot loader takes it. */
export interface InitrdEntry {
  /** File to load as a module. */
  path: string;
  /** The module's command line: the whole entry text, file name first (as QEMU passes it). */
  commandLine: string;
}

/** The -cpu choice. */
export interface CpuConfig {
  /** Model asked for; all three name pinvm's one processor model (see docs/cli.md). */
  model: "max" | "host" | "qemu64";
  /** CPUID vendor string (12 characters) if `vendor=` was given. */
  vendor?: string;
  /** Features switched explicitly: name (CPU_FEATURES spelling) -> on. Last setting wins. */
  features: Record<string, boolean>;
}

/** The CR pinning configuration of the VM (hv/paravirt PinningOptions, from the flags). */
export interface PinningConfig {
  /** --cr-pin: the paravirtual ABI offered to the guest, or "off" (default; demo: jun2020). */
  profile: PinProfile;
  /** --pins-on-init: what INIT does to the per-vCPU pins (default: the profile's version). */
  pinsOnInit: InitPolicy;
  /** --allowed-cr0: CR0 bits the guest may pin (default: the profile's, CR0.WP). */
  allowedCr0: number;
  /** --allowed-cr4: CR4 bits the guest may pin (default: the profile's, SMEP|SMAP|UMIP). */
  allowedCr4: number;
  /**
   * --violations: "log" (default) refuses the write with #GP(0), records it and prints one
   * line on stderr, the guest goes on; "exit" stops the machine at the first violation.
   */
  violations: "log" | "exit";
}

/** Everything `pinvm run` / `pinvm demo` needs, validated. */
export interface RunConfig {
  /** The command word: "run" (also when none is given) or "demo". */
  command: "run" | "demo";
  /** What the machine boots. */
  boot: BootSource;
  /** Guest RAM in bytes (-m; default 128 MiB). */
  memoryBytes: number;
  /** vCPU count (-smp; default 1). */
  vcpuCount: number;
  /** -machine type: "pc" and "q35" build pinvm's one PC; they differ in where RAM is split around the PCI hole (default "pc"). */
  machineType: "pc" | "q35";
  /** System management mode present (-machine smm=on|off|auto; default on, as QEMU TCG). */
  smm: boolean;
  /** -cpu model and feature switches. */
  cpu: CpuConfig;
  /**
   * Serial ports by index: [0] is COM1, [1] COM2... (-serial, repeatable). A null entry
   * is a port left out (`-serial none`: since QEMU 9.0 it takes its place, so
   * `-serial none -serial stdio` puts stdio on COM2).
   * Default: COM1 on stdio, or no port with -nodefaults.
   */
  serial: (CharBackend | null)[];
  /** The port-E9 debug console (-debugcon); null = not connected (default). */
  debugcon: CharBackend | null;
  /** isa-debug-exit placement (-device isa-debug-exit), or null for no such device. */
  debugExit: { iobase: number; iosize: number } | null;
  /** -device pc-testdev given (kvm-unit-tests' test device). */
  pcTestdev: boolean;
  /** -no-reboot: a guest reset or triple fault ends pinvm instead of rebooting. */
  noReboot: boolean;
  /** -nodefaults: no default devices (no COM1 unless -serial asks). */
  nodefaults: boolean;
  /** CR pinning (pinvm's --cr-pin, --pins-on-init, --allowed-cr0/4, --violations). */
  pinning: PinningConfig;
  /**
   * --reset-style: how the VMM resets a vCPU on a system reset: "vcpu" (default) asks the
   * hypervisor for one vcpu.reset("reset"); "vmm" writes every piece of RESET state through
   * the set-APIs and zeroes the pin MSRs as host writes (the way the 2019 thread settled).
   */
  resetStyle: "vmm" | "vcpu";
  /**
   * --soft-reset: what the reset sources that real chipsets make soft resets (0xCF9 with
   * SYS_RST=0, the i8042 pulse, port 92h bit 0) do: "system" (default) a full system reset,
   * as QEMU does for every guest reset; "init" INIT# to every processor, as on real
   * hardware (the devices, RAM and the MSRs stay; the CR pins follow --pins-on-init).
   */
  softReset: "system" | "init";
  /**
   * --snapshot-save: write a snapshot to `path` when the guest stops (debug-exit, power-off,
   * halt, shutdown, instruction limit), or, with --snapshot-at N, once N instructions have
   * retired (the guest then runs on). null = no snapshot.
   */
  snapshotSave: { path: string; atInstruction?: number } | null;
  /**
   * --trace: print the machine's events on stderr (resets and how the vCPUs were reset,
   * triple faults, internal errors, violation stops, exits that reach the VMM: unclaimed
   * port/MMIO accesses and debug exits, snapshots, how the run ended).
   */
  trace: boolean;
  /** --max-instructions: stop (exit status 124) after this many instructions; null = no limit. */
  maxInstructions: number | null;
  /**
   * Canonical names of the options given on the command line (e.g. "m", "smp", "cr-pin"),
   * so the VMM can tell a default from a choice (a snapshot load takes RAM size, vCPU count
   * and pinning profile from the file unless they were given, and then they must match).
   */
  explicit: string[];
  /** Messages for flags accepted without effect; main.ts prints them as warnings. */
  warnings: string[];
}

/** What the command line asks for. */
export type ParseResult =
  /** Run a machine. */
  | { kind: "run"; config: RunConfig }
  /** Print `text` (usage, or a list such as `-device help`) and exit 0. */
  | { kind: "help"; text: string }
  /** Print the version and exit 0. */
  | { kind: "version" }
  /** Print `pinvm: <error.message>` and exit 1. */
  | { kind: "error"; error: UsageError };

// -------------------------------------------------------------------------------- options

/** One flag: canonical name, whether it takes a value, and its help line. */
interface OptionSpec {
  /** Takes a value (`-flag VALUE` / `-flag=VALUE`). */
  value: boolean;
  /** May be given several times, each adding (otherwise the last one wins, as in QEMU). */
  repeatable?: boolean;
  /** Other names of the same flag. */
  aliases?: string[];
  /** Value placeholder shown in the help. */
  arg?: string;
  /** One help line. */
  help: string;
  /** A QEMU flag (true) or pinvm's own (false). */
  qemu: boolean;
}

/** Every flag pinvm accepts, in help order. */
const OPTIONS: Readonly<Record<string, OptionSpec>> = {
  kernel: {
    value: true,
    qemu: true,
    arg: "FILE",
    help: "boot a Multiboot v1 kernel or a Linux bzImage directly",
  },
  initrd: {
    value: true,
    qemu: true,
    arg: "FILE[ ARGS][,FILE...]",
    help: "Multiboot modules (Linux: one initrd)",
  },
  append: { value: true, qemu: true, arg: "STRING", help: "kernel command line" },
  bios: {
    value: true,
    qemu: true,
    arg: "FILE",
    help: "flat firmware image ending at 4 GiB, run from the reset vector",
  },
  m: {
    value: true,
    qemu: true,
    arg: "SIZE",
    help: `guest RAM: 128, 128M, 1G, size=128M (default ${DEFAULT_MEMORY_MIB}M)`,
  },
  smp: { value: true, qemu: true, arg: "N", help: `vCPUs: N or cpus=N, 1 to ${MAX_SMP_CPUS} (default 1)` },
  machine: {
    value: true,
    qemu: true,
    aliases: ["M"],
    arg: "pc|q35[,smm=on|off]",
    help: "the PC (pc and q35 differ only in the RAM split below 4G); accel= ignored",
  },
  cpu: {
    value: true,
    qemu: true,
    arg: "max|host|qemu64[,+F|-F|F=on|off][,vendor=ID]",
    help: "the processor",
  },
  accel: { value: true, qemu: true, arg: "tcg|kvm", help: "ignored: pinvm is its own accelerator" },
  "enable-kvm": { value: false, qemu: true, help: "ignored: pinvm is its own accelerator" },
  serial: {
    value: true,
    qemu: true,
    repeatable: true,
    arg: "stdio|file:PATH|null|none",
    help: "next serial port, COM1 to COM4; none leaves one out (default COM1 on stdio)",
  },
  debugcon: {
    value: true,
    qemu: true,
    arg: "stdio|file:PATH|null|none",
    help: "port-E9 debug console (stdio: stderr)",
  },
  device: {
    value: true,
    qemu: true,
    repeatable: true,
    arg: "isa-debug-exit[,iobase=A][,iosize=N]|pc-testdev",
    help: "add a device; `-device help` lists them",
  },
  display: { value: true, qemu: true, arg: "none", help: "accepted: pinvm has no display" },
  nographic: { value: false, qemu: true, help: "accepted: the serial port is on stdio already" },
  nodefaults: { value: false, qemu: true, help: "no default devices (no COM1 unless -serial asks)" },
  "no-reboot": { value: false, qemu: true, help: "exit instead of rebooting on guest reset or triple fault" },
  "no-shutdown": { value: false, qemu: true, help: "ignored: pinvm has no monitor, it exits on power-off" },
  "cr-pin": {
    value: true,
    qemu: false,
    arg: "off|rfc2019|jun2020|heki2024",
    help: `CR pinning ABI offered to the guest (default off; demo: ${DEMO_CR_PIN})`,
  },
  "pins-on-init": {
    value: true,
    qemu: false,
    arg: "keep|clear",
    help: "INIT keeps or clears pins (default: the profile's)",
  },
  "allowed-cr0": { value: true, qemu: false, arg: "MASK", help: "CR0 bits the guest may pin (default WP)" },
  "allowed-cr4": {
    value: true,
    qemu: false,
    arg: "MASK",
    help: "CR4 bits the guest may pin (default SMEP|SMAP|UMIP)",
  },
  violations: {
    value: true,
    qemu: false,
    arg: "log|exit",
    help: "on a pinning violation: #GP and log (default), or stop",
  },
  "reset-style": {
    value: true,
    qemu: false,
    arg: "vcpu|vmm",
    help: "system reset via vcpu.reset (default) or set-APIs",
  },
  "soft-reset": {
    value: true,
    qemu: false,
    arg: "system|init",
    help: "CF9 soft/i8042/port 92h: system reset (default, QEMU) or INIT#",
  },
  "snapshot-save": {
    value: true,
    qemu: false,
    arg: "FILE",
    help: "save the machine to FILE when the guest stops",
  },
  "snapshot-at": {
    value: true,
    qemu: false,
    arg: "N",
    help: "with --snapshot-save: save after N instructions instead",
  },
  "snapshot-load": {
    value: true,
    qemu: false,
    arg: "FILE",
    help: "restore the machine saved in FILE and run it",
  },
  trace: {
    value: false,
    qemu: false,
    help: "print resets, unclaimed-port exits, the run's end on stderr",
  },
  "max-instructions": {
    value: true,
    qemu: false,
    arg: "N",
    help: "stop with status 124 after N instructions",
  },
  help: { value: false, qemu: true, aliases: ["h"], help: "show this help" },
  version: { value: false, qemu: true, help: "show the version" },
};

/** Alias -> canonical name, canonical names included. */
const OPTION_NAMES: ReadonlyMap<string, string> = new Map(
  Object.entries(OPTIONS).flatMap(([name, spec]) => [name, ...(spec.aliases ?? [])].map((n) => [n, name])),
);

/** QEMU flags pinvm refuses, with the reason shown in the error. */
const REFUSED_QEMU_FLAGS: Readonly<Record<string, string>> = {
  hda: "pinvm has no disks",
  hdb: "pinvm has no disks",
  cdrom: "pinvm has no disks",
  drive: "pinvm has no disks",
  blockdev: "pinvm has no disks",
  snapshot: "pinvm has no disks (for machine snapshots see --snapshot-save)",
  netdev: "pinvm has no network",
  net: "pinvm has no network",
  nic: "pinvm has no network",
  chardev: "pinvm has no -chardev; use -serial or -debugcon with stdio or file:PATH",
  monitor: "pinvm has no monitor",
  qmp: "pinvm has no monitor",
  S: "pinvm has no monitor to resume a stopped CPU",
  s: "pinvm has no gdb stub",
  gdb: "pinvm has no gdb stub",
  vga: "pinvm has no display",
  usb: "pinvm has no USB",
  loadvm: "use --snapshot-load FILE",
  incoming: "use --snapshot-load FILE",
};

function usageText(): string {
  const line = (name: string, spec: OptionSpec): string => {
    const names = [name, ...(spec.aliases ?? [])].map((n) => (spec.qemu ? `-${n}` : `--${n}`)).join(", ");
    const left = `  ${names}${spec.arg ? ` ${spec.arg}` : ""}`;
    return left.length >= 34 ? `${left}\n${" ".repeat(34)}${spec.help}` : `${left.padEnd(34)}${spec.help}`;
  };
  const entries = Object.entries(OPTIONS);
  return `usage: pinvm [options]
       pinvm run [options]
       pinvm demo [options]

Runs an x86-64 PC: a kernel given with -kernel, a firmware image given with -bios, a
machine saved with --snapshot-save, or (without those) the built-in demo guest.
\`pinvm demo\` runs the demo guest with --cr-pin ${DEMO_CR_PIN} unless told otherwise.
Every flag takes one or two leading dashes, and its value after a space or after '='.

QEMU flags (same meaning as in qemu-system-x86_64):
${entries
  .filter(([, s]) => s.qemu)
  .map(([n, s]) => line(n, s))
  .join("\n")}

pinvm's own flags:
${entries
  .filter(([, s]) => !s.qemu)
  .map(([n, s]) => line(n, s))
  .join("\n")}

Other QEMU flags are refused, with the reason: disks (-hda, -drive, -cdrom), network
(-netdev, -nic), -chardev, -monitor, -qmp, -S, -s/-gdb, -vga, -usb, -loadvm, -incoming.

Exit status: (V << 1) | 1 when the guest writes V to isa-debug-exit; 0 when the guest
powers off or halts; 2 on a triple fault or reset with -no-reboot; 4 when --violations
exit stopped the guest; 124 when --max-instructions ran out; 1 on a usage or host error.
See docs/cli.md.`;
}

/** The usage text of `pinvm --help`. */
export const USAGE: string = usageText();

// -------------------------------------------------------------------------------- values

/** A non-negative integer in decimal or 0x-hexadecimal; `what` names it in the error. */
function parseInteger(what: string, text: string): number {
  const value = /^0x[0-9a-f]+$/i.test(text)
    ? parseInt(text, 16)
    : /^[0-9]+$/.test(text)
      ? parseInt(text, 10)
      : NaN;
  if (!Number.isSafeInteger(value)) throw new UsageError(`${what}: '${text}' is not a number`);
  return value;
}

/** QEMU's -m syntax: `[size=]N[B|K|M|G|T]`, N in MiB without a suffix, decimals allowed. Returns bytes. */
export function parseMemorySize(text: string): number {
  const parts = text.split(",");
  for (const extra of parts.slice(1)) {
    const key = extra.split("=")[0];
    if (key === "slots" || key === "maxmem") {
      throw new UsageError(`-m ${text}: pinvm has no memory hotplug (${key}= is not supported)`);
    }
    throw new UsageError(`-m ${text}: unknown property '${key}' (pinvm accepts -m SIZE or -m size=SIZE)`);
  }
  const match = /^(?:size=)?(\d+(?:\.\d+)?)([bkmgt]?)$/i.exec(parts[0]);
  if (!match) throw new UsageError(`-m ${text}: expected a size such as 128, 128M or 1G`);
  const unit = { "": 2 ** 20, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[match[2].toLowerCase()]!;
  const bytes = Number(match[1]) * unit;
  if (!Number.isInteger(bytes)) throw new UsageError(`-m ${text}: not a whole number of bytes`);
  if (bytes < MIN_MEMORY_BYTES) throw new UsageError(`-m ${text}: pinvm needs at least 2 MiB of guest RAM`);
  if (bytes > MAX_MEMORY_BYTES)
    throw new UsageError(`-m ${text}: pinvm supports at most 16 GiB of guest RAM`);
  if (bytes % 4096 !== 0) throw new UsageError(`-m ${text}: RAM size must be a multiple of 4 KiB`);
  return bytes;
}

/** QEMU's -smp: pinvm takes `N` or `cpus=N` (no topology). */
function parseSmp(text: string): number {
  const props = text.split(",");
  let count: number | undefined;
  for (const [i, prop] of props.entries()) {
    const eq = prop.indexOf("=");
    const key = eq < 0 ? (i === 0 ? "cpus" : prop) : prop.slice(0, eq);
    if (key !== "cpus") {
      throw new UsageError(
        `-smp ${text}: pinvm accepts only -smp N or -smp cpus=N ('${key}': no CPU topology or hotplug)`,
      );
    }
    const value = eq < 0 ? prop : prop.slice(eq + 1);
    if (!/^[0-9]+$/.test(value)) throw new UsageError(`-smp ${text}: '${value}' is not a number`);
    count = Number(value);
  }
  if (count === undefined || count < 1 || count > MAX_SMP_CPUS) {
    throw new UsageError(`-smp ${text}: pinvm runs 1 to ${MAX_SMP_CPUS} vCPUs`);
  }
  return count;
}

/** -serial / -debugcon value; null for `none`. */
function parseCharBackend(flag: string, text: string): CharBackend | null {
  if (text === "stdio") return { kind: "stdio" };
  if (text === "null") return { kind: "null" };
  if (text === "none") return null;
  if (text.startsWith("file:")) {
    const path = text.slice(5);
    if (path === "") throw new UsageError(`-${flag} ${text}: empty file name`);
    return { kind: "file", path };
  }
  const hint = text.startsWith("mon:") ? " (pinvm has no monitor; use stdio)" : "";
  throw new UsageError(`-${flag} ${text}: pinvm supports stdio, file:PATH, null and none${hint}`);
}

/** Splits QEMU's comma lists, where `,,` stands for a literal comma. */
function splitCommas(text: string): string[] {
  const out: string[] = [""];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ",") {
      if (text[i + 1] === ",") {
        out[out.length - 1] += ",";
        i++;
      } else out.push("");
    } else out[out.length - 1] += text[i];
  }
  return out;
}

/** `-initrd "file1 args,file2"`: Multiboot modules, each "FILE[ ARGS]". */
function parseInitrd(text: string): InitrdEntry[] {
  return splitCommas(text).map((entry) => {
    const path = entry.split(" ")[0];
    if (path === "") throw new UsageError(`-initrd ${text}: empty file name in the list`);
    return { path, commandLine: entry };
  });
}

/** `key=value` properties after a driver or model name. */
function properties(flag: string, owner: string, props: string[]): [string, string | undefined][] {
  return props.map((prop) => {
    if (prop === "") throw new UsageError(`${flag} ${owner}: empty property in the list`);
    const eq = prop.indexOf("=");
    return eq < 0 ? [prop, undefined] : [prop.slice(0, eq), prop.slice(eq + 1)];
  });
}

/** The devices `-device` knows, for `-device help` and the error message. */
const DEVICES = ["isa-debug-exit", "pc-testdev"] as const;

/** One `-device` argument. */
function parseDevice(
  text: string,
): { driver: "isa-debug-exit"; iobase: number; iosize: number } | { driver: "pc-testdev" } {
  const [driver, ...rest] = text.split(",");
  const props = properties("-device", driver, rest).filter(([key]) => key !== "id");
  if (driver === "pc-testdev") {
    if (props.length > 0) throw new UsageError(`-device pc-testdev: unknown property '${props[0][0]}'`);
    return { driver };
  }
  if (driver === "isa-debugcon") {
    throw new UsageError(
      "-device isa-debugcon: pinvm has no -chardev to connect it to; use -debugcon stdio|file:PATH (port 0xe9)",
    );
  }
  if (driver !== "isa-debug-exit") {
    throw new UsageError(`-device ${driver}: unsupported device (pinvm has ${DEVICES.join(", ")})`);
  }
  const config = { driver, ...DEBUG_EXIT_DEFAULT } as {
    driver: "isa-debug-exit";
    iobase: number;
    iosize: number;
  };
  for (const [key, value] of props) {
    if (key !== "iobase" && key !== "iosize") {
      throw new UsageError(`-device isa-debug-exit: unknown property '${key}' (iobase, iosize)`);
    }
    if (value === undefined) throw new UsageError(`-device isa-debug-exit: property '${key}' needs a value`);
    config[key] = parseInteger(`-device isa-debug-exit,${key}`, value);
  }
  if (config.iosize < 1 || config.iosize > 0x10000 || config.iobase + config.iosize > 0x10000) {
    throw new UsageError(
      `-device isa-debug-exit: ports 0x${config.iobase.toString(16)}+${config.iosize} out of range`,
    );
  }
  return config;
}

/** QEMU's on/off property values. */
function onOff(what: string, value: string | undefined, auto = false): boolean | "auto" {
  if (value === "on" || value === "yes" || value === "true") return true;
  if (value === "off" || value === "no" || value === "false") return false;
  if (auto && value === "auto") return "auto";
  throw new UsageError(`${what}: expected on or off${auto ? " or auto" : ""}, not '${value ?? ""}'`);
}

/** -machine: `[type=]pc|q35|pc-i440fx-X|pc-q35-X[,accel=..][,smm=..]`. */
function parseMachine(text: string, warnings: string[]): { type?: "pc" | "q35"; smm?: boolean } {
  const out: { type?: "pc" | "q35"; smm?: boolean } = {};
  for (const [i, [key, value]] of properties("-machine", text, text.split(",")).entries()) {
    if ((i === 0 && value === undefined) || key === "type") {
      const type = value ?? key;
      if (type === "pc" || /^pc-i440fx-/.test(type)) out.type = "pc";
      else if (type === "q35" || /^pc-q35-/.test(type)) out.type = "q35";
      else
        throw new UsageError(
          `-machine ${text}: unsupported machine '${type}' (pinvm has pc and q35, the same PC)`,
        );
    } else if (key === "accel") {
      warnings.push(`-machine accel=${value ?? ""} ignored: pinvm is its own accelerator`);
    } else if (key === "smm") {
      const smm = onOff(`-machine smm`, value, true);
      out.smm = smm === "auto" ? true : smm;
    } else {
      throw new UsageError(
        `-machine ${text}: unsupported property '${key}' (pinvm accepts type, accel and smm)`,
      );
    }
  }
  return out;
}

/** -cpu MODEL[,+feat][,-feat][,feat=on|off][,vendor=ID]. */
function parseCpu(text: string): CpuConfig {
  const [model, ...rest] = text.split(",");
  if (model !== "max" && model !== "host" && model !== "qemu64") {
    throw new UsageError(
      `-cpu ${model}: unsupported model (pinvm models one processor: use max, host or qemu64)`,
    );
  }
  const config: CpuConfig = { model, features: {} };
  for (const [key, value] of properties("-cpu", model, rest)) {
    if (key === "vendor") {
      if (value === undefined || !/^[\x20-\x7e]{12}$/.test(value)) {
        throw new UsageError(
          `-cpu ${model},vendor=${value ?? ""}: the vendor must be 12 characters, e.g. GenuineIntel`,
        );
      }
      config.vendor = value;
      continue;
    }
    let name = key;
    let on: boolean;
    if (value !== undefined) on = onOff(`-cpu ${model},${key}`, value) as boolean;
    else if (key.startsWith("+") || key.startsWith("-")) {
      on = key.startsWith("+");
      name = key.slice(1);
    } else {
      throw new UsageError(`-cpu ${model},${key}: write +${key}, -${key} or ${key}=on|off`);
    }
    const canonical = CPU_FEATURE_ALIASES[name] ?? name;
    if (!CPU_FEATURES.includes(canonical)) {
      throw new UsageError(
        `-cpu ${model},${key}: pinvm's processor has no feature '${name}' (see -cpu help)`,
      );
    }
    config.features[canonical] = on;
  }
  return config;
}

/** --allowed-cr0 / --allowed-cr4 mask, checked against the bits the register has. */
function parseCrMask(flag: "allowed-cr0" | "allowed-cr4", text: string): number {
  const value = parseInteger(`--${flag}`, text);
  const valid = flag === "allowed-cr0" ? CR0_PINNABLE : CR4_PINNABLE;
  const register = flag === "allowed-cr0" ? "CR0" : "CR4";
  if (value > 0xffff_ffff)
    throw new UsageError(`--${flag} ${text}: ${register} pinning masks are 32 bits wide`);
  const bad = (value & ~valid) >>> 0;
  if (bad !== 0) {
    const bits: number[] = [];
    for (let b = 0; b < 32; b++) if (bad & (1 << b)) bits.push(b);
    throw new UsageError(
      `--${flag} ${text}: bit${bits.length > 1 ? "s" : ""} ${bits.join(", ")} ${bits.length > 1 ? "are not" : "is not a"} ${register} bit${bits.length > 1 ? "s" : ""} (valid mask 0x${valid.toString(16)})`,
    );
  }
  return value;
}

/** A choice among `choices`, or a UsageError naming them. */
function choice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(text)) return text as T;
  const list =
    choices.length === 2 ? choices.join(" or ") : `${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}`;
  throw new UsageError(`--${flag} ${text}: expected ${list}`);
}

/** A positive instruction count. */
function parseCount(flag: string, text: string): number {
  const value = parseInteger(`--${flag}`, text.replaceAll("_", ""));
  if (value < 1) throw new UsageError(`--${flag} ${text}: must be at least 1`);
  return value;
}

// ------------------------------------------------------------------------------- scanning

/** One flag as given: canonical name, the spelling used, and its value. */
interface GivenOption {
  name: string;
  spelled: string;
  value?: string;
}

/** Splits argv into the command word and the flags; throws UsageError. */
function scan(argv: readonly string[]): { command: "run" | "demo" | undefined; options: GivenOption[] } {
  let command: "run" | "demo" | undefined;
  const options: GivenOption[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("-") || arg === "-" || arg === "--") {
      if (i === 0 && (arg === "run" || arg === "demo")) {
        command = arg;
        continue;
      }
      if (i === 0 && arg === "help") {
        options.push({ name: "help", spelled: arg });
        continue;
      }
      if (i === 0 && !arg.startsWith("-")) {
        throw new UsageError(
          `unknown command '${arg}': expected run or demo (a kernel is given with -kernel FILE)`,
        );
      }
      throw new UsageError(`unexpected argument '${arg}' (a kernel is given with -kernel FILE)`);
    }
    const body = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf("=");
    const spelledName = eq >= 0 ? body.slice(0, eq) : body;
    const name = OPTION_NAMES.get(spelledName);
    if (name === undefined) {
      const refused = Object.hasOwn(REFUSED_QEMU_FLAGS, spelledName)
        ? REFUSED_QEMU_FLAGS[spelledName]
        : undefined;
      if (refused) throw new UsageError(`option '${arg}' is not supported: ${refused}`);
      throw new UsageError(
        `unknown option '${eq >= 0 ? arg.slice(0, arg.indexOf("=")) : arg}' (see pinvm --help)`,
      );
    }
    const spelled = eq >= 0 ? arg.slice(0, arg.indexOf("=")) : arg;
    if (!OPTIONS[name].value) {
      if (eq >= 0) throw new UsageError(`option '${spelled}' takes no value`);
      options.push({ name, spelled });
      continue;
    }
    if (eq >= 0) options.push({ name, spelled, value: body.slice(eq + 1) });
    else {
      if (i + 1 >= argv.length) throw new UsageError(`option '${arg}' needs a value`);
      options.push({ name, spelled, value: argv[++i] });
    }
  }
  return { command, options };
}

/** `-device help`, `-cpu help`, `-machine help`: the lists QEMU prints for them. */
function listFor(name: string): string | undefined {
  switch (name) {
    case "device":
      return `Devices pinvm has:\n  isa-debug-exit  iobase (default 0xf4), iosize (default 4): guest writes V, pinvm exits with (V << 1) | 1\n  pc-testdev      kvm-unit-tests' test device`;
    case "cpu":
      return `CPU models (all name pinvm's one processor): max, host, qemu64\nFeatures (+F, -F, F=on|off): ${CPU_FEATURES.join(" ")}`;
    case "machine":
      return "Machines: pc (also pc-i440fx-*), q35 (also pc-q35-*): pinvm's one PC, with QEMU's RAM split of each";
    default:
      return undefined;
  }
}

// -------------------------------------------------------------------------------- parsing

/** Parses and validates a command line (without the node and script paths); throws UsageError. */
function parse(argv: readonly string[]): ParseResult {
  const { command, options } = scan(argv);
  if (options.some((o) => o.name === "help")) return { kind: "help", text: USAGE };
  if (options.some((o) => o.name === "version")) return { kind: "version" };
  for (const o of options) {
    const list = o.value === "help" || o.value === "?" ? listFor(o.name) : undefined;
    if (list !== undefined) return { kind: "help", text: list };
  }

  const last = new Map<string, GivenOption>();
  const all = (name: string): GivenOption[] => options.filter((o) => o.name === name);
  for (const o of options) last.set(o.name, o);
  const str = (name: string): string | undefined => last.get(name)?.value;
  const has = (name: string): boolean => last.has(name);
  const warnings: string[] = [];

  // Boot source.
  const kernel = str("kernel");
  if (kernel === "") throw new UsageError("-kernel: empty file name");
  const bios = str("bios");
  if (bios === "") throw new UsageError("-bios: empty file name");
  const snapshotLoad = str("snapshot-load");
  if (snapshotLoad === "") throw new UsageError("--snapshot-load: empty file name");
  if (command === "demo") {
    for (const flag of ["kernel", "initrd", "append", "bios", "snapshot-load"]) {
      if (has(flag))
        throw new UsageError(
          `${last.get(flag)!.spelled}: pinvm demo runs the built-in demo guest (use pinvm run)`,
        );
    }
  }
  if (snapshotLoad !== undefined) {
    for (const flag of ["kernel", "initrd", "append", "bios"]) {
      if (has(flag)) {
        throw new UsageError(
          `${last.get(flag)!.spelled} cannot be combined with --snapshot-load (the snapshot holds the whole machine)`,
        );
      }
    }
  }
  if (kernel !== undefined && bios !== undefined) {
    throw new UsageError(
      "-bios cannot be combined with -kernel: pinvm loads -kernel directly, without firmware",
    );
  }
  if (kernel === undefined && has("append")) throw new UsageError("-append only allowed with -kernel");
  if (kernel === undefined && has("initrd")) throw new UsageError("-initrd only allowed with -kernel");
  let boot: BootSource;
  if (snapshotLoad !== undefined) boot = { kind: "snapshot", path: snapshotLoad };
  else if (kernel !== undefined) {
    const initrd = str("initrd");
    boot = { kind: "kernel", path: kernel, initrd: initrd === undefined ? [] : parseInitrd(initrd) };
    if (has("append")) boot.append = str("append");
  } else if (bios !== undefined) boot = { kind: "bios", path: bios };
  else boot = { kind: "demo" };

  // Machine.
  const m = str("m");
  const memoryBytes = m === undefined ? DEFAULT_MEMORY_MIB * 2 ** 20 : parseMemorySize(m);
  const smp = str("smp");
  const vcpuCount = smp === undefined ? 1 : parseSmp(smp);
  const machine = str("machine") === undefined ? {} : parseMachine(str("machine")!, warnings);
  const cpu = str("cpu") === undefined ? { model: "max" as const, features: {} } : parseCpu(str("cpu")!);
  const accel = str("accel");
  if (accel !== undefined) {
    const name = accel.split(",")[0];
    if (name !== "tcg" && name !== "kvm") throw new UsageError(`-accel ${accel}: expected tcg or kvm`);
    warnings.push(
      `-accel ${name} ignored: pinvm is its own accelerator (it always emulates the CPU in software)`,
    );
  }
  if (has("enable-kvm")) warnings.push("-enable-kvm ignored: pinvm is its own accelerator");
  if (has("no-shutdown"))
    warnings.push("-no-shutdown ignored: pinvm has no monitor; it exits when the guest powers off");
  const display = str("display");
  if (display !== undefined && display !== "none") {
    throw new UsageError(`-display ${display}: pinvm has no display; only -display none is accepted`);
  }

  // Character devices.
  const serialFlags = all("serial");
  const serial: (CharBackend | null)[] = [];
  for (const o of serialFlags) {
    const backend = parseCharBackend("serial", o.value!);
    if (serial.length === MAX_SERIAL_PORTS) {
      throw new UsageError(`-serial ${o.value}: at most ${MAX_SERIAL_PORTS} serial ports (COM1 to COM4)`);
    }
    if (backend?.kind === "stdio" && serial.some((b) => b?.kind === "stdio")) {
      throw new UsageError(
        `-serial stdio: stdio is already used by COM${serial.findIndex((b) => b?.kind === "stdio") + 1}`,
      );
    }
    serial.push(backend);
  }
  const nodefaults = has("nodefaults");
  if (serialFlags.length === 0 && !nodefaults) serial.push({ kind: "stdio" });
  const debugconText = str("debugcon");
  const debugcon = debugconText === undefined ? null : parseCharBackend("debugcon", debugconText);

  // Devices.
  let debugExit: RunConfig["debugExit"] = null;
  let pcTestdev = false;
  for (const o of all("device")) {
    const device = parseDevice(o.value!);
    if (device.driver === "pc-testdev") {
      if (pcTestdev) throw new UsageError("-device pc-testdev: given twice");
      pcTestdev = true;
    } else {
      if (debugExit) throw new UsageError("-device isa-debug-exit: given twice");
      debugExit = { iobase: device.iobase, iosize: device.iosize };
    }
  }

  // Pinning.
  const crPinText = str("cr-pin");
  const profile =
    crPinText === undefined
      ? command === "demo"
        ? DEMO_CR_PIN
        : "off"
      : choice("cr-pin", crPinText, PIN_PROFILES);
  if (profile === "off") {
    for (const flag of ["pins-on-init", "allowed-cr0", "allowed-cr4", "violations"]) {
      if (has(flag))
        throw new UsageError(
          `${last.get(flag)!.spelled} needs CR pinning on (--cr-pin rfc2019, jun2020 or heki2024)`,
        );
    }
  }
  const spec = PROFILES[profile];
  const pinsOnInitText = str("pins-on-init");
  const violationsText = str("violations");
  const pinning: PinningConfig = {
    profile,
    pinsOnInit:
      pinsOnInitText === undefined
        ? spec.defaultPinsOnInit
        : choice("pins-on-init", pinsOnInitText, ["keep", "clear"]),
    allowedCr0: has("allowed-cr0")
      ? parseCrMask("allowed-cr0", str("allowed-cr0")!)
      : spec.defaultAllowedCr0 >>> 0,
    allowedCr4: has("allowed-cr4")
      ? parseCrMask("allowed-cr4", str("allowed-cr4")!)
      : spec.defaultAllowedCr4 >>> 0,
    violations: violationsText === undefined ? "log" : choice("violations", violationsText, ["log", "exit"]),
  };
  const resetText = str("reset-style");
  const resetStyle = resetText === undefined ? "vcpu" : choice("reset-style", resetText, ["vcpu", "vmm"]);
  const softText = str("soft-reset");
  const softReset = softText === undefined ? "system" : choice("soft-reset", softText, ["system", "init"]);

  // Run control and snapshots.
  const maxText = str("max-instructions");
  const maxInstructions = maxText === undefined ? null : parseCount("max-instructions", maxText);
  const saveTo = str("snapshot-save");
  if (saveTo === "") throw new UsageError("--snapshot-save: empty file name");
  const atText = str("snapshot-at");
  if (atText !== undefined && saveTo === undefined) {
    throw new UsageError("--snapshot-at needs --snapshot-save FILE (where to write the snapshot)");
  }
  let snapshotSave: RunConfig["snapshotSave"] = null;
  if (saveTo !== undefined) {
    snapshotSave = { path: saveTo };
    if (atText !== undefined) {
      const at = parseCount("snapshot-at", atText);
      if (maxInstructions !== null && at > maxInstructions) {
        throw new UsageError(
          `--snapshot-at ${atText} is beyond --max-instructions ${maxText}: it would never happen`,
        );
      }
      snapshotSave.atInstruction = at;
    }
  }

  const config: RunConfig = {
    command: command ?? "run",
    boot,
    memoryBytes,
    vcpuCount,
    machineType: machine.type ?? "pc",
    smm: machine.smm ?? true,
    cpu,
    serial,
    debugcon,
    debugExit,
    pcTestdev,
    noReboot: has("no-reboot"),
    nodefaults,
    pinning,
    resetStyle,
    softReset,
    snapshotSave,
    trace: has("trace"),
    maxInstructions,
    explicit: [...last.keys()],
    warnings,
  };
  return { kind: "run", config };
}

/**
 * Parses a command line (without the node and script paths). Never throws and never
 * exits: a bad command line comes back as `{ kind: "error" }` with a one-line message.
 */
export function parseArguments(argv: readonly string[]): ParseResult {
  try {
    return parse(argv);
  } catch (e) {
    if (e instanceof UsageError) return { kind: "error", error: e };
    throw e;
  }
}

// ------------------------------------------------------------------- the first runner's view

/** What main.ts's first runner takes: a Multiboot kernel or the demo, COM1, E9, debug-exit. */
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
  /** Port-E9 debug console on stderr, or dropped. */
  debugcon: "stdio" | "none";
  /** isa-debug-exit placement, if the device was asked for. */
  debugExit?: { iobase: number; iosize: number };
  /** -no-reboot given. */
  noReboot: boolean;
  /** Messages for flags accepted but without effect. */
  warnings: string[];
}

/**
 * The first runner's view of a RunConfig: refuses (UsageError) what that runner cannot do
 * yet, instead of silently ignoring it. Goes away when main.ts runs RunConfig directly.
 */
export function toMachineConfig(config: RunConfig): MachineConfig {
  const unsupported = (what: string): never => {
    throw new UsageError(`${what} is not supported by this pinvm's runner yet`);
  };
  if (config.boot.kind === "bios") unsupported("-bios");
  if (config.boot.kind === "snapshot") unsupported("--snapshot-load");
  if (config.boot.kind === "kernel" && config.boot.initrd.length > 0) unsupported("-initrd");
  if (config.serial.length > 1 || config.serial.some((b) => b?.kind === "file"))
    unsupported("-serial file: or COM2-4");
  if (config.debugcon?.kind === "file") unsupported("-debugcon file:");
  if (config.vcpuCount > 1) unsupported("-smp above 1");
  if (config.pcTestdev) unsupported("-device pc-testdev");
  if (config.pinning.profile !== "off") unsupported("--cr-pin");
  if (config.snapshotSave) unsupported("--snapshot-save");
  if (config.cpu.vendor !== undefined || Object.keys(config.cpu.features).length > 0)
    unsupported("-cpu features");
  return {
    help: false,
    version: false,
    kernel: config.boot.kind === "kernel" ? config.boot.path : undefined,
    append: config.boot.kind === "kernel" ? config.boot.append : undefined,
    memoryBytes: config.memoryBytes,
    serial: config.serial.length === 1 && config.serial[0]?.kind === "stdio" ? "stdio" : "none",
    debugcon: config.debugcon?.kind === "stdio" ? "stdio" : "none",
    debugExit: config.debugExit ?? undefined,
    noReboot: config.noReboot,
    warnings: config.warnings,
  };
}

/**
 * The first runner's entry point: parses `argv` and returns its MachineConfig; throws
 * UsageError. Kept for main.ts until it takes parseArguments' RunConfig.
 */
export function parseCommandLine(argv: readonly string[]): MachineConfig {
  const result = parseArguments(argv);
  const base = { memoryBytes: DEFAULT_MEMORY_MIB * 2 ** 20, serial: "stdio", debugcon: "none" } as const;
  switch (result.kind) {
    case "error":
      throw result.error;
    case "help":
      return { ...base, help: true, version: false, noReboot: false, warnings: [] };
    case "version":
      return { ...base, help: false, version: true, noReboot: false, warnings: [] };
    case "run":
      return toMachineConfig(result.config);
  }
}
