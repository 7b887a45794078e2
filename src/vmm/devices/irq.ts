/**
 * Interrupt lines between the VMM's devices and its interrupt controllers, after rust-vmm
 * vm-superio's `Trigger`: a device holds an `IrqLine` and sets it high or low; what is on the
 * other end (an i8259 input, an IOAPIC pin, a test's recorder) is the wiring's business.
 *
 * ISA devices drive their lines at a level; an edge-triggered input (the 8259 in edge mode,
 * an IOAPIC pin programmed for edge) sees the rising edge. `pulseIrq` raises and lowers a
 * line for an event that has no lasting level (the PIT's mode-2 rate pulse, for example).
 */

/** One interrupt request line as the device that drives it sees it. */
export interface IrqLine {
  /** Drives the line high (`true`) or low (`false`). */
  set(level: boolean): void;
}

/** An interrupt controller with numbered inputs (the 8259 pair: 0-15; the IOAPIC: 0-23). */
export interface InterruptController {
  /** Drives input `pin` to `level`. */
  setIrq(pin: number, level: boolean): void;
}

/** A line that goes nowhere (a device constructed without wiring). */
export const NO_IRQ: IrqLine = { set: () => {} };

/** Raises and lowers `line`: one edge for an edge-triggered input. */
export function pulseIrq(line: IrqLine): void {
  line.set(true);
  line.set(false);
}

/** The line driving input `pin` of `controller`. */
export function irqLineOf(controller: InterruptController, pin: number): IrqLine {
  return { set: (level) => controller.setIrq(pin, level) };
}

/**
 * One line that drives several inputs at once: the PC's ISA IRQs go both to the 8259 pair and
 * to the IOAPIC (IRQ0 to IOAPIC pin 2 under the usual interrupt source override).
 */
export function fanOutIrq(...lines: IrqLine[]): IrqLine {
  return {
    set: (level) => {
      for (const line of lines) line.set(level);
    },
  };
}

/** A line that remembers its level, for tests and for wiring that polls. */
export class IrqLevel implements IrqLine {
  /** Current level. */
  level = false;
  /** Number of low-to-high transitions seen. */
  risingEdges = 0;

  /** Drives the line. */
  set(level: boolean): void {
    if (level && !this.level) this.risingEdges++;
    this.level = level;
  }
}

/** The virtual clock devices read time from: nanoseconds since an arbitrary origin. */
export interface VirtualClock {
  /** Current time in nanoseconds. */
  now(): number;
}
