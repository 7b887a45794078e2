/**
 * One counter of the Intel 8254 Programmable Interval Timer (Intel 8254 datasheet, order no.
 * 231164), modelled from the time its count was loaded rather than clock by clock: given the
 * PIT tick "now", the count and OUT follow from the mode ("Mode Definitions", modes 0-5). Used
 * by i8254-pit.ts, which owns the ports; this file knows nothing of ports or IRQs.
 *
 * Simplifications (each at most one input clock): the count is taken to be in the counting
 * element on the tick it is written (the datasheet loads it on the next CLK), so OUT in mode 0
 * goes high N ticks after the write rather than N+1. In modes 2 and 3 a new count written
 * without a control word takes effect at the end of the current period, as the datasheet says.
 * Odd counts in mode 3 make OUT high for (N+1)/2 and low for (N-1)/2 clocks.
 */
import { checkBool, checkInt, DeviceStateError } from "./device-state.js";

/** Read/write format of the counter (control word RW1, RW0). */
export const enum Access {
  Latch = 0,
  Lsb = 1,
  Msb = 2,
  LsbMsb = 3,
}

/** Saved state of one counter; tick fields are absolute ticks of the virtual clock. */
export interface I8254CounterState {
  mode: number;
  access: number;
  bcd: boolean;
  count: number;
  loaded: boolean;
  gate: boolean;
  running: boolean;
  triggered: boolean;
  elapsedBase: number;
  runningSince: number;
  loadTick: number;
  pendingCount: number;
  writeMsbNext: boolean;
  pendingLsb: number;
  readMsbNext: boolean;
  latchedCount: number;
  latchedCountMsbNext: boolean;
  latchedStatus: number;
}

/** One 8254 counter. */
export class I8254Counter {
  /** Mode 0-5 (control word M2-M0; 6 and 7 read as 2 and 3). */
  mode = 0;
  access: Access = Access.LsbMsb;
  bcd = false;
  /** The count register as written (0 = 65536, or 10000 in BCD). */
  count = 0;
  /** A count has been written since the last control word. */
  loaded = false;
  gate: boolean;
  /** The counting element is counting (not stopped by GATE, not waiting for a trigger). */
  running = false;
  /** Modes 1 and 5: a GATE rising edge has started the count. */
  triggered = false;
  /** Ticks counted before `runningSince` (modes 0 and 4 pause while GATE is low). */
  elapsedBase = 0;
  runningSince = 0;
  loadTick = 0;
  /** Modes 2 and 3: a count written while counting, taking effect at the period's end; -1 none. */
  pendingCount = -1;
  writeMsbNext = false;
  pendingLsb = 0;
  readMsbNext = false;
  /** Output latch (counter latch command), -1 when not latched. */
  latchedCount = -1;
  latchedCountMsbNext = false;
  /** Status latch (read-back command), -1 when not latched. */
  latchedStatus = -1;

  constructor(readonly initialGate: boolean) {
    this.gate = initialGate;
  }

  /** Power-on: no count, mode 0, OUT low (the datasheet leaves them undefined). */
  reset(): void {
    Object.assign(this, new I8254Counter(this.initialGate));
  }

  /** The count N as a number of clocks (1..65536, BCD 1..10000). */
  private period(count = this.count): number {
    if (!this.bcd) return count === 0 ? 0x10000 : count;
    const n =
      ((count >> 12) & 0xf) * 1000 + ((count >> 8) & 0xf) * 100 + ((count >> 4) & 0xf) * 10 + (count & 0xf);
    return n === 0 ? 10000 : n;
  }

  /** Ticks counted by `tick`. */
  elapsed(tick: number): number {
    return this.elapsedBase + (this.running ? Math.max(0, tick - this.runningSince) : 0);
  }

  /** Applies a pending mode-2/3 reload whose period boundary is at or before `tick`. */
  sync(tick: number): void {
    const boundary = this.reloadTick();
    if (boundary !== undefined && boundary <= tick) this.applyReload(boundary);
  }

  /** Tick of the next period end when a reload is pending. */
  private reloadTick(): number | undefined {
    if (this.pendingCount < 0 || !this.running) return undefined;
    const n = this.period();
    return this.runningSince - this.elapsedBase + (Math.floor(this.elapsedBase / n) + 1) * n;
  }

  private applyReload(boundary: number): void {
    this.count = this.pendingCount;
    this.pendingCount = -1;
    this.elapsedBase = 0;
    this.runningSince = boundary;
  }

  /** OUT at `tick` ("Mode Definitions"). */
  out(tick: number): boolean {
    this.sync(tick);
    if (!this.loaded) return this.mode !== 0;
    const n = this.period();
    const d = this.elapsed(tick);
    switch (this.mode) {
      case 0:
        return d >= n;
      case 1:
        return !this.triggered || d >= n;
      case 2:
        return !this.running || n === 1 || d % n !== n - 1;
      case 3:
        return !this.running || d % n < Math.ceil(n / 2);
      case 4:
        return d !== n;
      default:
        return !this.triggered || d !== n;
    }
  }

