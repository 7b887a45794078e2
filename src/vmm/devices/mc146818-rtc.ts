/**
 * The Motorola MC146818A real-time clock and its 128 bytes of battery-backed CMOS RAM
 * (MC146818A datasheet; the PC's "CMOS") at ports 70h (index) and 71h (data). Bit 7 of an
 * index write is the PC's NMI mask (set = NMIs blocked), exposed as `nmiMasked`; the index is
 * bits 6-0.
 *
 * Registers: 00h-09h seconds, seconds alarm, minutes, minutes alarm, hours, hours alarm, day of
 * week (1 = Sunday), date, month, year; 32h the century (where QEMU and the PC BIOS keep it);
 * A (UIP, divider DV2-0, rate RS3-0), B (SET, PIE, AIE, UIE, SQWE, DM binary, 24/12, DSE),
 * C (IRQF, PF, AF, UF: read-only, cleared by reading), D (VRT: valid RAM and time, always 1).
 *
 * Time: the clock keeps seconds since 1970-01-01 00:00:00 of whatever zone the VMM chose, based
 * on the `startTime` given at construction (the VMM passes the host date when it creates the
 * machine, in UTC or local time as it decides) and advanced by the injected virtual clock
 * through a 32.768 kHz divider chain: second updates happen every 32768 cycles, the periodic
 * interrupt every 2^(RS-1) cycles (RS 1 and 2: 128 and 256 cycles), both from the same divider
 * origin, as in the chip. UIP reads 1 during the 244 us (8 cycles) before each update (the
 * datasheet's guarantee that UIP=0 means no update for at least 244 us; the update itself is
 * instantaneous here). SET=1 stops updates (and clears UIE) so that the time registers can be
 * written; clearing it restarts the clock from what was written. Divider values 11x hold the
 * divider in reset; leaving reset, the first update comes 500 ms later. The time registers
 * follow B's data mode (BCD or binary) and 12/24-hour format when read; day of week is derived
 * from the date; daylight-saving (DSE) and the square-wave pin are not modelled.
 *
 * Interrupts: PF, AF (seconds/minutes/hours match their alarm; C0h-FFh is "don't care") and UF
 * set their flag in C at their event; IRQF (and the IRQ8 line) goes high when a flag and its
 * enable in B are both set, and low when C is read. `nextDeadline()` is the next virtual time
 * at which an enabled flag would raise IRQ8 (undefined while IRQF is already set: nothing new
 * can be signalled before C is read); `advance(now)` sets what is due.
 *
 * `reset()` is the chip's RESET pin as the PC wires it to system reset: PIE, AIE, UIE, SQWE and
 * the C flags are cleared; time and RAM survive, being battery-backed. `fillMemorySize(ram)`
 * writes the memory-size bytes QEMU's pc machine stores (cmos-memory-size.ts).
 *
 * Wiring: `bus.register("rtc", 0x70, 2, rtc, true)`; IRQ line = ISA IRQ8 (PIC slave input 0,
 * IOAPIC pin 8); clock = the machine's virtual clock; the VMM routes NMIs only while
 * `!rtc.nmiMasked`, and calls `advance(now)` when `nextDeadline()` passes.
 */
import { DeviceStateError, StateReader } from "./device-state.js";
import { NO_IRQ, type IrqLine, type VirtualClock } from "./irq.js";
import { memorySizeBytes } from "./cmos-memory-size.js";
import { nsAt, ticksAt } from "./pit-time.js";

/** Index port. */
export const RTC_INDEX_PORT = 0x70;
/** Data port. */
export const RTC_DATA_PORT = 0x71;
/** The MC146818 time base, 32.768 kHz. */
export const RTC_HZ = 32768;

