/**
 * The PC machine (our QEMU "pc" board): a VM with RAM and 1..N vCPUs, the PC devices
 * (board.ts), firmware tables, the loop that runs the vCPUs, the reset sources, and
 * snapshots.
 *
 * Scheduling is deterministic: the vCPUs run round-robin in fixed slices of instructions,
 * and the VM clock advances by the longest slice any vCPU ran (one instruction = 1 ns, a
 * 1 GHz TSC), so a run can be reproduced exactly. When every vCPU is halted or waiting for
 * a SIPI the clock jumps to the next timer deadline (a vCPU's APIC timer or a device
 * timer): HLT sleeps, it never spins. With nothing left that could wake a vCPU, the run
 * ends ("halted").
 *
 * A system reset (0xCF9, the i8042 pulse, port 92h, the ACPI reset register which is
 * 0xCF9, a triple fault, or `systemReset()` from the monitor) resets the devices and each
 * vCPU in one of two ways, chosen by `resetStyle`: "vcpu" calls `vcpu.reset("reset")` — the
 * full vCPU reset the 2019 thread proposed — and "vmm" writes every piece of RESET state
 * through the set-APIs, zeroing the pin MSRs with host-initiated writes, the way the thread
 * settled (vmm-reset.ts). Both leave identical state. QEMU turns every guest-initiated reset
 * into a full system reset; real chipsets make CF9 with SYS_RST=0, the i8042 pulse and port
 * 92h soft resets (INIT#). `softReset: "init"` models the latter: those sources send INIT to
 * every processor instead (MSRs, and so the CR pins, survive per the pins-on-init option).
 * After any reset the machine boots again the way QEMU does with its firmware: the `boot`
 * callback (the -kernel loader) runs again, while what firmware would not touch survives —
 * CMOS, and RAM outside what the loader writes. `noReboot` (QEMU's -no-reboot) ends the run
 * instead.
 */
import {
  Hypervisor,
  HvError,
  type PinningOptions,
  type Vcpu,
  type VcpuExit,
  type Violation,
  type Vm,
} from "../hv/index.js";
import { PcBoard, type ResetSource } from "./board.js";
import { DEBUG_EXIT_DEFAULTS, debugExitStatus, type DebugExitConfig } from "./devices/debug-exit.js";
import { PORT_E9 } from "./devices/port-e9.js";
import { buildAcpiTables } from "./firmware/acpi-tables.js";
import { machineRamSplit, pcE820Map, type PcMachineType, type RamSplit } from "./firmware/e820.js";
import { pcFwCfg } from "./firmware/fw-cfg.js";
import { acpiPmBlocks, ACPI_PM_DEFAULT_BASE } from "./devices/acpi-pm.js";
import { resetVcpuThroughSetApis } from "./vmm-reset.js";

/** COM1's I/O base. */
export const COM1_BASE = 0x3f8;

/**
 * Process exit status for a triple fault or a reset request with -no-reboot: 0, as QEMU exits
 * (measured with qemu-system-x86_64 7.2 -no-reboot on a triple fault and on a 0xCF9 reset), so
 * scripts written for QEMU see the same status; stderr names the cause.
 */
export const SHUTDOWN_EXIT_STATUS = 0;

/** --trace: how many exits reaching the VMM (unclaimed port/MMIO accesses, debug) are printed. */
export const TRACED_EXITS_MAX = 1000;

/** Process exit status when the instruction limit ran out (as timeout(1)). */
export const LIMIT_EXIT_STATUS = 124;

/** Process exit status for a hypervisor internal error. */
export const INTERNAL_ERROR_EXIT_STATUS = 3;

/** How system resets reset the vCPUs (see the module comment). */
export type ResetStyle = "vmm" | "vcpu";

