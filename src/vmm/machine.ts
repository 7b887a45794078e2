/**
 * The PC machine (our QEMU "pc" board, minus most of it): RAM, one vCPU, the port-I/O bus
 * and the devices on it (COM1 16550 UART, optional isa-debug-exit, the port-E9 debug
 * console), and the loop that runs the vCPU and decides when the machine has stopped.
 *
 * The machine stops when the guest writes the debug-exit port, when the vCPU shuts down
 * (triple fault), or when it halts: with IF=0 nothing can wake it, and with IF=1 there is
 * as yet no interrupt source (no PIC, PIT or APIC timer), so a halted vCPU is a halted
 * guest either way; the result says which. An optional instruction limit bounds a run so
 * that a hung guest fails a test instead of hanging it.
 */
import { Hypervisor, type Vcpu, type Vm } from "../hv/index.js";
import { PortIoBus } from "./port-io-bus.js";
import { Serial16550 } from "./devices/serial16550.js";
import {
  DebugExit,
  DEBUG_EXIT_DEFAULTS,
  debugExitStatus,
  type DebugExitConfig,
} from "./devices/debug-exit.js";
import { PortE9, PORT_E9 } from "./devices/port-e9.js";

/** COM1's I/O base. */
export const COM1_BASE = 0x3f8;

/** Process exit status for a triple fault (even, so it cannot be a debug-exit status). */
export const SHUTDOWN_EXIT_STATUS = 2;

/** Process exit status when the instruction limit ran out (as timeout(1)). */
export const LIMIT_EXIT_STATUS = 124;

/** How to build a PcMachine. */
export interface PcMachineOptions {
  /** Guest RAM in bytes. */
  memoryBytes: number;
  /** Where COM1's output goes; null removes the UART (QEMU's `-serial none`). Default: dropped. */
  serial?: ((byte: number) => void) | null;
  /** isa-debug-exit placement, or null for no such device (QEMU's default). */
  debugExit?: DebugExitConfig | null;
  /** Where port-E9 console output goes; default: dropped. */
  debugConsole?: (byte: number) => void;
}

/** How long to run. */
export interface MachineRunOptions {
  /** Stop after about this many instructions (default: no limit). */
  maxInstructions?: number;
  /** Instructions per vcpu.run() slice, between which device work happens. */
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

/** The vCPU halted with nothing that could wake it. */
export interface HaltedResult {
  kind: "halted";
  exitCode: 0;
  /** RFLAGS.IF at the HLT: true means it waited for an interrupt that cannot come yet. */
  interruptsEnabled: boolean;
  /** Address after the HLT. */
  rip: bigint;
  instructions: number;
}

/** The vCPU shut down (triple fault). */
export interface ShutdownResult {
  kind: "shutdown";
  exitCode: typeof SHUTDOWN_EXIT_STATUS;
  reason: string;
  /** RIP of the instruction whose fault could not be delivered. */
  rip: bigint;
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
export type MachineResult = DebugExitResult | HaltedResult | ShutdownResult | LimitResult;

const DEFAULT_SLICE = 1_000_000;

/** A PC with RAM, one vCPU, COM1, and optionally isa-debug-exit and the E9 console. */
export class PcMachine {
  /** The VM (memory and vCPU) in the hypervisor. */
  readonly vm: Vm;
  /** The boot processor. */
  readonly vcpu: Vcpu;
  /** Port I/O. */
  readonly ioBus = new PortIoBus();
  /** COM1, unless removed. */
  readonly serial: Serial16550 | null;
  /** The debug-exit device, if configured. */
  readonly debugExit: DebugExit | null;
  /** The port-E9 console. */
  readonly debugConsole: PortE9;
  private exitValue: number | null = null;

  /** Builds the machine; throws HvError for a bad memory size, RangeError for bad ports. */
  constructor(options: PcMachineOptions) {
    this.vm = new Hypervisor().createVm({ memoryBytes: options.memoryBytes });
    this.vcpu = this.vm.createVcpu(0);
    this.vm.setPortIoHandler(this.ioBus);

    const serialOut = options.serial;
    this.serial = serialOut === null ? null : new Serial16550({ onByte: serialOut ?? (() => {}) });
    if (this.serial) this.ioBus.register("serial16550 COM1", COM1_BASE, 8, this.serial, true);

    const exitConfig = options.debugExit === undefined ? null : options.debugExit;
    this.debugExit =
      exitConfig === null
        ? null
        : new DebugExit(exitConfig, (value) => {
            this.exitValue = value;
            this.vcpu.requestStop();
          });
    if (this.debugExit) {
      this.ioBus.register("isa-debug-exit", exitConfig!.iobase, exitConfig!.iosize, this.debugExit);
    }
    this.debugConsole = new PortE9(options.debugConsole ?? (() => {}));
    if (this.ioBus.ownerOf(PORT_E9) === undefined) {
      this.ioBus.register("port-e9 debug console", PORT_E9, 1, this.debugConsole, true);
    }
  }

  /** Guest RAM size in bytes. */
  get memoryBytes(): number {
    return this.vm.memoryBytes;
  }

  /** Runs the guest until it stops (see the module comment) or the instruction limit. */
  run(options: MachineRunOptions = {}): MachineResult {
    const limit = options.maxInstructions ?? Infinity;
    const slice = options.sliceInstructions ?? DEFAULT_SLICE;
    const vcpu = this.vcpu;
    const start = vcpu.instructionsRetired;
    const executed = (): number => vcpu.instructionsRetired - start;
    for (;;) {
      if (this.exitValue !== null) return this.debugExitResult(this.exitValue, executed());
      const left = limit - executed();
      if (left <= 0) {
        return {
          kind: "instruction-limit",
          exitCode: LIMIT_EXIT_STATUS,
          rip: vcpu.getRegs().rip,
          instructions: executed(),
        };
      }
      const exit = vcpu.run(Math.min(slice, left));
      switch (exit.kind) {
        case "stopped":
        case "budget-exhausted":
          continue; // device work between slices goes here once devices need it
        case "hlt":
          if (this.exitValue !== null) continue;
          return {
            kind: "halted",
            exitCode: 0,
            interruptsEnabled: vcpu.interruptsEnabled,
            rip: vcpu.getRegs().rip,
            instructions: executed(),
          };
        case "shutdown":
          return {
            kind: "shutdown",
            exitCode: SHUTDOWN_EXIT_STATUS,
            reason: exit.reason,
            rip: vcpu.getRegs().rip,
            instructions: executed(),
          };
        default: {
          const never: never = exit;
          throw new Error(`unexpected vcpu exit ${JSON.stringify(never)}`);
        }
      }
    }
  }

  private debugExitResult(value: number, instructions: number): DebugExitResult {
    return { kind: "debug-exit", exitCode: debugExitStatus(value), guestCode: value, instructions };
  }
}

export { DEBUG_EXIT_DEFAULTS };