/** CMOS register indices. */
export const RTC = {
  SECONDS: 0x00,
  SECONDS_ALARM: 0x01,
  MINUTES: 0x02,
  MINUTES_ALARM: 0x03,
  HOURS: 0x04,
  HOURS_ALARM: 0x05,
  DAY_OF_WEEK: 0x06,
  DAY_OF_MONTH: 0x07,
  MONTH: 0x08,
  YEAR: 0x09,
  A: 0x0a,
  B: 0x0b,
  C: 0x0c,
  D: 0x0d,
  CENTURY: 0x32,
} as const;

/** Register A bits. */
export const RTC_A_UIP = 0x80;
/** Register B bits. */
export const RTC_B = {
  SET: 0x80,
  PIE: 0x40,
  AIE: 0x20,
  UIE: 0x10,
  SQWE: 0x08,
  DM: 0x04,
  H24: 0x02,
  DSE: 0x01,
};
/** Register C bits. */
export const RTC_C = { IRQF: 0x80, PF: 0x40, AF: 0x20, UF: 0x10 };
/** Register D: valid RAM and time. */
export const RTC_D_VRT = 0x80;

const TIME_REGISTERS = new Set<number>([0, 2, 4, 6, 7, 8, 9, RTC.CENTURY]);
/** UIP is set this many 32.768 kHz cycles before an update (244 us). */
const UIP_CYCLES = 8;

/** Saved state of the RTC; times are virtual-clock nanoseconds. */
export interface Mc146818State {
  version: 1;
  cmos: number[];
  index: number;
  nmiMasked: boolean;
  originNs: number;
  originSeconds: number;
  lastSyncNs: number;
}

/** Options of the RTC. */
export interface Mc146818Options {
  /** The date and time the clock shows at construction (ms since the epoch, or a Date). */
  startTime: number | Date;
  /** Virtual clock (ns). */
  clock: VirtualClock;
  /** IRQ8. */
  irq?: IrqLine;
}

function toBcd(v: number): number {
  return ((Math.floor(v / 10) % 10) << 4) | (v % 10);
}

function fromBcd(b: number): number {
  return (b >> 4) * 10 + (b & 0xf);
}

/** The MC146818A RTC with CMOS RAM. */
export class Mc146818Rtc {
  private readonly cmos = new Uint8Array(128);
  private index = 0;
  private nmiMask = false;
  /** Virtual time at which the divider chain was at cycle 0. */
  private originNs: number;
  /** Clock time (seconds since the epoch) at the divider origin. */
  private originSeconds: number;
  private lastSyncNs: number;
  private readonly clock: VirtualClock;
  private readonly irq: IrqLine;
  private irqLevel = false;

  /** Powers the clock on at `startTime`, A = 26h (32.768 kHz, 1024 Hz), B = 02h (24 h, BCD). */
  constructor(options: Mc146818Options) {
    this.clock = options.clock;
    this.irq = options.irq ?? NO_IRQ;
    const start = options.startTime instanceof Date ? options.startTime.getTime() : options.startTime;
    if (!Number.isFinite(start)) throw new RangeError("mc146818: startTime is not a valid time");
    const now = this.clock.now();
    this.originNs = now;
    this.originSeconds = Math.floor(start / 1000);
    this.lastSyncNs = now;
    this.cmos[RTC.A] = 0x26;
    this.cmos[RTC.B] = RTC_B.H24;
    this.cmos[RTC.D] = RTC_D_VRT;
  }

  /** True while the last index write had bit 7 set (NMIs blocked). */
  get nmiMasked(): boolean {
    return this.nmiMask;
  }

  /** Port read: 70h is write-only (all-ones); 71h reads the selected register. */
  read(offset: number, _size: number): number {
    if ((offset & 1) === 0) return 0xff;
    return this.readRegister(this.index);
  }

  /** Port write: 70h selects the register and the NMI mask; 71h writes it. */
  write(offset: number, _size: number, value: number): void {
    const v = value & 0xff;
    if ((offset & 1) === 0) {
      this.index = v & 0x7f;
      this.nmiMask = (v & 0x80) !== 0;
    } else {
      this.writeRegister(this.index, v);
    }
  }

