/**
 * The APIC timer (SDM Vol.3 10.5.4): one-shot and periodic counting driven by the divide
 * configuration register, and the TSC-deadline mode (10.5.4.1). The timer owns no clock: the
 * caller passes the vCPU's TSC ("now", in cycles) to each call, and the count is derived
 * from it lazily, so nothing has to tick.
 *
 * Time base: the timer's input clock runs at TSC / `cyclesPerTick` (LocalApic option
 * `timerDivisorBase`), and the DCR divides it further, so one count lasts
 * cyclesPerTick * divideValue TSC cycles.
 */
import { DIVIDE_CONFIG_WRITABLE, DIVIDE_VALUES, LVT_BITS } from "./registers.js";

/** Timer mode from LVT timer bits 18:17 (SDM Vol.3 10.5.4, Figure 10-8). */
export type TimerMode = "one-shot" | "periodic" | "tsc-deadline" | "reserved";

/** The timer mode an LVT timer value selects. */
export function timerModeOf(lvtTimer: number): TimerMode {
  switch ((lvtTimer & LVT_BITS.TIMER_MODE) >>> LVT_BITS.TIMER_MODE_SHIFT) {
    case 0:
      return "one-shot";
    case 1:
      return "periodic";
    case 2:
      return "tsc-deadline";
    default:
      return "reserved";
  }
}

/** The divide value of a DCR value (SDM Vol.3 Figure 10-10). */
export function divideValueOf(divideConfig: number): number {
  return DIVIDE_VALUES[((divideConfig & 8) >>> 1) | (divideConfig & 3)];
}

/** Timer counting state; see the module comment for the time base. */
export class ApicTimer {
  /** Divide configuration register (bits 0, 1, 3). */
  divideConfig = 0;
  /** Initial-count register. */
  initialCount = 0;
  /** Whether a one-shot or periodic count is in progress. */
  running = false;
  /** TSC value at which the count was `countStart`. */
  startTime = 0;
  /** The count at `startTime`. */
  countStart = 0;
  /** IA32_TSC_DEADLINE; 0 = disarmed (SDM Vol.3 10.5.4.1). */
  tscDeadline = 0n;

  /** A stopped timer whose input clock ticks once every `cyclesPerTick` TSC cycles. */
  constructor(readonly cyclesPerTick: number) {}

  /** TSC cycles per count under the current divide configuration. */
  get cyclesPerCount(): number {
    return this.cyclesPerTick * divideValueOf(this.divideConfig);
  }

  /** Back to the reset state: all registers 0, nothing armed (SDM Vol.3 10.4.7.1). */
  reset(): void {
    this.divideConfig = 0;
    this.disarm();
  }

  /** Stops counting and clears the initial count and the TSC deadline (a mode change). */
  disarm(): void {
    this.initialCount = 0;
    this.running = false;
    this.startTime = 0;
    this.countStart = 0;
    this.tscDeadline = 0n;
  }

  /**
   * A write of the initial-count register in one-shot or periodic mode: the count starts
   * from `count` now; 0 stops the timer (SDM Vol.3 10.5.4).
   */
  writeInitialCount(now: number, count: number): void {
    this.initialCount = count >>> 0;
    this.running = this.initialCount !== 0;
    this.startTime = now;
    this.countStart = this.initialCount;
  }

  /**
   * A write of the divide configuration register: a count in progress continues from its
   * current value at the new rate (the fraction of the count under way is dropped).
   */
  writeDivideConfig(now: number, value: number, mode: TimerMode): void {
    if (this.running && mode !== "tsc-deadline") {
      const count = this.currentCount(now, mode);
      this.startTime = now;
      this.countStart = count;
      if (count === 0) this.running = false;
    }
    this.divideConfig = value & DIVIDE_CONFIG_WRITABLE;
  }

  /**
   * The current-count register at TSC `now`: 0 in TSC-deadline mode and once a one-shot
   * count has run out; a periodic count reloads from the initial count (SDM Vol.3 10.5.4).
   */
  currentCount(now: number, mode: TimerMode): number {
    if (!this.running || mode === "tsc-deadline") return 0;
    const ticks = Math.floor(Math.max(0, now - this.startTime) / this.cyclesPerCount);
    if (ticks < this.countStart) return this.countStart - ticks;
    if (mode !== "periodic") return 0;
    return this.initialCount - ((ticks - this.countStart) % this.initialCount);
  }

  /** The TSC value at which the timer next fires in `mode`, or undefined when disarmed. */
  deadline(mode: TimerMode): number | undefined {
    if (mode === "tsc-deadline") return this.tscDeadline === 0n ? undefined : Number(this.tscDeadline);
    if (!this.running) return undefined;
    return this.startTime + this.countStart * this.cyclesPerCount;
  }

  /**
   * Handles an expiry due at or before `now`. Returns true when the timer fired (one
   * interrupt, however many periods passed). One-shot stops; periodic re-arms from the last
   * period boundary not after `now`; TSC-deadline disarms and clears IA32_TSC_DEADLINE
   * (SDM Vol.3 10.5.4.1).
   */
  expire(now: number, mode: TimerMode): boolean {
    if (mode === "tsc-deadline") {
      if (this.tscDeadline === 0n || BigInt(Math.floor(now)) < this.tscDeadline) return false;
      this.tscDeadline = 0n;
      return true;
    }
    const due = this.deadline(mode);
    if (due === undefined || now < due) return false;
    if (mode !== "periodic") {
      this.running = false;
      return true;
    }
    const cycle = this.initialCount * this.cyclesPerCount;
    this.startTime = due + Math.floor((now - due) / cycle) * cycle;
    this.countStart = this.initialCount;
    return true;
  }
}