/** How to build a PcMachine. */
export interface PcMachineOptions {
  /** Guest RAM in bytes. */
  memoryBytes: number;
  /**
   * The machine type, which decides where RAM is split around the PCI hole (firmware/e820.ts):
   * "pc" (QEMU i440FX: 3.5 GiB, or 3 GiB once RAM reaches 3.5 GiB) or "q35" (2.75 GiB, or
   * 2 GiB once RAM reaches 2.75 GiB). Default "pc".
   */
  machineType?: PcMachineType;
  /** Number of vCPUs (default 1). */
  cpus?: number;
  /** Where COM1's output goes; null removes the UART (QEMU's `-serial none`). Default: dropped. */
  serial?: ((byte: number) => void) | null;
  /** Outputs of COM2..COM4 (absent = no UART). */
  extraSerial?: (((byte: number) => void) | null)[];
  /** isa-debug-exit placement, or null for no such device (QEMU's default). */
  debugExit?: DebugExitConfig | null;
  /**
   * Where the output of the isa-debugcon at port E9H (QEMU's -debugcon) goes; absent = no
   * such device, as in QEMU without -debugcon (port E9H is then open bus: reads FFH).
   */
  debugConsole?: (byte: number) => void;
  /** Further isa-debugcon devices (e.g. port 0x402). */
  debugcons?: { iobase: number; output: (byte: number) => void }[];
  /** Attach QEMU's pc-testdev. */
  pcTestdev?: boolean;
  /** CR pinning profile and options (default off). */
  pinning?: PinningOptions;
  /** "exit": a refused CR write also ends vcpu.run() (reported through onViolation). */
  violations?: "log" | "exit";
  /** How system resets reset the vCPUs (default "vcpu"). */
  resetStyle?: ResetStyle;
  /** Soft reset sources act as a full system reset (QEMU, default) or as INIT# (real chipsets). */
  softReset?: "system" | "init";
  /** QEMU's -no-reboot: a reset ends the run instead. */
  noReboot?: boolean;
  /** Wall-clock time the RTC shows at power-on (default: now). */
  rtcStartMs?: number;
  /** Called for each event worth tracing (exits, violations, resets). */
  trace?: (line: string) => void;
  /** Called for each CR-pinning violation. */
  onViolation?: (violation: Violation) => void;
}

/** How long to run. */
export interface MachineRunOptions {
  /** Stop after about this many instructions in total (default: no limit). */
  maxInstructions?: number;
  /** Instructions per vCPU slice (default 100 000). */
  sliceInstructions?: number;
}

/** The guest wrote value `guestCode` to the debug-exit port. */
export interface DebugExitResult {
  kind: "debug-exit";
  /** (guestCode << 1) | 1, QEMU's process exit status. */
  exitCode: number;
  guestCode: number;
  instructions: number;
}

/** Every vCPU halted with nothing that could wake it. */
export interface HaltedResult {
  kind: "halted";
  exitCode: 0;
  /** RFLAGS.IF of the BSP: true means it waited for an interrupt that cannot come. */
  interruptsEnabled: boolean;
  /** The BSP's RIP (after its HLT). */
  rip: bigint;
  instructions: number;
}

/** A vCPU shut down (triple fault) and -no-reboot was given. */
export interface ShutdownResult {
  kind: "shutdown";
  exitCode: typeof SHUTDOWN_EXIT_STATUS;
  reason: string;
  /** RIP of the instruction whose fault could not be delivered. */
  rip: bigint;
  instructions: number;
}

/** The guest asked for a reset and -no-reboot was given. */
export interface ResetRequestedResult {
  kind: "reset";
  exitCode: 0;
  source: ResetSource;
  instructions: number;
}

/** ACPI power-off (S5). */
export interface PowerOffResult {
  kind: "poweroff";
  exitCode: 0;
  instructions: number;
}

/** The hypervisor could not continue a vCPU (e.g. jun2020's RSM refusal). */
export interface InternalErrorResult {
  kind: "internal-error";
  exitCode: typeof INTERNAL_ERROR_EXIT_STATUS;
  vcpu: number;
  detail: string;
  instructions: number;
}

/** A refused CR write with violations "exit" ends the run here when the VMM asks. */
export interface ViolationResult {
  kind: "cr-pin-violation";
  exitCode: 0;
  violation: Violation;
  instructions: number;
}

/** maxInstructions ran out. */
export interface LimitResult {
  kind: "instruction-limit";
  exitCode: typeof LIMIT_EXIT_STATUS;
  rip: bigint;
  instructions: number;
}

/** Why PcMachine.run() returned. */
export type MachineResult =
  | DebugExitResult
  | HaltedResult
  | ShutdownResult
  | ResetRequestedResult
  | PowerOffResult
  | InternalErrorResult
  | ViolationResult
  | LimitResult;

const DEFAULT_SLICE = 100_000;

/** A PC with RAM, vCPUs, the PC devices and optional test devices. */
export class PcMachine {
  /** The VM (memory and vCPUs) in the hypervisor. */
  readonly vm: Vm;
  /** The vCPUs, BSP first. */
  readonly vcpus: Vcpu[];
  /** The devices. */
  readonly board: PcBoard;
  /** Resets done so far. */
  resets = 0;
  private readonly options: PcMachineOptions;
  private exitValue: number | null = null;
  private pendingReset: ResetSource | null = null;
  private poweredOff = false;
  private bootFn: ((machine: PcMachine) => void) | null = null;
  private retiredBase = 0;