  /** The counting element at `tick`, as the 16-bit value a read returns (BCD-encoded in BCD). */
  value(tick: number): number {
    this.sync(tick);
    const n = this.period();
    const modulus = this.bcd ? 10000 : 0x10000;
    let v: number;
    if (!this.loaded || ((this.mode === 1 || this.mode === 5) && !this.triggered)) {
      v = n % modulus;
    } else {
      const d = this.elapsed(tick);
      if (this.mode === 2) v = n - (d % n);
      else if (this.mode === 3) {
        const p = d % n;
        const high = Math.ceil(n / 2);
        v = p < high ? (n & ~1) - 2 * p : (n & ~1) - 2 * (p - high);
        if (v <= 0) v += n & ~1;
      } else v = (((n - d) % modulus) + modulus) % modulus;
      v %= modulus;
    }
    if (!this.bcd) return v & 0xffff;
    return (
      (Math.floor(v / 1000) << 12) |
      ((Math.floor(v / 100) % 10) << 8) |
      ((Math.floor(v / 10) % 10) << 4) |
      (v % 10)
    );
  }

  /** Rising edges of OUT in (from, to]: what an edge-triggered IRQ sees. */
  risingEdges(from: number, to: number): number {
    if (to <= from) return 0;
    const boundary = this.reloadTick();
    if (boundary !== undefined && boundary > from && boundary <= to) {
      const before = this.risingEdges(from, boundary - 1) + 1; // the reload itself is an edge
      this.applyReload(boundary);
      return before + this.risingEdges(boundary, to);
    }
    if (!this.loaded || !this.running) return 0;
    const n = this.period();
    const d0 = this.elapsed(from);
    const d1 = this.elapsed(to);
    switch (this.mode) {
      case 0:
      case 1:
        return d0 < n && d1 >= n ? 1 : 0;
      case 2:
      case 3:
        return Math.floor(d1 / n) - Math.floor(d0 / n);
      default:
        return d0 < n + 1 && d1 >= n + 1 ? 1 : 0;
    }
  }

  /** The first tick after `from` at which OUT rises, if it ever does without guest action. */
  nextRisingEdge(from: number): number | undefined {
    if (!this.loaded || !this.running) return undefined;
    const boundary = this.reloadTick();
    const n = this.period();
    const d = this.elapsed(from);
    const start = this.runningSince - this.elapsedBase;
    let next: number | undefined;
    switch (this.mode) {
      case 0:
      case 1:
        next = d < n ? start + n : undefined;
        break;
      case 2:
      case 3:
        next = start + (Math.floor(d / n) + 1) * n;
        break;
      default:
        next = d < n + 1 ? start + n + 1 : undefined;
    }
    if (boundary !== undefined && (next === undefined || boundary < next)) return boundary;
    return next;
  }

  /** Control word for this counter (RW != 00): new mode, count awaited. */
  writeControl(controlWord: number, tick: number): void {
    this.access = (controlWord >> 4) & 3;
    const m = (controlWord >> 1) & 7;
    this.mode = m > 5 ? m - 4 : m;
    this.bcd = (controlWord & 1) !== 0;
    this.loaded = false;
    this.running = false;
    this.triggered = false;
    this.elapsedBase = 0;
    this.pendingCount = -1;
    this.writeMsbNext = false;
    this.readMsbNext = false;
    this.latchedCount = -1;
    this.latchedStatus = -1;
    this.loadTick = tick;
  }

  /** A data-port write: one byte of the count. */
  writeCount(byte: number, tick: number): void {
    this.sync(tick);
    switch (this.access) {
      case Access.Lsb:
        this.load(byte, tick);
        return;
      case Access.Msb:
        this.load(byte << 8, tick);
        return;
      default:
        if (!this.writeMsbNext) {
          this.pendingLsb = byte;
          this.writeMsbNext = true;
          // Mode 0: writing the first byte stops the count ("Mode 0 ... Interrupt on Terminal Count").
          if (this.mode === 0 && this.loaded) {
            this.elapsedBase = 0;
            this.running = false;
          }
          return;
        }
        this.writeMsbNext = false;
        this.load(this.pendingLsb | (byte << 8), tick);
    }
  }

  private load(count: number, tick: number): void {
    const wasLoaded = this.loaded && (this.running || this.mode === 1 || this.mode === 5);
    this.loadTick = tick;
    if (wasLoaded && (this.mode === 2 || this.mode === 3) && this.running) {
      this.pendingCount = count;
      return;
    }
    this.count = count;
    this.loaded = true;
    if (this.mode === 1 || this.mode === 5) return; // waits for (or keeps) its GATE trigger
    this.elapsedBase = 0;
    this.running = this.gate;
    this.runningSince = tick;
  }

