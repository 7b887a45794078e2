/**
 * A whole PcMachine in one snapshot file (format.ts) and back.
 *
 * `saveMachineSnapshot` records, as sections:
 *   "machine/config"  what the machine was built with and what shapes its state: RAM size,
 *                     vCPU count, the CR pinning options, violations, reset style, soft reset,
 *                     which serial ports / debug-exit / debugcon ports / pc-testdev exist, the
 *                     RTC's power-on time;
 *   "machine/state"   the Machine's own counters (resets);
 *   "vm"              Vm.saveState (VM clock, pins and the CR-pinning audit log);
 *   "vcpu/N"          Vcpu.saveState of each vCPU;
 *   "device/NAME"     each board device's save() (board.ts PcBoard.devices: PICs, I/O APIC,
 *                     PIT, port 61h, RTC/CMOS, i8042, port 92h, 0xCF9, PCI host, ACPI PM,
 *                     APM, debug consoles, COM ports, pc-testdev, isa-debug-exit's latch,
 *                     fw_cfg's selector and read offset);
 *   "boot"            what was booted (kernel or BIOS file name, -append, module strings) and
 *                     binary "boot/image", "boot/module/N": the image bytes themselves, so a
 *                     restored machine boots the same kernel after a reset without the files
 *                     (which may have changed or gone); a machine that was never booted
 *                     through kernel-image.ts's bootMachine has boot null and does not reboot
 *                     into anything;
 *   "ram"             guest RAM below the PCI hole (from address 0);
 *   "ram-high/N"      guest RAM at 4 GiB, in 1 GiB pieces (N = 0, 1, ...), when there is any.
 *
 * `restoreMachineSnapshot` decodes and validates the whole file first, then builds a NEW
 * PcMachine from the recorded configuration (host-side outputs and callbacks come from the
 * caller), boots it as recorded (so the boot callback is attached for later resets), and
 * overwrites everything with the saved state. Any failure throws SnapshotError and the new
 * machine is dropped: nothing is half-restored, and the caller's machine is never touched.
 * Must be called between runs (not from inside PcMachine.run).
 */
import { HIGH_MEMORY_BASE, HvError, type PinningOptions } from "../../hv/index.js";
import { PcMachine, type PcMachineOptions, type ResetStyle } from "../machine.js";
import type { DebugExitConfig } from "../devices/debug-exit.js";
import { PORT_E9 } from "../devices/port-e9.js";
import { bootImageOf, bootMachine, type BootImage } from "../loaders/kernel-image.js";
import {
  decodeSnapshot,
  encodeSnapshot,
  HIGH_RAM_SECTION_PREFIX,
  type SnapshotContents,
  type SnapshotExpectation,
} from "./format.js";
import { SnapshotError } from "./errors.js";
import type { SnapshotValue } from "./json-value.js";

/** Version of the "machine/config" section layout. */
const CONFIG_VERSION = 1;

/** The configuration recorded in "machine/config". */
interface RecordedConfig {
  version: typeof CONFIG_VERSION;
  memoryBytes: number;
  /** The machine type, which decides the RAM split (absent in older files: "pc"). */
  machineType?: "pc" | "q35";
  cpus: number;
  pinning: PinningOptions | null;
  violations: "log" | "exit";
  resetStyle: ResetStyle;
  softReset: "system" | "init";
  rtcStartMs: number;
  /** COM1..COM4 present. */
  serialPorts: boolean[];
  debugExit: DebugExitConfig | null;
  /** I/O bases of the isa-debugcon devices besides port E9. */
  debugconPorts: number[];
  /** Whether the isa-debugcon at port E9 exists (absent in older files, whose machines always had it). */
  debugconE9?: boolean;
  pcTestdev: boolean;
}

/** The "boot" section. */
interface RecordedBoot {
  kind: "kernel" | "bios";
  name: string;
  append: string | null;
  modules: string[];
}

