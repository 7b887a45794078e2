/**
 * System Control Port A at I/O port 92h (the PS/2 "fast A20 and reset" port, present in every
 * PC chipset since): bit 0 ALT_RST — a 0-to-1 transition pulses the CPU reset (INIT# on real
 * chipsets); bit 1 ALT_A20 — the A20 gate. The other bits are kept as written and read back.
 *
 * A20: the state is kept and readable (`a20Enabled`), and an optional `onA20` callback hears
 * each change, but this VMM does not mask address line 20 — memory accesses ignore it.
 *
 * Reset: QEMU's port92 asks for a whole-machine reset on the 0-to-1 edge of bit 0; real
 * chipsets assert INIT# (see /work/shared/context/reset-init-state.md, "Reset sources on a
 * PC", [P92] [QDEV]). The device only reports the request through `onReset`; the VMM decides
 * which reset to do. On reset the register is 0 except that A20 is left as the VMM's reset
 * policy chooses (we clear it: power-on state).
 *
 * Wiring: `bus.register("port92", 0x92, 1, port92)`. No IRQ, no clock.
 */
import { StateReader } from "./device-state.js";

/** The port. */
export const PORT92 = 0x92;
/** Bit 0: fast (alternate) CPU reset, on its 0-to-1 transition. */
export const PORT92_ALT_RST = 0x01;
/** Bit 1: A20 gate enabled. */
export const PORT92_ALT_A20 = 0x02;

/** Saved state of Port92. */
export interface Port92State {
  version: 1;
  value: number;
}

/** Callbacks of Port92. */
export interface Port92Options {
  /** The guest asked for a CPU reset (0-to-1 on bit 0). */
  onReset?: () => void;
  /** The A20 gate changed. */
  onA20?: (enabled: boolean) => void;
}

/** System Control Port A. */
export class Port92 {
  private value = 0;
  private readonly onReset: () => void;
  private readonly onA20: (enabled: boolean) => void;

  /** Creates the port in its power-on state (0). */
  constructor(options: Port92Options = {}) {
    this.onReset = options.onReset ?? (() => {});
    this.onA20 = options.onA20 ?? (() => {});
  }

  /** True when bit 1 (A20 gate) is set. */
  get a20Enabled(): boolean {
    return (this.value & PORT92_ALT_A20) !== 0;
  }

  /** Port read: the register as last written. */
  read(_offset: number, _size: number): number {
    return this.value;
  }

  /** Port write: stores the byte; reports A20 changes and the reset edge. */
  write(_offset: number, _size: number, value: number): void {
    const before = this.value;
    this.value = value & 0xff;
    if ((before ^ this.value) & PORT92_ALT_A20) this.onA20(this.a20Enabled);
    if (!(before & PORT92_ALT_RST) && this.value & PORT92_ALT_RST) this.onReset();
  }

  /** Power-on state: 0 (A20 disabled, reset bit clear). */
  reset(): void {
    this.value = 0;
  }

  /** The state as a plain versioned object. */
  save(): Port92State {
    return { version: 1, value: this.value };
  }

  /** Restores a state from save(); throws DeviceStateError (device unchanged) on bad input. */
  load(state: unknown): void {
    const r = new StateReader("port92", state, 1);
    this.value = r.int("value", 0, 0xff);
  }
}
