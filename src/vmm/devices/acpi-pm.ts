/**
 * The ACPI fixed-hardware power-management registers (ACPI 6.5 section 4.8, "ACPI Hardware
 * Model"; registers in "PM1 Event Grouping" and "PM1 Control Grouping"): the PM1a event
 * block (PM1_STS, PM1_EN), the PM1a control block (PM1_CNT: SCI_EN, SLP_TYPx, SLP_EN) and
 * the power-management timer, laid out as in the PIIX4 and ICH9 PM I/O space (event block
 * at base+0, control at base+4, timer at base+8).
 * pinvm puts the block at I/O 0x600, QEMU q35's PMBASE; the FADT must name the same ports
 * (use `acpiPmBlocks`).
 *
 * - The PM timer (4.8, "Power Management Timer") runs at 3.579545 MHz from the injected virtual clock, 24 bits
 *   wide (or 32 with FADT TMR_VAL_EXT); TMR_STS is set each time its top bit toggles.
 * - Status bits are write-1-to-clear; an SCI (level, on the line given, ISA IRQ 9 on a PC)
 *   is asserted while SCI_EN is set and a status bit is set with its enable bit (4.8, "PM1 Event Grouping").
 * - Writing SLP_EN with SLP_TYP = the S5 value (the DSDT's \_S5) calls `onPowerOff`; other
 *   sleep types call `onSleep` (no sleep state is implemented: the caller decides).
 * - SMI_CMD is 0 in pinvm's FADT (no SMM hand-off), so SCI_EN is set at reset: the machine
 *   is always in ACPI mode (ACPI 6.5 5.2.9, SMI_CMD and SCI_EN).
 *
 * Timing: status changes are computed lazily from the clock at every register access and by
 * `poll()`; `nextDeadline()` says when the next timer overflow is due, so the machine can
 * call `poll()` then to raise the SCI on time.
 */
import type { AcpiPmBlocks } from "../firmware/acpi-tables.js";
import type { PortDevice } from "../port-io-bus.js";
import { NO_IRQ, type IrqLine, type VirtualClock } from "./irq.js";
import { DeviceStateError, StateReader } from "./device-state.js";

/** pinvm's PM I/O base (QEMU q35's ICH9 PMBASE). */
export const ACPI_PM_DEFAULT_BASE = 0x600;

/** Ports the device decodes from its base. */
export const ACPI_PM_PORT_COUNT = 12;

/** Register offsets from the base. */
export const AcpiPmRegister = {
  PM1_STS: 0,
  PM1_EN: 2,
  PM1_CNT: 4,
  PM_TMR: 8,
} as const;

/** PM1 status bits (ACPI 6.5 4.8, "PM1 Status Registers"). Write 1 to clear. */
export const Pm1Status = {
  TMR_STS: 1 << 0,
  BM_STS: 1 << 4,
  GBL_STS: 1 << 5,
  PWRBTN_STS: 1 << 8,
  SLPBTN_STS: 1 << 9,
  RTC_STS: 1 << 10,
  PCIEXP_WAKE_STS: 1 << 14,
  WAK_STS: 1 << 15,
} as const;

/** PM1 enable bits (ACPI 6.5 4.8, "PM1 Enable Registers"). */
export const Pm1Enable = {
  TMR_EN: 1 << 0,
  GBL_EN: 1 << 5,
  PWRBTN_EN: 1 << 8,
  SLPBTN_EN: 1 << 9,
  RTC_EN: 1 << 10,
  PCIEXP_WAKE_DIS: 1 << 14,
} as const;

/** PM1 control bits (ACPI 6.5 4.8, "PM1 Control Registers"). */
export const Pm1Control = {
  SCI_EN: 1 << 0,
  BM_RLD: 1 << 1,
  /** Write-only: releases the global lock to the BIOS (no BIOS here: ignored). */
  GBL_RLS: 1 << 2,
  SLP_TYP_SHIFT: 10,
  SLP_TYP_MASK: 7 << 10,
  /** Write-only: enter the sleep state in SLP_TYP. Reads as 0. */
  SLP_EN: 1 << 13,
} as const;

/** The PM timer's frequency in Hz (ACPI 6.5 4.8, "Power Management Timer"). */
export const PM_TIMER_HZ = 3_579_545;

/** Status bits that exist; writes to others are ignored. */
const STATUS_BITS = Object.values(Pm1Status).reduce((a, b) => a | b, 0);
/** Enable bits that exist. */
const ENABLE_BITS = Object.values(Pm1Enable).reduce((a, b) => a | b, 0);
/** Status bits that have an enable bit and so can raise the SCI (4.8, "PM1 Event Grouping"). */
const SCI_SOURCES =
  Pm1Status.TMR_STS | Pm1Status.GBL_STS | Pm1Status.PWRBTN_STS | Pm1Status.SLPBTN_STS | Pm1Status.RTC_STS;