/** Host-side wiring of a restored machine: where output goes, what to call. */
export type RestoreOptions = Pick<
  PcMachineOptions,
  "serial" | "extraSerial" | "debugConsole" | "debugcons" | "trace" | "onViolation" | "noReboot"
> & {
  /** What the restoring command line requires of the snapshot (RAM size, vCPUs, profile). */
  expect?: Pick<SnapshotExpectation, "memoryBytes" | "vcpuCount" | "crPin">;
  /** pinvm's version, recorded for information. */
  pinvmVersion?: string;
};

/** Options of saveMachineSnapshot. */
export interface SaveOptions {
  /** pinvm's version, recorded for information (default "unknown"). */
  pinvmVersion?: string;
}

const drop = (): void => {};

function recordConfig(machine: PcMachine): RecordedConfig {
  const c = machine.config;
  return {
    version: CONFIG_VERSION,
    memoryBytes: machine.memoryBytes,
    machineType: c.machineType ?? "pc",
    cpus: machine.vcpus.length,
    pinning: c.pinning ? { ...c.pinning } : null,
    violations: c.violations ?? "log",
    resetStyle: c.resetStyle ?? "vcpu",
    softReset: c.softReset ?? "system",
    rtcStartMs: c.rtcStartMs ?? 0,
    serialPorts: machine.board.uarts.map((u) => u !== null),
    debugExit: c.debugExit ? { ...c.debugExit } : null,
    debugconPorts: (c.debugcons ?? []).map((d) => d.iobase).filter((p) => p !== PORT_E9),
    debugconE9: c.debugConsole !== undefined || (c.debugcons ?? []).some((d) => d.iobase === PORT_E9),
    pcTestdev: c.pcTestdev ?? false,
  };
}

/**
 * Writes `machine` (stopped between runs) as a snapshot file. Throws SnapshotError when some
 * state cannot be saved (e.g. a vCPU in the middle of an exit).
 */
export function saveMachineSnapshot(machine: PcMachine, options: SaveOptions = {}): Uint8Array {
  const json: Record<string, SnapshotValue> = {};
  const binary: Record<string, Uint8Array> = { ram: machine.vm.ram };
  machine.vm.highRamChunks.forEach((chunk, i) => (binary[`${HIGH_RAM_SECTION_PREFIX}${i}`] = chunk));
  try {
    json["machine/config"] = recordConfig(machine) as unknown as SnapshotValue;
    json["machine/state"] = { resets: machine.resets };
    json["vm"] = machine.vm.saveState() as unknown as SnapshotValue;
    machine.vcpus.forEach((v, i) => (json[`vcpu/${i}`] = v.saveState() as unknown as SnapshotValue));
    for (const d of machine.board.devices) json[`device/${d.name}`] = d.save() as SnapshotValue;
  } catch (e) {
    if (e instanceof HvError) throw new SnapshotError("unencodable", `cannot save the machine: ${e.message}`);
    throw e;
  }
  const boot = bootImageOf(machine);
  if (boot) {
    json["boot"] = {
      kind: boot.kind,
      name: boot.name,
      append: boot.kind === "kernel" ? (boot.append ?? null) : null,
      modules: boot.kind === "kernel" ? boot.modules.map((m) => m.commandLine) : [],
    };
    binary["boot/image"] = boot.image;
    if (boot.kind === "kernel") boot.modules.forEach((m, i) => (binary[`boot/module/${i}`] = m.data));
  } else {
    json["boot"] = null;
  }
  return encodeSnapshot({
    pinvmVersion: options.pinvmVersion ?? "unknown",
    machine: {
      memoryBytes: machine.memoryBytes,
      vcpuCount: machine.vcpus.length,
      crPin: machine.config.pinning?.profile ?? "off",
      ...(machine.vm.highMemoryBytes > 0 ? { ramAboveFourGiB: machine.vm.highMemoryBytes } : {}),
    },
    json,
    binary,
  });
}

