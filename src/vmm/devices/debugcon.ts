/**
 * QEMU's isa-debugcon: a one-port debug console. Each byte written goes to the `output`
 * callback (QEMU: the chardev), and a read returns the readback value, 0xE9 by default as in
 * QEMU (`readback=0xe9`), by which a guest (SeaBIOS, OVMF, Linux's earlyprintk) detects it.
 *
 * Placement is configurable, as `-device isa-debugcon,iobase=..`: 0xE9 (the Bochs "port E9
 * hack") or 0x402 (where SeaBIOS and OVMF print their debug log). Wider accesses print their
 * low byte only, as QEMU's one-byte port does.
 *
 * Wiring: `bus.register("debugcon", con.config.iobase, 1, con)`. No IRQ, no clock.
 */
import { StateReader } from "./device-state.js";

/** Where the console sits and what it reads back. */
export interface DebugconConfig {
  /** The I/O port (0xE9 or 0x402 in practice). */
  iobase: number;
  /** The value a read returns (QEMU's default 0xE9). */
  readback: number;
}

/** The Bochs/QEMU port E9 default. */
export const DEBUGCON_DEFAULTS: DebugconConfig = { iobase: 0xe9, readback: 0xe9 };
/** SeaBIOS/OVMF's debug port. */
export const DEBUGCON_FIRMWARE_PORT = 0x402;

/** Saved state of Debugcon (the console keeps nothing but its version). */
export interface DebugconState {
  version: 1;
}

/** The debug console. */
export class Debugcon {
  /** Its placement. */
  readonly config: DebugconConfig;
  private readonly output: (byte: number) => void;

  /** Creates the console; `output` receives every byte written. */
  constructor(output: (byte: number) => void, config: Partial<DebugconConfig> = {}) {
    this.config = { ...DEBUGCON_DEFAULTS, ...config };
    this.output = output;
  }

  /** Port read: the readback value. */
  read(_offset: number, _size: number): number {
    return this.config.readback & 0xff;
  }

  /** Port write: print the low byte. */
  write(_offset: number, _size: number, value: number): void {
    this.output(value & 0xff);
  }

  /** Power-on state: nothing to reset. */
  reset(): void {}

  /** The state as a plain versioned object. */
  save(): DebugconState {
    return { version: 1 };
  }

  /** Checks a state from save(); throws DeviceStateError on bad input. */
  load(state: unknown): void {
    new StateReader("debugcon", state, 1);
  }
}
