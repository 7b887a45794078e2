/**
 * The PC's Intel 8254 Programmable Interval Timer (Intel 8254 datasheet, order no. 231164) at
 * ports 40h-43h: three counters clocked at 1.193182 MHz (counter data ports 40h-42h, control
 * word register 43h). Counter 0's OUT is ISA IRQ0 (the system timer); counter 1 is the old
 * DRAM refresh timer (GATE tied high, OUT unconnected); counter 2's GATE and OUT are reached
 * through port 61h (port61.ts) and drive the speaker.
 *
 * Implemented: modes 0-5, binary and BCD counting, LSB / MSB / LSB-then-MSB access, the
 * counter latch command, the read-back command (count and/or status of any counters), status
 * bytes (OUT, NULL COUNT, RW, mode, BCD); see i8254-counter.ts for the per-counter model and
 * its one-clock simplifications. Power-on state: the datasheet leaves mode, count and OUT
 * undefined; here every counter is unprogrammed, mode 0, OUT low, until firmware writes it.
 *
 * Time: the device reads the injected virtual clock (nanoseconds) on every port access. It has
 * one timer output, IRQ0: `nextDeadline()` is the virtual time of counter 0's next OUT rising
 * edge (undefined when none is due), and `advance(now)` raises IRQ0 for what is due. Periods
 * that went by unseen (the VMM was late) are coalesced into one edge; `advance` returns how
 * many edges there were, so the VMM can count lost ticks if it wants to.
 *
 * Saved state holds absolute PIT ticks of the virtual clock: restore the clock to the same
 * timeline before using a loaded PIT.
 *
 * Wiring: `bus.register("pit", 0x40, 4, pit, true)`; IRQ line = ISA IRQ0 (PIC input 0, IOAPIC
 * pin 2 under the MADT interrupt source override); clock = the machine's virtual clock; the
 * VMM calls `advance(clock.now())` when `nextDeadline()` passes (and before running a vCPU).
 */
import { StateReader } from "./device-state.js";
import { I8254Counter, type I8254CounterState } from "./i8254-counter.js";
import { NO_IRQ, type IrqLine, type VirtualClock } from "./irq.js";
import { pitNsAt, pitTicksAt } from "./pit-time.js";

export { PIT_HZ } from "./pit-time.js";

/** First port (counter 0). */
export const PIT_PORT = 0x40;
/** The control word register offset. */
export const PIT_CONTROL = 3;

/** Saved state of the PIT. */
export interface I8254State {
  version: 1;
  counters: I8254CounterState[];
  /** Tick of the last advance(). */
  lastTick: number;
  irqLevel: boolean;
}

/** The 8254 PIT. */
export class I8254Pit {
  private readonly counters = [new I8254Counter(true), new I8254Counter(true), new I8254Counter(false)];
  private readonly clock: VirtualClock;
  private readonly irq0: IrqLine;
  private lastTick = 0;
  private irqLevel = false;

  /** Creates the PIT reading `clock`; counter 0's OUT drives `irq0`. */
  constructor(clock: VirtualClock, irq0: IrqLine = NO_IRQ) {
    this.clock = clock;
    this.irq0 = irq0;
    this.lastTick = pitTicksAt(clock.now());
  }

  /** Port read: offsets 0-2 read counters; the control register (3) reads as all-ones. */
  read(offset: number, _size: number): number {
    if (offset >= 3) return 0xff;
    const tick = this.syncTo(this.clock.now());
    return this.counters[offset].read(tick);
  }

  /** Port write: a count byte (0-2) or a control word (3). */
  write(offset: number, _size: number, value: number): void {
    const v = value & 0xff;
    const tick = this.syncTo(this.clock.now());
    if (offset < 3) {
      this.counters[offset].writeCount(v, tick);
    } else {
      const select = v >> 6;
      if (select === 3) this.readBack(v, tick);
      else if ((v & 0x30) === 0) this.counters[select].latchCount(tick);
      else this.counters[select].writeControl(v, tick);
    }
    this.setIrq(this.counters[0].out(tick));
  }

  /** Read-back command (datasheet "Read-Back Command"): D5=0 latch count, D4=0 latch status. */
  private readBack(v: number, tick: number): void {
    for (let n = 0; n < 3; n++) {
      if (!(v & (2 << n))) continue;
      if (!(v & 0x10)) this.counters[n].latchStatus(tick);
      if (!(v & 0x20)) this.counters[n].latchCount(tick);
    }
  }

  /** Counter 2's GATE (port 61h bit 0). */
  setGate2(level: boolean): void {
    const tick = this.syncTo(this.clock.now());
    this.counters[2].setGate(level, tick);
  }

  /** Counter 2's GATE as last set. */
  get gate2(): boolean {
    return this.counters[2].gate;
  }

  /** Counter 2's OUT now (port 61h bit 5). */
  out2(): boolean {
    return this.counters[2].out(pitTicksAt(this.clock.now()));
  }

  /** Counter `n`'s OUT now (tests and diagnostics). */
  out(n: 0 | 1 | 2): boolean {
    return this.counters[n].out(pitTicksAt(this.clock.now()));
  }

  /** Virtual time (ns) of counter 0's next OUT rising edge (IRQ0), or undefined. */
  nextDeadline(): number | undefined {
    const tick = this.counters[0].nextRisingEdge(this.lastTick);
    return tick === undefined ? undefined : pitNsAt(tick);
  }

  /** Fires IRQ0 for the rising edges of counter 0 up to `now`; returns their number. */
  advance(now: number): number {
    const tick = pitTicksAt(now);
    if (tick <= this.lastTick) return 0;
    const edges = this.counters[0].risingEdges(this.lastTick, tick);
    this.lastTick = tick;
    if (edges > 0 && this.irqLevel) this.setIrq(false);
    if (edges > 0) this.setIrq(true);
    this.setIrq(this.counters[0].out(tick));
    return edges;
  }

  /** Alias of advance() for VMMs that poll. */
  poll(now: number): number {
    return this.advance(now);
  }

  /** Power-on state: all counters unprogrammed, IRQ0 low. */
  reset(): void {
    for (const c of this.counters) c.reset();
    this.lastTick = pitTicksAt(this.clock.now());
    this.setIrq(false);
  }

  /** The state as a plain versioned object. */
  save(): I8254State {
    return {
      version: 1,
      counters: this.counters.map((c) => c.save()),
      lastTick: this.lastTick,
      irqLevel: this.irqLevel,
    };
  }

  /** Restores a state from save(); throws DeviceStateError (device unchanged) on bad input. */
  load(state: unknown): void {
    const r = new StateReader("i8254", state, 1);
    const raw = r.raw("counters");
    const counters = [0, 1, 2].map((n) =>
      I8254Counter.check(`counters[${n}]`, Array.isArray(raw) && raw.length === 3 ? raw[n] : undefined),
    );
    const lastTick = r.int("lastTick", 0, Number.MAX_SAFE_INTEGER);
    const irqLevel = r.bool("irqLevel");
    counters.forEach((c, n) => this.counters[n].apply(c));
    this.lastTick = lastTick;
    this.irqLevel = irqLevel;
  }

  /** Fires due edges before an access changes the counters; returns the current tick. */
  private syncTo(now: number): number {
    this.advance(now);
    return Math.max(this.lastTick, pitTicksAt(now));
  }

  private setIrq(level: boolean): void {
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq0.set(level);
  }
}