function malformed(what: string): never {
  throw new SnapshotError("malformed", `snapshot: ${what}`);
}

function checkConfig(raw: SnapshotValue | undefined): RecordedConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    malformed('section "machine/config" is not an object');
  const c = raw as unknown as RecordedConfig;
  if (c.version !== CONFIG_VERSION)
    malformed(`machine/config version ${String(c.version)} (expected ${CONFIG_VERSION})`);
  const isInt = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
  if (!isInt(c.memoryBytes) || !isInt(c.cpus)) malformed("machine/config: bad memoryBytes or cpus");
  if (c.machineType !== undefined && c.machineType !== "pc" && c.machineType !== "q35")
    malformed("machine/config: bad machineType");
  if (c.violations !== "log" && c.violations !== "exit") malformed("machine/config: bad violations");
  if (c.resetStyle !== "vcpu" && c.resetStyle !== "vmm") malformed("machine/config: bad resetStyle");
  if (c.softReset !== "system" && c.softReset !== "init") malformed("machine/config: bad softReset");
  if (typeof c.rtcStartMs !== "number") malformed("machine/config: bad rtcStartMs");
  if (
    !Array.isArray(c.serialPorts) ||
    c.serialPorts.length > 4 ||
    !c.serialPorts.every((p) => typeof p === "boolean")
  ) {
    malformed("machine/config: bad serialPorts");
  }
  if (!Array.isArray(c.debugconPorts) || !c.debugconPorts.every(isInt))
    malformed("machine/config: bad debugconPorts");
  if (
    c.debugExit !== null &&
    (typeof c.debugExit !== "object" || !isInt(c.debugExit.iobase) || !isInt(c.debugExit.iosize))
  ) {
    malformed("machine/config: bad debugExit");
  }
  if (typeof c.pcTestdev !== "boolean") malformed("machine/config: bad pcTestdev");
  if (c.debugconE9 !== undefined && typeof c.debugconE9 !== "boolean")
    malformed("machine/config: bad debugconE9");
  if (c.pinning !== null && (typeof c.pinning !== "object" || typeof c.pinning.profile !== "string")) {
    malformed("machine/config: bad pinning");
  }
  return c;
}

/** The "ram-high/N" sections in order (decodeSnapshot checked their count and lengths). */
function highRamSections(contents: SnapshotContents): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; Object.hasOwn(contents.binary, `${HIGH_RAM_SECTION_PREFIX}${i}`); i++) {
    chunks.push(contents.binary[`${HIGH_RAM_SECTION_PREFIX}${i}`]);
  }
  return chunks;
}

function checkBoot(raw: SnapshotValue | undefined, binary: Record<string, Uint8Array>): BootImage | null {
  if (raw === null) return null;
  const b = raw as unknown as RecordedBoot;
  if (typeof b !== "object" || (b.kind !== "kernel" && b.kind !== "bios") || typeof b.name !== "string") {
    malformed('section "boot" is not a boot record');
  }
  const image = binary["boot/image"];
  if (!image) malformed('section "boot/image" is missing');
  if (b.kind === "bios") return { kind: "bios", name: b.name, image };
  if (!Array.isArray(b.modules) || !b.modules.every((m) => typeof m === "string"))
    malformed("boot: bad modules");
  if (b.append !== null && typeof b.append !== "string") malformed("boot: bad append");
  const modules = b.modules.map((commandLine, i) => {
    const data = binary[`boot/module/${i}`];
    if (!data) malformed(`section "boot/module/${i}" is missing`);
    return { commandLine, data };
  });
  return { kind: "kernel", name: b.name, image, modules, ...(b.append === null ? {} : { append: b.append }) };
}

/**
 * Builds a new PcMachine holding the machine saved in `bytes`, wired to the host through
 * `options`. Throws SnapshotError (nothing else, for any content) when the file is damaged,
 * does not match `options.expect`, or holds state the machine refuses.
 */
