/**
 * The isa-debug-exit device of QEMU: a write of value V to any of its ports makes the
 * machine stop, and the emulator process exit with status (V << 1) | 1, so a test guest
 * can report a result that cannot be confused with a normal exit (0). Reads return
 * all-ones: the device has no readable register. Default placement: iobase 0xF4, 4 ports.
 * The device latches the last value written (save/load carry it in snapshots).
 */
import { StateReader } from "./device-state.js";

/** Where the device sits, as QEMU's `-device isa-debug-exit,iobase=..,iosize=..`. */
export interface DebugExitConfig {
  iobase: number;
  iosize: number;
}

/** QEMU's defaults for the device. */
export const DEBUG_EXIT_DEFAULTS: DebugExitConfig = { iobase: 0xf4, iosize: 4 };

/** Version of DebugExitState. */
export const DEBUG_EXIT_STATE_VERSION = 1;

/** Saved state: the value written, if the guest has asked to exit. */
export interface DebugExitState {
  version: number;
  value: number | null;
}

/** The process exit status QEMU uses for a written value. */
export function debugExitStatus(value: number): number {
  return ((value << 1) | 1) >>> 0;
}

/** The debug-exit device. */
export class DebugExit {
  /** Its configuration. */
  readonly config: DebugExitConfig;
  private readonly onExit: (value: number) => void;
  private value: number | null = null;

  /** Creates the device; `onExit` is called with the value the guest writes. */
  constructor(config: DebugExitConfig, onExit: (value: number) => void) {
    this.config = config;
    this.onExit = onExit;
  }

  /** The value the guest wrote, or null if it has not written. */
  get exitValue(): number | null {
    return this.value;
  }

  /** Port read: no register, all-ones. */
  read(_offset: number, size: number): number {
    return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffff_ffff;
  }

  /** Port write: the guest asks the machine to stop with `value`. */
  write(_offset: number, size: number, value: number): void {
    const v = size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0;
    this.value = v;
    this.onExit(v);
  }

  /** Power-on: no value written. */
  reset(): void {
    this.value = null;
  }

  /** The device state as a plain versioned object: the latched value, if the guest wrote one. */
  save(): DebugExitState {
    return { version: DEBUG_EXIT_STATE_VERSION, value: this.value };
  }

  /**
   * Restores save() output (from an untrusted snapshot): checks everything first and throws
   * DeviceStateError, leaving the device unchanged, on a bad state. Restoring a latched value
   * does not call `onExit`: the exit it records has already been reported.
   */
  load(state: unknown): void {
    const r = new StateReader("isa-debug-exit", state, DEBUG_EXIT_STATE_VERSION);
    const raw = r.raw("value");
    this.value = raw === null ? null : r.int("value", 0, 0xffff_ffff);
  }

  /** Same as save() (older name). */
  saveState(): DebugExitState {
    return this.save();
  }

  /** Same as load() (older name). */
  loadState(state: unknown): void {
    this.load(state);
  }
}