  /** Builds the machine; throws HvError for bad VM options, RangeError for bad device options. */
  constructor(options: PcMachineOptions) {
    this.options = options;
    const cpus = options.cpus ?? 1;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) {
      throw new HvError("bad-argument", `cpus: expected 1..64, got ${String(cpus)}`);
    }
    const machineType = options.machineType ?? "pc";
    if (machineType !== "pc" && machineType !== "q35") {
      throw new RangeError(`machineType: expected "pc" or "q35", got ${String(machineType)}`);
    }
    let split: RamSplit;
    try {
      split = machineRamSplit(machineType, options.memoryBytes);
    } catch (e) {
      throw new HvError("bad-argument", `memoryBytes: ${(e as Error).message}`);
    }
    this.vm = new Hypervisor().createVm({
      memoryBytes: options.memoryBytes,
      lowMemoryBytes: split.belowFourGiB,
      pinning: options.pinning,
      violations: options.violations,
    });
    this.vcpus = Array.from({ length: cpus }, (_, i) => this.vm.createVcpu(i));
    const debugcons = [...(options.debugcons ?? [])];
    if (options.debugConsole !== undefined && !debugcons.some((d) => d.iobase === PORT_E9)) {
      debugcons.unshift({ iobase: PORT_E9, output: options.debugConsole });
    }
    this.board = new PcBoard(
      this.vm,
      {
        serial: [options.serial === undefined ? () => {} : options.serial, ...(options.extraSerial ?? [])],
        debugExit: options.debugExit ?? null,
        debugcons,
        pcTestdev: options.pcTestdev ?? false,
        rtcStartMs: options.rtcStartMs ?? Date.now(),
      },
      {
        reset: (source) => this.requestReset(source),
        powerOff: () => {
          this.poweredOff = true;
          this.vm.requestSystemEvent("poweroff");
        },
        debugExit: (value) => {
          this.exitValue = value;
          this.vm.runningVcpu?.requestStop();
        },
      },
    );
    this.vm.setPortIoHandler(this.board.io);
    if (options.trace)
      this.board.io.onUnclaimed = (port, size, value) => this.traceUnclaimedPort(port, size, value);
    this.installFirmware();
  }

  /** The boot processor. */
  get vcpu(): Vcpu {
    return this.vcpus[0];
  }

  /** Guest RAM size in bytes. */
  get memoryBytes(): number {
    return this.vm.memoryBytes;
  }

  /** How RAM is split: the part mapped at 0 (below the PCI hole) and the part at 4 GiB. */
  get ramSplit(): RamSplit {
    return { belowFourGiB: this.vm.lowMemoryBytes, aboveFourGiB: this.vm.highMemoryBytes };
  }

  /** The options the machine was built with. */
  get config(): Readonly<PcMachineOptions> {
    return this.options;
  }

  /**
   * Sets what booting means (the -kernel loader) and boots: `boot` runs now and again after
   * every system reset, as QEMU's firmware reloads the -kernel image.
   */
  setBoot(boot: (machine: PcMachine) => void): void {
    this.bootFn = boot;
    boot(this);
  }

  /** Writes the ACPI tables and fw_cfg contents for this machine. */
  private installFirmware(): void {
    const apicIds = this.vcpus.map((v) => v.id);
    const acpi = buildAcpiTables({ apicIds, pm: acpiPmBlocks(ACPI_PM_DEFAULT_BASE, false) });
    this.vm.writePhysical(acpi.rsdp.address, acpi.rsdp.bytes);
    this.vm.writePhysical(acpi.tables.address, acpi.tables.bytes);
    const e820 = pcE820Map(this.ramSplit);
    this.board.fwCfg = pcFwCfg({ ramBytes: this.vm.memoryBytes, cpus: this.vcpus.length, e820, acpi });
  }

  /** A device or the monitor asks for a reset (acted on between slices). */
  requestReset(source: ResetSource): void {
    if (this.pendingReset === null) this.pendingReset = source;
    this.vm.requestSystemEvent("reset");
  }

  /** The monitor's system_reset. */
  systemReset(): void {
    this.requestReset("monitor");
  }

  private trace(line: string): void {
    this.options.trace?.(line);
  }

  /** Counts one traced exit; false once TRACED_EXITS_MAX were printed (says so once). */
  private countTracedExit(): boolean {
    this.tracedExits++;
    if (this.tracedExits <= TRACED_EXITS_MAX) return true;
    if (this.tracedExits === TRACED_EXITS_MAX + 1)
      this.trace(`further exits not traced (more than ${TRACED_EXITS_MAX})`);
    return false;
  }

  /** --trace of an IN/OUT at a port no device claims (the bus answers with open bus). */
  private traceUnclaimedPort(port: number, size: number, value: number | undefined): void {
    if (!this.countTracedExit()) return;
    const h = (n: number): string => `0x${n.toString(16)}`;
    this.trace(
      value === undefined
        ? `exit io-in port ${h(port)} size ${size} (unclaimed: open bus)`
        : `exit io-out port ${h(port)} size ${size} value ${h(value)} (unclaimed)`,
    );
  }

  /** Exits traced so far by traceExit. */
  private tracedExits = 0;

  /**
   * Traces an exit that reached the VMM's run loop: an I/O port or MMIO address no device
   * claims (the guest sees open bus: all ones on reads, writes dropped) or a debug exit. Port
   * I/O normally goes to the board's bus, which reports its unclaimed ports through
   * traceUnclaimedPort; device accesses are not traced. At most TRACED_EXITS_MAX
   * lines per machine, then one line saying the rest are not shown, so a guest that polls
   * an absent device cannot flood stderr.
   */
  private traceExit(vcpu: Vcpu, exit: VcpuExit): void {
    if (!this.options.trace || !this.countTracedExit()) return;
    const h = (n: number | bigint): string => `0x${n.toString(16)}`;
    switch (exit.kind) {
      case "io-in":
        this.trace(
          `vcpu ${vcpu.id}: exit io-in port ${h(exit.port)} size ${exit.size} (unclaimed: open bus)`,
        );
        break;
      case "io-out":
        this.trace(
          `vcpu ${vcpu.id}: exit io-out port ${h(exit.port)} size ${exit.size} value ${h(exit.value)} (unclaimed)`,
        );
        break;
      case "mmio-read":
        this.trace(
          `vcpu ${vcpu.id}: exit mmio-read ${h(exit.address)} size ${exit.size} (unclaimed: open bus)`,
        );
        break;
      case "mmio-write":
        this.trace(
          `vcpu ${vcpu.id}: exit mmio-write ${h(exit.address)} size ${exit.size} value ${h(exit.value)} (unclaimed)`,
        );
        break;
      case "debug":
        this.trace(`vcpu ${vcpu.id}: exit debug (${exit.reason}) at rip ${h(exit.rip)}`);
        break;
      default:
        this.trace(`vcpu ${vcpu.id}: exit ${exit.kind}`);
    }
  }

  /** Instructions retired by all vCPUs since the machine was built. */
  get instructions(): number {
    let n = this.retiredBase;
    for (const v of this.vcpus) n += v.instructionsRetired;
    return n;
  }

  /** Runs the guest until it stops (see MachineResult) or the instruction limit. */
  run(options: MachineRunOptions = {}): MachineResult {
    const limit = options.maxInstructions ?? Infinity;
    const slice = options.sliceInstructions ?? DEFAULT_SLICE;
    const start = this.instructions;
    const executed = (): number => this.instructions - start;
    for (;;) {
      if (this.exitValue !== null) {
        const value = this.exitValue;
        return {
          kind: "debug-exit",
          exitCode: debugExitStatus(value),
          guestCode: value,
          instructions: executed(),
        };
      }
      if (this.poweredOff) return { kind: "poweroff", exitCode: 0, instructions: executed() };
      if (this.pendingReset !== null) {
        const source = this.pendingReset;
        if (this.options.noReboot) return { kind: "reset", exitCode: 0, source, instructions: executed() };
        this.doReset(source);
        continue;
      }
      const left = limit - executed();
      if (left <= 0) {
        return {
          kind: "instruction-limit",
          exitCode: LIMIT_EXIT_STATUS,
          rip: this.vcpu.getRegs().rip,
          instructions: executed(),
        };
      }
      const now = this.vm.now();
      let budget = Math.min(slice, left);
      const deviceDeadline = this.board.nextDeadline();
      if (deviceDeadline !== undefined) budget = Math.max(1, Math.min(budget, deviceDeadline - now));
      let longest = 0;
      let anyRan = false;
      for (const vcpu of this.vcpus) {
        const before = vcpu.instructionsRetired;
        const result = this.runVcpu(vcpu, budget);
        const ran = vcpu.instructionsRetired - before;
        longest = Math.max(longest, ran);
        if (ran > 0) anyRan = true;
        if (result) return { ...result, instructions: executed() } as MachineResult;
        if (this.exitValue !== null || this.pendingReset !== null || this.poweredOff) break;
      }
      if (this.exitValue !== null || this.pendingReset !== null || this.poweredOff) continue;
      if (anyRan || this.vcpus.some((v) => v.runnable)) {
        this.vm.advanceClock(now + Math.max(longest, 1));
      } else {
        // Everything halted: sleep until the next timer.
        let next = deviceDeadline;
        for (const v of this.vcpus) {
          const t = v.nextEventTime();
          if (t !== undefined && (next === undefined || t < next)) next = t;
        }
        if (next === undefined) {
          return {
            kind: "halted",
            exitCode: 0,
            interruptsEnabled: this.vcpu.interruptsEnabled,
            rip: this.vcpu.getRegs().rip,
            instructions: executed(),
          };
        }
        this.vm.advanceClock(Math.max(next, now + 1));
      }
      this.board.advance(this.vm.now());
    }
  }

  /** One slice of one vCPU; returns a result when the run must end. */
  private runVcpu(vcpu: Vcpu, budget: number): Omit<MachineResult, "instructions"> | null {
    for (;;) {
      const exit: VcpuExit = vcpu.run(budget);
      switch (exit.kind) {
        case "budget-exhausted":
        case "hlt":
        case "stopped":
        case "system-event":
          return null;
        case "io-in":
          // A port nothing claims: open bus.
          this.traceExit(vcpu, exit);
          vcpu.completeRead(exit.size === 1 ? 0xff : exit.size === 2 ? 0xffff : 0xffff_ffff);
          continue;
        case "mmio-read":
          this.traceExit(vcpu, exit);
          vcpu.completeRead(exit.size === 1 ? 0xff : exit.size === 2 ? 0xffff : 0xffff_ffff);
          continue;
        case "io-out":
        case "mmio-write":
        case "debug":
          this.traceExit(vcpu, exit);
          continue;
        case "cr-pin-violation":
          this.trace(`cr-pin violation: ${describeViolation(exit.violation)}`);
          this.options.onViolation?.(exit.violation);
          if (this.options.violations === "exit") {
            return { kind: "cr-pin-violation", exitCode: 0, violation: exit.violation } as Omit<
              ViolationResult,
              "instructions"
            >;
          }
          continue;
        case "shutdown":
          this.trace(`vcpu ${vcpu.id}: shutdown (${exit.reason})`);
          if (this.options.noReboot) {
            return {
              kind: "shutdown",
              exitCode: SHUTDOWN_EXIT_STATUS,
              reason: exit.reason,
              rip: vcpu.getRegs().rip,
            } as Omit<ShutdownResult, "instructions">;
          }
          // QEMU turns a triple fault into a full system reset (reset-init-state.md section 2).
          this.requestReset("triple-fault");
          return null;
        case "internal-error":
          this.trace(`vcpu ${vcpu.id}: internal error: ${exit.detail}`);
          return {
            kind: "internal-error",
            exitCode: INTERNAL_ERROR_EXIT_STATUS,
            vcpu: vcpu.id,
            detail: exit.detail,
          } as Omit<InternalErrorResult, "instructions">;
        default: {
          const never: never = exit;
          throw new Error(`unexpected vcpu exit ${JSON.stringify(never)}`);
        }
      }
    }
  }

  /** Performs a reset from `source` (see the module comment) and boots again. */
  private doReset(source: ResetSource): void {
    this.pendingReset = null;
    this.vm.clearSystemEvent();
    this.resets++;
    const soft = source === "cf9-soft" || source === "i8042" || source === "port92";
    if (soft && this.options.softReset === "init") {
      this.trace(`reset (${source}): INIT# to every processor`);
      for (const v of this.vcpus) v.reset("init");
    } else {
      const style = this.options.resetStyle ?? "vcpu";
      this.trace(
        `reset (${source}): system reset, vCPUs by ${style === "vcpu" ? "vcpu.reset('reset')" : "the VMM's set-API writes"}`,
      );
      this.board.resetDevices();
      this.vm.pinning.systemReset();
      for (const v of this.vcpus) {
        if (style === "vcpu") v.reset("reset");
        else resetVcpuThroughSetApis(v);
      }
      this.installFirmware();
    }
    this.bootFn?.(this);
  }
}

/** One line describing a violation. */
export function describeViolation(v: Violation): string {
  const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;
  return (
    `vcpu ${v.vcpu} rip=0x${v.rip.toString(16)} ${v.source} ${v.cr}: ${hex(v.old)} -> ${hex(v.attempted)} ` +
    `refused (pinned high ${hex(v.pinnedHigh)}, low ${hex(v.pinnedLow)}, profile ${v.profile})`
  );
}

export { DEBUG_EXIT_DEFAULTS };