export function restoreMachineSnapshot(bytes: Uint8Array, options: RestoreOptions = {}): PcMachine {
  const contents = decodeSnapshot(bytes, {
    ...options.expect,
    json: ["machine/config", "machine/state", "vm", "boot"],
  });
  const config = checkConfig(contents.json["machine/config"]);
  if (config.memoryBytes !== contents.machine.memoryBytes || config.cpus !== contents.machine.vcpuCount) {
    malformed("machine/config disagrees with the file header");
  }
  const highChunks = highRamSections(contents);
  const boot = checkBoot(contents.json["boot"], contents.binary);
  const state = contents.json["machine/state"] as { resets?: unknown } | null;
  const resets = state?.resets;
  if (typeof resets !== "number" || !Number.isSafeInteger(resets) || resets < 0)
    malformed("machine/state: bad resets");

  const serialOut = (n: number) => (n === 0 ? options.serial : options.extraSerial?.[n - 1]) ?? drop;
  let machine: PcMachine;
  try {
    machine = new PcMachine({
      memoryBytes: config.memoryBytes,
      machineType: config.machineType ?? "pc",
      cpus: config.cpus,
      pinning: config.pinning ?? undefined,
      violations: config.violations,
      resetStyle: config.resetStyle,
      softReset: config.softReset,
      rtcStartMs: config.rtcStartMs,
      serial: config.serialPorts[0] ? serialOut(0) : null,
      extraSerial: config.serialPorts.slice(1).map((present, i) => (present ? serialOut(i + 1) : null)),
      debugExit: config.debugExit,
      debugConsole: (config.debugconE9 ?? true) ? (options.debugConsole ?? drop) : undefined,
      debugcons: config.debugconPorts.map((iobase) => ({
        iobase,
        output: options.debugcons?.find((d) => d.iobase === iobase)?.output ?? drop,
      })),
      pcTestdev: config.pcTestdev,
      noReboot: options.noReboot,
      trace: options.trace,
      onViolation: options.onViolation,
    });
    // Boot as recorded first: it attaches the boot callback for later resets; everything it
    // writes (RAM, the boot vCPU's registers) is overwritten below.
    if (boot) bootMachine(machine, boot);
    if (
      machine.vm.lowMemoryBytes !== contents.binary.ram.length ||
      machine.vm.highMemoryBytes !== (contents.machine.ramAboveFourGiB ?? 0)
    ) {
      malformed(
        `the RAM split (${contents.binary.ram.length} bytes below 4 GiB) is not the one machine type ` +
          `"${config.machineType ?? "pc"}" makes of ${config.memoryBytes} bytes`,
      );
    }
    machine.vm.writePhysical(0, contents.binary.ram);
    let at = HIGH_MEMORY_BASE;
    for (const chunk of highChunks) {
      machine.vm.writePhysical(at, chunk);
      at += chunk.length;
    }
    machine.vm.loadState(contents.json["vm"]);
    machine.vcpus.forEach((v, i) => {
      const s = contents.json[`vcpu/${i}`];
      if (s === undefined) malformed(`section "vcpu/${i}" is missing`);
      v.loadState(s);
    });
    const names = new Set(machine.board.devices.map((d) => `device/${d.name}`));
    for (const key of Object.keys(contents.json)) {
      if (key.startsWith("device/") && !names.has(key))
        malformed(`section "${key}": no such device in this machine`);
    }
    for (const d of machine.board.devices) {
      const s = contents.json[`device/${d.name}`];
      if (s === undefined) {
        if (d.sectionMayBeAbsent) continue; // a file from before the device was saved
        malformed(`section "device/${d.name}" is missing`);
      }
      d.load(s);
    }
  } catch (e) {
    if (e instanceof SnapshotError) throw e;
    throw new SnapshotError(
      "malformed",
      `snapshot state refused: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  machine.resets = resets;
  return machine;
}