  /** Reads CMOS register `index` as the guest would (time computed, C cleared). */
  readRegister(index: number): number {
    const now = this.clock.now();
    this.sync(now);
    switch (index) {
      case RTC.A:
        return (this.cmos[RTC.A] & 0x7f) | (this.updateInProgress(now) ? RTC_A_UIP : 0);
      case RTC.C: {
        const v = this.cmos[RTC.C];
        this.cmos[RTC.C] = 0;
        this.updateIrq();
        return v;
      }
      case RTC.D:
        return RTC_D_VRT;
      default:
        if (TIME_REGISTERS.has(index)) this.refresh(now);
        return this.cmos[index];
    }
  }

  /** Writes CMOS register `index` as the guest would. */
  writeRegister(index: number, v: number): void {
    const now = this.clock.now();
    this.sync(now);
    switch (index) {
      case RTC.A: {
        const wasRunning = this.dividerRunning();
        if (wasRunning) this.refresh(now);
        this.cmos[RTC.A] = v & 0x7f;
        if (!wasRunning && this.dividerRunning()) {
          // Leaving divider reset: the first update cycle is 500 ms later (datasheet, DV bits).
          this.originNs = now - nsAt(RTC_HZ / 2, RTC_HZ);
          this.rebase(now);
          this.lastSyncNs = now;
        }
        return;
      }
      case RTC.B: {
        const before = this.cmos[RTC.B];
        if (!(before & RTC_B.SET) && v & RTC_B.SET) this.refresh(now);
        this.cmos[RTC.B] = v & RTC_B.SET ? v & ~RTC_B.UIE : v;
        if (before & RTC_B.SET && !(v & RTC_B.SET)) this.rebase(now);
        this.updateIrq();
        return;
      }
      case RTC.C:
      case RTC.D:
        return; // read-only
      default:
        if (TIME_REGISTERS.has(index) && !this.frozen()) {
          this.refresh(now);
          this.cmos[index] = v;
          this.rebase(now);
        } else {
          this.cmos[index] = v;
        }
    }
  }

  /**
   * Writes the memory-size bytes for `ramBytes` of RAM, `below4g` of it below 4 GiB (default:
   * QEMU pc's split), as QEMU's pc machine does.
   */
  fillMemorySize(ramBytes: number, below4g?: number): void {
    for (const [index, value] of memorySizeBytes(ramBytes, below4g)) this.cmos[index] = value;
  }

  /** Stores a byte of CMOS RAM directly (VMM setup: equipment byte, boot order, ...). */
  setCmosByte(index: number, value: number): void {
    if (!Number.isInteger(index) || index < 0x0e || index > 0x7f || index === RTC.CENTURY) {
      throw new RangeError(`mc146818: 0x${index.toString(16)} is not a free CMOS RAM byte`);
    }
    this.cmos[index] = value & 0xff;
  }

  /** Virtual time of the next event that would raise IRQ8, or undefined. */
  nextDeadline(): number | undefined {
    if (this.cmos[RTC.C] & RTC_C.IRQF || !this.dividerRunning()) return undefined;
    const b = this.cmos[RTC.B];
    const cycles = this.cyclesAt(this.lastSyncNs);
    let next: number | undefined;
    const period = this.periodCycles();
    if (b & RTC_B.PIE && period > 0) next = (Math.floor(cycles / period) + 1) * period;
    if (b & (RTC_B.UIE | RTC_B.AIE) && !(b & RTC_B.SET)) {
      const second = (Math.floor(cycles / RTC_HZ) + 1) * RTC_HZ;
      if (next === undefined || second < next) next = second;
    }
    return next === undefined ? undefined : this.originNs + nsAt(next, RTC_HZ);
  }