/** PM1_CNT bits that hold a value (SLP_EN and GBL_RLS are write-only). */
const CONTROL_STORED = Pm1Control.SCI_EN | Pm1Control.BM_RLD | Pm1Control.SLP_TYP_MASK;

/** The FADT register blocks of a PM device at `base` (what buildAcpiTables needs). */
export function acpiPmBlocks(base = ACPI_PM_DEFAULT_BASE, timer32Bit = false): AcpiPmBlocks {
  return {
    eventBlock: base + AcpiPmRegister.PM1_STS,
    controlBlock: base + AcpiPmRegister.PM1_CNT,
    timerBlock: base + AcpiPmRegister.PM_TMR,
    timer32Bit,
  };
}

/** How an AcpiPm is wired. */
export interface AcpiPmOptions {
  /** The virtual clock (ns). */
  clock: VirtualClock;
  /** The SCI output (ISA IRQ 9 on a PC), driven as a level. */
  sci?: IrqLine;
  /** Called when the guest writes SLP_EN with the S5 sleep type. */
  onPowerOff?: () => void;
  /** Called when the guest writes SLP_EN with another sleep type. */
  onSleep?: (sleepType: number) => void;
  /** SLP_TYP of S5 (default 0, as QEMU; must match the DSDT's \_S5). */
  s5SleepType?: number;
  /** A 32-bit timer (FADT TMR_VAL_EXT) instead of 24 bits. */
  timer32Bit?: boolean;
}

/** Version of AcpiPmState. */
export const ACPI_PM_STATE_VERSION = 1;

/** Saved state of an AcpiPm. */
export interface AcpiPmState {
  version: number;
  status: number;
  enable: number;
  control: number;
  /** The timer's count at the time of saving. */
  timer: number;
}

const NS_PER_S = 1_000_000_000;

/** PM timer ticks elapsed in `ns` nanoseconds, exact for any safe integer `ns`. */
export function pmTimerTicks(ns: number): number {
  const seconds = Math.floor(ns / NS_PER_S);
  const rest = ns - seconds * NS_PER_S;
  return seconds * PM_TIMER_HZ + Math.floor((rest * PM_TIMER_HZ) / NS_PER_S);
}

/** The ACPI PM1a/PM-timer register block. Register it on the port bus at its base. */
export class AcpiPm implements PortDevice {
  private readonly clock: VirtualClock;
  private readonly sci: IrqLine;
  private readonly onPowerOff: () => void;
  private readonly onSleep: (sleepType: number) => void;
  /** SLP_TYP value of S5. */
  readonly s5SleepType: number;
  /** Timer width in bits (24 or 32). */
  readonly timerBits: number;
  private status = 0;
  private enable = 0;
  private control = Pm1Control.SCI_EN;
  /** Clock-derived tick count at which the timer read 0. */
  private tickOrigin = 0;
  /** Half-periods of the timer (top-bit toggles) already accounted for in TMR_STS. */
  private seenToggles = 0;
  private sciLevel = false;

  /** Creates the device in its reset state. */
  constructor(options: AcpiPmOptions) {
    this.clock = options.clock;
    this.sci = options.sci ?? NO_IRQ;
    this.onPowerOff = options.onPowerOff ?? (() => {});
    this.onSleep = options.onSleep ?? (() => {});
    const s5 = options.s5SleepType ?? 0;
    if (!Number.isInteger(s5) || s5 < 0 || s5 > 7) throw new RangeError(`s5SleepType: ${s5} is not in 0..7`);
    this.s5SleepType = s5;
    this.timerBits = options.timer32Bit ? 32 : 24;
    this.reset();
  }

  /** Power-on state: status and enables clear, SCI_EN set, timer restarting from 0. */
  reset(): void {
    this.status = 0;
    this.enable = 0;
    this.control = Pm1Control.SCI_EN;
    this.tickOrigin = pmTimerTicks(this.clock.now());
    this.seenToggles = 0;
    this.updateSci();
  }

  /** Timer ticks since the origin (not wrapped). */
  private elapsedTicks(): number {
    return pmTimerTicks(this.clock.now()) - this.tickOrigin;
  }

  /** Ticks between toggles of the timer's top bit. */
  private get halfPeriod(): number {
    return 2 ** (this.timerBits - 1);
  }

  /** The timer's current count (ACPI 6.5 4.8 "Power Management Timer": free-running, wraps at 2^24 or 2^32). */
  get timerValue(): number {
    return this.elapsedTicks() % 2 ** this.timerBits;
  }

  /** Brings TMR_STS up to date with the clock and updates the SCI. */
  poll(): void {
    const toggles = Math.floor(this.elapsedTicks() / this.halfPeriod);
    if (toggles > this.seenToggles) {
      this.seenToggles = toggles;
      this.status |= Pm1Status.TMR_STS;
    }
    this.updateSci();
  }