  /** GATE input level change ("Gate" column of the datasheet's mode table). */
  setGate(level: boolean, tick: number): void {
    this.sync(tick);
    if (level === this.gate) return;
    this.gate = level;
    if (!this.loaded) return;
    switch (this.mode) {
      case 0:
      case 4:
        if (level) {
          this.running = true;
          this.runningSince = tick;
        } else {
          this.elapsedBase = this.elapsed(tick);
          this.running = false;
        }
        return;
      case 2:
      case 3:
        // Low: counting stops and OUT goes high; rising: the count is reloaded.
        this.elapsedBase = 0;
        this.running = level;
        this.runningSince = tick;
        if (level && this.pendingCount >= 0) {
          this.count = this.pendingCount;
          this.pendingCount = -1;
        }
        return;
      default:
        if (level) {
          this.triggered = true;
          this.running = true;
          this.elapsedBase = 0;
          this.runningSince = tick;
        }
    }
  }

  /** Counter latch command: latch the count unless already latched. */
  latchCount(tick: number): void {
    if (this.latchedCount >= 0) return;
    this.latchedCount = this.value(tick);
    this.latchedCountMsbNext = false;
  }

  /** Read-back status byte: OUT, NULL COUNT, RW, mode, BCD ("Read-Back Command"). */
  status(tick: number): number {
    const nullCount = !this.loaded || tick === this.loadTick || this.pendingCount >= 0;
    return (
      (this.out(tick) ? 0x80 : 0) |
      (nullCount ? 0x40 : 0) |
      (this.access << 4) |
      (this.mode << 1) |
      (this.bcd ? 1 : 0)
    );
  }

  /** Read-back: latch the status unless already latched. */
  latchStatus(tick: number): void {
    if (this.latchedStatus < 0) this.latchedStatus = this.status(tick);
  }

  /** A data-port read: status latch, else count latch, else the live count, per RW. */
  read(tick: number): number {
    if (this.latchedStatus >= 0) {
      const s = this.latchedStatus;
      this.latchedStatus = -1;
      return s;
    }
    const latched = this.latchedCount >= 0;
    const v = latched ? this.latchedCount : this.value(tick);
    let byte: number;
    switch (this.access) {
      case Access.Msb:
        byte = v >> 8;
        if (latched) this.latchedCount = -1;
        break;
      case Access.LsbMsb: {
        const msb = latched ? this.latchedCountMsbNext : this.readMsbNext;
        byte = msb ? v >> 8 : v & 0xff;
        if (latched) {
          this.latchedCountMsbNext = !msb;
          if (msb) this.latchedCount = -1;
        } else this.readMsbNext = !msb;
        break;
      }
      default:
        byte = v & 0xff;
        if (latched) this.latchedCount = -1;
    }
    return byte & 0xff;
  }

  save(): I8254CounterState {
    return {
      mode: this.mode,
      access: this.access,
      bcd: this.bcd,
      count: this.count,
      loaded: this.loaded,
      gate: this.gate,
      running: this.running,
      triggered: this.triggered,
      elapsedBase: this.elapsedBase,
      runningSince: this.runningSince,
      loadTick: this.loadTick,
      pendingCount: this.pendingCount,
      writeMsbNext: this.writeMsbNext,
      pendingLsb: this.pendingLsb,
      readMsbNext: this.readMsbNext,
      latchedCount: this.latchedCount,
      latchedCountMsbNext: this.latchedCountMsbNext,
      latchedStatus: this.latchedStatus,
    };
  }

  /** Validates a saved counter (throws DeviceStateError) and returns it; does not apply it. */
  static check(path: string, raw: unknown): I8254CounterState {
    if (typeof raw !== "object" || raw === null)
      throw new DeviceStateError("i8254", `${path} is not an object`);
    const o = raw as Record<string, unknown>;
    const int = (k: string, min: number, max: number) => checkInt("i8254", `${path}.${k}`, o[k], min, max);
    const bool = (k: string) => checkBool("i8254", `${path}.${k}`, o[k]);
    const big = Number.MAX_SAFE_INTEGER;
    return {
      mode: int("mode", 0, 5),
      access: int("access", 1, 3),
      bcd: bool("bcd"),
      count: int("count", 0, 0xffff),
      loaded: bool("loaded"),
      gate: bool("gate"),
      running: bool("running"),
      triggered: bool("triggered"),
      elapsedBase: int("elapsedBase", 0, big),
      runningSince: int("runningSince", 0, big),
      loadTick: int("loadTick", 0, big),
      pendingCount: int("pendingCount", -1, 0xffff),
      writeMsbNext: bool("writeMsbNext"),
      pendingLsb: int("pendingLsb", 0, 0xff),
      readMsbNext: bool("readMsbNext"),
      latchedCount: int("latchedCount", -1, 0xffff),
      latchedCountMsbNext: bool("latchedCountMsbNext"),
      latchedStatus: int("latchedStatus", -1, 0xff),
    };
  }

  /** Applies a state returned by check(). */
  apply(state: I8254CounterState): void {
    Object.assign(this, state);
  }
}