  /** Sets the flags of the events due by `now` and drives IRQ8. */
  advance(now: number): void {
    this.sync(now);
  }

  /** Alias of advance() for VMMs that poll. */
  poll(now: number): void {
    this.advance(now);
  }

  /** The RESET pin: clears PIE, AIE, UIE, SQWE and register C; time and RAM are kept. */
  reset(): void {
    this.sync(this.clock.now());
    this.cmos[RTC.B] &= ~(RTC_B.PIE | RTC_B.AIE | RTC_B.UIE | RTC_B.SQWE);
    this.cmos[RTC.C] = 0;
    this.updateIrq();
  }

  /** The state as a plain versioned object. */
  save(): Mc146818State {
    return {
      version: 1,
      cmos: [...this.cmos],
      index: this.index,
      nmiMasked: this.nmiMask,
      originNs: this.originNs,
      originSeconds: this.originSeconds,
      lastSyncNs: this.lastSyncNs,
    };
  }

  /** Restores a state from save(); throws DeviceStateError (device unchanged) on bad input. */
  load(state: unknown): void {
    const r = new StateReader("mc146818", state, 1);
    const cmos = r.ints("cmos", 0, 0xff, { exact: 128 });
    const index = r.int("index", 0, 0x7f);
    const nmiMasked = r.bool("nmiMasked");
    const originNs = r.int("originNs", -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    const originSeconds = r.int("originSeconds", -8.64e12, 8.64e12);
    const lastSyncNs = r.int("lastSyncNs", -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    if (lastSyncNs < originNs) throw new DeviceStateError("mc146818", "lastSyncNs is before originNs");
    this.cmos.set(cmos);
    this.index = index;
    this.nmiMask = nmiMasked;
    this.originNs = originNs;
    this.originSeconds = originSeconds;
    this.lastSyncNs = lastSyncNs;
    this.updateIrq(true);
  }

  /** The divider runs unless DV2-DV0 hold it in reset (11x). */
  private dividerRunning(): boolean {
    return (this.cmos[RTC.A] & 0x60) !== 0x60;
  }

  /** Time registers are frozen (guest-owned) while SET=1 or the divider is in reset. */
  private frozen(): boolean {
    return (this.cmos[RTC.B] & RTC_B.SET) !== 0 || !this.dividerRunning();
  }

  private cyclesAt(ns: number): number {
    return ticksAt(Math.max(0, ns - this.originNs), RTC_HZ);
  }

  /** Periodic interrupt period in 32.768 kHz cycles from RS3-RS0, 0 for none. */
  private periodCycles(): number {
    const rs = this.cmos[RTC.A] & 0x0f;
    if (rs === 0) return 0;
    return rs <= 2 ? 1 << (rs + 6) : 1 << (rs - 1);
  }

  private updateInProgress(now: number): boolean {
    if (this.frozen()) return false;
    return this.cyclesAt(now) % RTC_HZ >= RTC_HZ - UIP_CYCLES;
  }

  /** Clock seconds at `now` (running clock). */
  private secondsAt(now: number): number {
    return this.originSeconds + Math.floor(this.cyclesAt(now) / RTC_HZ);
  }

  /** Sets PF/UF/AF for the events between the last sync and `now`, then drives IRQ8. */
  private sync(now: number): void {
    if (now > this.lastSyncNs && this.dividerRunning()) {
      const c0 = this.cyclesAt(this.lastSyncNs);
      const c1 = this.cyclesAt(now);
      const period = this.periodCycles();
      if (period > 0 && Math.floor(c1 / period) > Math.floor(c0 / period)) this.cmos[RTC.C] |= RTC_C.PF;
      const s0 = Math.floor(c0 / RTC_HZ);
      const s1 = Math.floor(c1 / RTC_HZ);
      if (s1 > s0 && !(this.cmos[RTC.B] & RTC_B.SET)) {
        this.cmos[RTC.C] |= RTC_C.UF;
        // The alarm pattern repeats at most daily: looking at the last day is enough.
        for (let s = Math.max(s0 + 1, s1 - 86399); s <= s1; s++) {
          if (this.alarmMatches(this.originSeconds + s)) {
            this.cmos[RTC.C] |= RTC_C.AF;
            break;
          }
        }
      }
    }
    if (now > this.lastSyncNs) this.lastSyncNs = now;
    this.updateIrq();
  }

  private alarmMatches(seconds: number): boolean {
    const t = this.encode(seconds);
    const pairs: [number, number][] = [
      [RTC.SECONDS_ALARM, t[RTC.SECONDS]],
      [RTC.MINUTES_ALARM, t[RTC.MINUTES]],
      [RTC.HOURS_ALARM, t[RTC.HOURS]],
    ];
    return pairs.every(([alarm, value]) => this.cmos[alarm] >= 0xc0 || this.cmos[alarm] === value);
  }

  /** IRQF = some flag in C with its enable in B; IRQ8 follows IRQF (driven anyway if `force`). */
  private updateIrq(force = false): void {
    if (this.cmos[RTC.C] & this.cmos[RTC.B] & (RTC_C.PF | RTC_C.AF | RTC_C.UF))
      this.cmos[RTC.C] |= RTC_C.IRQF;
    const level = (this.cmos[RTC.C] & RTC_C.IRQF) !== 0;
    if (force || level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  /** The time registers for clock time `seconds`, in B's format. */
  private encode(seconds: number): Record<number, number> {
    const b = this.cmos[RTC.B];
    const enc = b & RTC_B.DM ? (v: number) => v : toBcd;
    const d = new Date(seconds * 1000);
    const hour = d.getUTCHours();
    const hours = b & RTC_B.H24 ? enc(hour) : enc(hour % 12 === 0 ? 12 : hour % 12) | (hour >= 12 ? 0x80 : 0);
    const year = d.getUTCFullYear();
    return {
      [RTC.SECONDS]: enc(d.getUTCSeconds()),
      [RTC.MINUTES]: enc(d.getUTCMinutes()),
      [RTC.HOURS]: hours,
      [RTC.DAY_OF_WEEK]: enc(d.getUTCDay() + 1),
      [RTC.DAY_OF_MONTH]: enc(d.getUTCDate()),
      [RTC.MONTH]: enc(d.getUTCMonth() + 1),
      [RTC.YEAR]: enc(year % 100),
      [RTC.CENTURY]: enc(Math.floor(year / 100)),
    };
  }

  /** Copies the running clock into the time registers. */
  private refresh(now: number): void {
    if (this.frozen()) return;
    for (const [index, value] of Object.entries(this.encode(this.secondsAt(now)))) this.cmos[+index] = value;
  }

  /** Restarts the clock from the time registers, keeping the divider's phase. */
  private rebase(now: number): void {
    const b = this.cmos[RTC.B];
    const dec = b & RTC_B.DM ? (v: number) => v : fromBcd;
    const rawHours = this.cmos[RTC.HOURS];
    let hour: number;
    if (b & RTC_B.H24) hour = dec(rawHours);
    else hour = (dec(rawHours & 0x7f) % 12) + (rawHours & 0x80 ? 12 : 0);
    const ms = Date.UTC(
      dec(this.cmos[RTC.CENTURY]) * 100 + dec(this.cmos[RTC.YEAR]),
      dec(this.cmos[RTC.MONTH]) - 1,
      dec(this.cmos[RTC.DAY_OF_MONTH]),
      hour,
      dec(this.cmos[RTC.MINUTES]),
      dec(this.cmos[RTC.SECONDS]),
    );
    const seconds = Number.isFinite(ms) ? Math.floor(ms / 1000) : this.originSeconds;
    this.originSeconds = seconds - Math.floor(this.cyclesAt(now) / RTC_HZ);
  }
}
