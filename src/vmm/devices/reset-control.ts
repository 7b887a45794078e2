/**
 * The Reset Control register at I/O port CF9h (Intel ICH/PCH RST_CNT): bit 1 SYS_RST selects a
 * hard (1) or soft (0, INIT#-style) reset, bit 2 RST_CPU starts the reset on its 0-to-1
 * transition, bit 3 FULL_RST makes it a full reset (power cycle: SLP_S3#-S5# asserted). So 06h
 * is a hard reset and 0Eh a full one (facts collected in
 * /work/shared/context/reset-init-state.md, "Reset sources on a PC" [CF9] [QDEV]). The ICH
 * datasheet defines FULL_RST for hard resets; this device reports "full" whenever FULL_RST is
 * set, which is what a guest writing 0Ch or 0Eh means.
 *
 * The device names the kind of reset the chipset would do — `onReset("soft" | "hard" |
 * "full")` — and leaves the choice to the VMM. QEMU treats every one of them as a full system
 * reset (and resets on any write with bit 2 set, not only on the 0-to-1 edge); the VMM may do
 * the same or honour "soft" with an INIT of the processors. Reads return the register (bits 1-3).
 *
 * Wiring: `bus.register("reset-control", 0xcf9, 1, resetControl)`. No IRQ, no clock. Call
 * `reset()` from the machine's reset so that RST_CPU is back to 0 for the next request.
 */
import { DeviceStateError, StateReader } from "./device-state.js";

/** The port. */
export const RESET_CONTROL_PORT = 0xcf9;
/** Bit 1: 1 = hard reset, 0 = soft reset (INIT#). */
export const RST_CNT_SYS_RST = 0x02;
/** Bit 2: a 0-to-1 transition starts the reset. */
export const RST_CNT_RST_CPU = 0x04;
/** Bit 3: full reset (power cycle) instead of a hard reset. */
export const RST_CNT_FULL_RST = 0x08;

/** The kinds of reset RST_CNT can ask for. */
export type ResetKind = "soft" | "hard" | "full";

/** Saved state of ResetControl. */
export interface ResetControlState {
  version: 1;
  value: number;
}

/** The reset kind a write of `value` asks for, when RST_CPU rises. */
export function resetKindOf(value: number): ResetKind {
  if (value & RST_CNT_FULL_RST) return "full";
  return value & RST_CNT_SYS_RST ? "hard" : "soft";
}

/** RST_CNT at CF9h. */
export class ResetControl {
  private value = 0;
  private readonly onReset: (kind: ResetKind) => void;

  /** Creates the register at its power-on value 0; `onReset` hears each reset request. */
  constructor(onReset: (kind: ResetKind) => void = () => {}) {
    this.onReset = onReset;
  }

  /** Port read: the register (bits 1-3). */
  read(_offset: number, _size: number): number {
    return this.value;
  }

  /** Port write: stores bits 1-3; RST_CPU going 0-to-1 requests a reset of the chosen kind. */
  write(_offset: number, _size: number, value: number): void {
    const before = this.value;
    this.value = value & (RST_CNT_SYS_RST | RST_CNT_RST_CPU | RST_CNT_FULL_RST);
    if (!(before & RST_CNT_RST_CPU) && this.value & RST_CNT_RST_CPU) this.onReset(resetKindOf(this.value));
  }

  /** Power-on state: 0. */
  reset(): void {
    this.value = 0;
  }

  /** The state as a plain versioned object. */
  save(): ResetControlState {
    return { version: 1, value: this.value };
  }

  /** Restores a state from save(); throws DeviceStateError (device unchanged) on bad input. */
  load(state: unknown): void {
    const r = new StateReader("reset-control", state, 1);
    const value = r.int("value", 0, 0xff);
    if (value & ~0x0e) throw new DeviceStateError("reset-control", "value has bits outside 1-3");
    this.value = value;
  }
}