  /**
   * Clock time (ns) of the next top-bit toggle when it can raise an SCI (TMR_EN and SCI_EN
   * set, TMR_STS clear), else null: nothing is due that needs a poll().
   */
  nextDeadline(): number | null {
    if (!(this.enable & Pm1Enable.TMR_EN) || !(this.control & Pm1Control.SCI_EN)) return null;
    if (this.status & Pm1Status.TMR_STS) return null;
    const tick = this.tickOrigin + (this.seenToggles + 1) * this.halfPeriod;
    // The first nanosecond at which pmTimerTicks(ns) >= tick; +1 guards against rounding.
    return Math.ceil((tick / PM_TIMER_HZ) * NS_PER_S) + 1;
  }

  /** The power button was pressed (sets PWRBTN_STS, ACPI 6.5 4.8, "Power Button"). */
  pressPowerButton(): void {
    this.poll();
    this.status |= Pm1Status.PWRBTN_STS;
    this.updateSci();
  }

  /** True while the SCI output is asserted. */
  get sciAsserted(): boolean {
    return this.sciLevel;
  }

  private updateSci(): void {
    const level = (this.control & Pm1Control.SCI_EN) !== 0 && (this.status & this.enable & SCI_SOURCES) !== 0;
    if (level !== this.sciLevel) {
      this.sciLevel = level;
      this.sci.set(level);
    }
  }

  private readByte(offset: number, timer: number): number {
    switch (offset) {
      case 0:
      case 1:
        return (this.status >>> (8 * offset)) & 0xff;
      case 2:
      case 3:
        return (this.enable >>> (8 * (offset - 2))) & 0xff;
      case 4:
      case 5:
        return (this.control >>> (8 * (offset - 4))) & 0xff;
      case 8:
      case 9:
      case 10:
      case 11:
        return (timer >>> (8 * (offset - 8))) & 0xff;
      default:
        return 0xff; // 6-7: no register
    }
  }

  /** IN from base+offset: bytes of PM1_STS, PM1_EN, PM1_CNT and PM_TMR, little-endian. */
  read(offset: number, size: number): number {
    this.poll();
    const timer = this.timerValue;
    let value = 0;
    for (let n = 0; n < size; n++) value |= this.readByte(offset + n, timer) << (8 * n);
    return value >>> 0;
  }

  /** OUT to base+offset. */
  write(offset: number, size: number, value: number): void {
    this.poll();
    let sleepRequest = false;
    for (let n = 0; n < size; n++) {
      const at = offset + n;
      const byte = (value >>> (8 * n)) & 0xff;
      if (at === 0 || at === 1) {
        this.status &= ~((byte << (8 * at)) & STATUS_BITS); // write 1 to clear
      } else if (at === 2 || at === 3) {
        const shift = 8 * (at - 2);
        this.enable = (this.enable & ~(0xff << shift)) | ((byte << shift) & ENABLE_BITS);
      } else if (at === 4 || at === 5) {
        const shift = 8 * (at - 4);
        this.control =
          (this.control & ~((0xff << shift) & CONTROL_STORED)) | ((byte << shift) & CONTROL_STORED);
        if ((byte << shift) & Pm1Control.SLP_EN) sleepRequest = true;
      }
      // The timer (8-11) is read-only; 6-7 decode nothing.
    }
    this.updateSci();
    if (sleepRequest) {
      const type = (this.control & Pm1Control.SLP_TYP_MASK) >>> Pm1Control.SLP_TYP_SHIFT;
      if (type === this.s5SleepType) this.onPowerOff();
      else this.onSleep(type);
    }
  }

  /** The state as a plain versioned object. */
  save(): AcpiPmState {
    this.poll();
    return {
      version: ACPI_PM_STATE_VERSION,
      status: this.status,
      enable: this.enable,
      control: this.control,
      timer: this.timerValue,
    };
  }

  /** Restores save() output; checks everything first and throws DeviceStateError on bad input. */
  load(state: unknown): void {
    const r = new StateReader("acpi-pm", state, ACPI_PM_STATE_VERSION);
    const status = r.int("status", 0, 0xffff);
    const enable = r.int("enable", 0, 0xffff);
    const control = r.int("control", 0, 0xffff);
    const timer = r.int("timer", 0, 2 ** this.timerBits - 1);
    if (status & ~STATUS_BITS) throw new DeviceStateError("acpi-pm", "status sets undefined PM1_STS bits");
    if (enable & ~ENABLE_BITS) throw new DeviceStateError("acpi-pm", "enable sets undefined PM1_EN bits");
    if (control & ~CONTROL_STORED)
      throw new DeviceStateError("acpi-pm", "control sets bits PM1_CNT does not hold");
    this.status = status;
    this.enable = enable;
    this.control = control;
    this.tickOrigin = pmTimerTicks(this.clock.now()) - timer;
    this.seenToggles = Math.floor(timer / this.halfPeriod);
    this.updateSci();
  }
}
