/**
 * A 16550A UART (the PC's COM ports; National Semiconductor PC16550D datasheet). Eight
 * byte-wide registers at the port base: RBR/THR and IER (or the divisor latch DLL/DLM when
 * LCR.DLAB=1), IIR/FCR, LCR, MCR, LSR, MSR and SCR.
 *
 * Transmission is instantaneous: a byte written to THR goes straight to the injected
 * `onByte` sink, so the transmitter FIFO is always empty, LSR always shows THRE|TEMT and a
 * polling guest never waits; each write is still a new THR-empty interrupt condition (cleared
 * by reading IIR when it is the reported source, or by the next THR write). MCR.LOOP turns the
 * UART back on itself (THR to RBR, MCR outputs to MSR inputs) as the datasheet describes,
 * which is how drivers probe for the chip. Received bytes come from the host through
 * `receiveByte()` into a 16-byte FIFO (1 byte when FIFOs are off); an overrun sets LSR.OE.
 *
 * FIFOs (FCR): bit 0 enables them (changing it clears both), bits 1-2 clear them, bits 7-6 set
 * the receive trigger level (1, 4, 8, 14). Interrupts in the datasheet's priority order (IIR,
 * Table 4): receiver line status (OE), received data available (FIFO at or above the trigger
 * level), character timeout (IIR 0Ch: data below the trigger level, nothing received or read
 * for four character times — timed on the injected virtual clock; without a clock it is
 * reported at once), THR empty, modem status. IIR bits 7-6 read 11 with FIFOs on.
 *
 * Outputs: `irq(level)` is the chip's INTR pin (an enabled interrupt is pending); `irqLine`
 * is the PC's IRQ, which the board gates with MCR.OUT2 (and which is off in loopback, where
 * the OUT2 pin is forced inactive) — drivers set OUT2 to get interrupts. A clocked UART has a
 * timer: `nextDeadline()` / `advance(now)` for the character timeout.
 *
 * Wiring: `bus.register("com1", 0x3f8, 8, uart, true)`; irqLine = ISA IRQ4 (COM1, 3F8h) or IRQ3
 * (COM2, 2F8h); clock = the machine's virtual clock (optional); host stdin feeds
 * `receiveByte()`. State is plain fields, saved and restored as a versioned object.
 */
import { StateReader } from "./device-state.js";
import { NO_IRQ, type IrqLine, type VirtualClock } from "./irq.js";

/** What the UART is connected to. */
export interface Serial16550Options {
  /** Called with each byte the guest transmits (not in loopback mode). */
  onByte?: (byte: number) => void;
  /** The chip's INTR output: called when it changes level. */
  irq?: (level: boolean) => void;
  /** The PC's IRQ line: INTR gated by MCR.OUT2. */
  irqLine?: IrqLine;
  /** Virtual clock for the character timeout; without it the timeout is immediate. */
  clock?: VirtualClock;
}

/** Version of Serial16550State. */
export const SERIAL16550_STATE_VERSION = 1;

/** Saved state of a Serial16550. */
export interface Serial16550State {
  version: number;
  ier: number;
  lcr: number;
  mcr: number;
  fcr: number;
  scr: number;
  divisor: number;
  /** LSR error bits (OE, PE, FE, BI) not yet read. */
  lineErrors: number;
  /** MSR delta bits (0-3) not yet read. */
  modemDeltas: number;
  /** Bytes received and not yet read. */
  rx: number[];
  /** THR-empty interrupt condition pending. */
  thrEmptyPending: boolean;
  /** Virtual time of the last receive-FIFO activity (for the character timeout). */
  rxActivityNs: number;
}

/** Register offsets from the port base. */
export const UART = {
  RBR_THR_DLL: 0,
  IER_DLM: 1,
  IIR_FCR: 2,
  LCR: 3,
  MCR: 4,
  LSR: 5,
  MSR: 6,
  SCR: 7,
} as const;

/** IIR interrupt identification values (bits 3-0; datasheet Table 4). */
export const UART_IIR = {
  NONE: 0x1,
  LINE_STATUS: 0x6,
  RX_DATA: 0x4,
  CHAR_TIMEOUT: 0xc,
  THR_EMPTY: 0x2,
  MODEM_STATUS: 0x0,
} as const;

const LCR_DLAB = 0x80;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;
const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_ERRORS = 0x1e;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
const LSR_FIFO_ERROR = 0x80;
const IER_RDA = 0x01;
const IER_THRE = 0x02;
const IER_RLS = 0x04;
const IER_MS = 0x08;
const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;
const FIFO_DEPTH = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14];
/** MSR inputs when not in loopback: CTS, DSR and DCD asserted (a terminal is attached). */
const MSR_CONNECTED = 0xb0;
/** The UART's input clock divided by 16: baud = 115200 / divisor. */
const BAUD_BASE = 115200;

/** One 16550A UART. */
export class Serial16550 {
  private readonly onByte: (byte: number) => void;
  private readonly irq: (level: boolean) => void;
  private readonly line: IrqLine;
  private readonly clock: VirtualClock | undefined;
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private fcr = 0;
  private scr = 0;
  private divisor = 12; // 9600 baud, a common power-on choice of firmware
  private lineErrors = 0;
  private modemDeltas = 0;
  private rx: number[] = [];
  private thrEmptyPending = false;
  private rxActivityNs = 0;
  private irqLevel = false;
  private lineLevel = false;
  private inputSource: (() => number | undefined) | null = null;

  /** Creates a UART in its reset state connected as `options` says. */
  constructor(options: Serial16550Options = {}) {
    this.onByte = options.onByte ?? (() => {});
    this.irq = options.irq ?? (() => {});
    this.line = options.irqLine ?? NO_IRQ;
    this.clock = options.clock;
    this.rxActivityNs = this.now();
  }

  /** Register read at `offset` (0-7). */
  read(offset: number, _size = 1): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset & 7) {
      case UART.RBR_THR_DLL: {
        if (dlab) return this.divisor & 0xff;
        const byte = this.rx.length > 0 ? this.rx.shift()! : 0;
        this.rxActivityNs = this.now();
        this.pullInput();
        this.update();
        return byte;
      }
      case UART.IER_DLM:
        return dlab ? (this.divisor >> 8) & 0xff : this.ier;
      case UART.IIR_FCR: {
        const id = this.interruptId();
        if (id === UART_IIR.THR_EMPTY) this.thrEmptyPending = false; // reading IIR acknowledges THRE
        this.update();
        return (this.fcr & FCR_ENABLE ? 0xc0 : 0) | id;
      }
      case UART.LCR:
        return this.lcr;
      case UART.MCR:
        return this.mcr;
      case UART.LSR: {
        const value = this.lsr();
        this.lineErrors = 0;
        this.update();
        return value;
      }
      case UART.MSR: {
        const value = this.modemInputs() | this.modemDeltas;
        this.modemDeltas = 0;
        this.update();
        return value;
      }
      default:
        return this.scr;
    }
  }

  /** Register write at `offset` (0-7). */
  write(offset: number, _size: number, value: number): void {
    const v = value & 0xff;
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset & 7) {
      case UART.RBR_THR_DLL:
        if (dlab) {
          this.divisor = (this.divisor & 0xff00) | v;
          return;
        }
        this.transmit(v);
        return;
      case UART.IER_DLM:
        if (dlab) {
          this.divisor = (this.divisor & 0xff) | (v << 8);
          return;
        }
        // Enabling the THRE interrupt while THR is empty raises it at once.
        if (v & IER_THRE && !(this.ier & IER_THRE)) this.thrEmptyPending = true;
        this.ier = v & 0x0f;
        this.update();
        return;
      case UART.IIR_FCR:
        if (v & FCR_CLEAR_RX || (v & FCR_ENABLE) !== (this.fcr & FCR_ENABLE)) this.rx = [];
        this.fcr = v & 0xc9; // enable, DMA mode, trigger level; the clear bits self-reset
        this.rxActivityNs = this.now();
        this.pullInput();
        this.update();
        return;
      case UART.LCR:
        this.lcr = v;
        return;
      case UART.MCR: {
        const before = this.modemInputs();
        this.mcr = v & 0x1f;
        this.noteModemChange(before);
        this.pullInput();
        this.update();
        return;
      }
      case UART.LSR:
      case UART.MSR:
        return; // read-only (factory test registers on some parts)
      default:
        this.scr = v;
    }
  }

  /** Host side: a byte arrives on the receive line. Sets OE when the FIFO is full. */
  receiveByte(byte: number): void {
    if (this.mcr & MCR_LOOP) return; // the receive line is disconnected in loopback
    this.push(byte & 0xff);
    this.update();
  }

  /**
   * Host side, with flow control: connects a source of received bytes (e.g. the console's
   * keyboard queue; it returns undefined when it has none). The UART takes bytes from it only
   * while its receive buffer has room, now and whenever the guest makes room (reads RBR,
   * changes the FIFO or leaves loopback), as QEMU's character front-end asks `can_receive`
   * first: a paste or a pipe is delivered as fast as the guest reads it, never overrun.
   * Bytes pushed with receiveByte() bypass it (and can overrun, as on the wire).
   */
  setInputSource(source: (() => number | undefined) | null): void {
    this.inputSource = source;
    this.pullInput();
    this.update();
  }

  /** Takes bytes from the input source while the receive buffer has room (call when it has new bytes). */
  pullInput(): void {
    if (this.inputSource === null || this.mcr & MCR_LOOP) return;
    let took = false;
    while (this.receiveRoom > 0) {
      const byte = this.inputSource();
      if (byte === undefined) break;
      this.push(byte & 0xff);
      took = true;
    }
    if (took) this.update();
  }

  /** Same as receiveByte(). */
  receive(byte: number): void {
    this.receiveByte(byte);
  }

  /** True when the chip's INTR output is asserted. */
  get interruptPending(): boolean {
    return this.irqLevel;
  }

  /** True when the PC's IRQ line (INTR gated by OUT2) is asserted. */
  get irqAsserted(): boolean {
    return this.lineLevel;
  }

  /** Current divisor latch value (baud = 115200 / divisor). */
  get divisorLatch(): number {
    return this.divisor;
  }

  /** Free space in the receive FIFO (host flow control: feed no more than this). */
  get receiveRoom(): number {
    return (this.fcr & FCR_ENABLE ? FIFO_DEPTH : 1) - this.rx.length;
  }

  /** Virtual time at which a character timeout would interrupt, or undefined. */
  nextDeadline(): number | undefined {
    if (!this.clock || !(this.ier & IER_RDA) || !this.belowTrigger()) return undefined;
    const due = this.rxActivityNs + this.timeoutNs();
    // Past due and not yet signalled: still report it, so that the VMM calls advance().
    return due > this.clock.now() || !this.irqLevel ? due : undefined;
  }

  /** Raises the character-timeout interrupt when it is due. */
  advance(_now: number): void {
    this.update();
  }

  /** Alias of advance() for VMMs that poll. */
  poll(now: number): void {
    this.advance(now);
  }

  /** Power-on (MR) state: registers 0 except the divisor, FIFOs empty, no interrupt. */
  reset(): void {
    this.ier = this.lcr = this.mcr = this.fcr = this.scr = 0;
    this.divisor = 12;
    this.lineErrors = this.modemDeltas = 0;
    this.rx = [];
    this.thrEmptyPending = false;
    this.rxActivityNs = this.now();
    this.update();
  }

  /** The device state as a plain versioned object. */
  save(): Serial16550State {
    return {
      version: SERIAL16550_STATE_VERSION,
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      fcr: this.fcr,
      scr: this.scr,
      divisor: this.divisor,
      lineErrors: this.lineErrors,
      modemDeltas: this.modemDeltas,
      rx: [...this.rx],
      thrEmptyPending: this.thrEmptyPending,
      rxActivityNs: this.rxActivityNs,
    };
  }

  /** Restores a state from save(); throws DeviceStateError (device unchanged) on bad input. */
  load(state: unknown): void {
    const r = new StateReader("serial16550", state, SERIAL16550_STATE_VERSION);
    const ier = r.int("ier", 0, 0x0f);
    const lcr = r.int("lcr", 0, 0xff);
    const mcr = r.int("mcr", 0, 0x1f);
    const fcr = r.int("fcr", 0, 0xff);
    const scr = r.int("scr", 0, 0xff);
    const divisor = r.int("divisor", 0, 0xffff);
    const lineErrors = r.int("lineErrors", 0, LSR_ERRORS);
    const modemDeltas = r.int("modemDeltas", 0, 0x0f);
    const rx = r.ints("rx", 0, 0xff, { max: fcr & FCR_ENABLE ? FIFO_DEPTH : 1 });
    const thrEmptyPending = r.bool("thrEmptyPending");
    const rxActivityNs = r.int("rxActivityNs", -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    this.ier = ier;
    this.lcr = lcr;
    this.mcr = mcr;
    this.fcr = fcr & 0xc9;
    this.scr = scr;
    this.divisor = divisor;
    this.lineErrors = lineErrors & LSR_ERRORS;
    this.modemDeltas = modemDeltas;
    this.rx = rx;
    this.thrEmptyPending = thrEmptyPending;
    this.rxActivityNs = rxActivityNs;
    this.update();
  }

  /** Same as save() (the earlier name). */
  saveState(): Serial16550State {
    return this.save();
  }

  /** Same as load() (the earlier name). */
  loadState(state: unknown): void {
    this.load(state);
  }

  private now(): number {
    return this.clock ? this.clock.now() : 0;
  }

  private transmit(byte: number): void {
    if (this.mcr & MCR_LOOP) this.push(byte);
    else this.onByte(byte);
    // The byte left at once: THR is empty again, which is a new THRE interrupt condition.
    this.thrEmptyPending = true;
    this.update();
  }

  private push(byte: number): void {
    const depth = this.fcr & FCR_ENABLE ? FIFO_DEPTH : 1;
    if (this.rx.length >= depth) {
      this.lineErrors |= LSR_OE;
      if (depth === 1) this.rx[0] = byte; // the holding register is overwritten
      return;
    }
    this.rx.push(byte);
    this.rxActivityNs = this.now();
  }

  private lsr(): number {
    let v = LSR_THRE | LSR_TEMT | this.lineErrors;
    if (this.rx.length > 0) v |= LSR_DR;
    if (this.fcr & FCR_ENABLE && this.lineErrors & ~LSR_OE) v |= LSR_FIFO_ERROR;
    return v;
  }

  /** MSR bits 4-7: the MCR outputs in loopback, a connected terminal otherwise. */
  private modemInputs(): number {
    if (!(this.mcr & MCR_LOOP)) return MSR_CONNECTED;
    const m = this.mcr;
    return ((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) | ((m & 0x08) << 4);
  }

  private noteModemChange(before: number): void {
    const after = this.modemInputs();
    const changed = before ^ after;
    let delta = 0;
    if (changed & 0x10) delta |= 0x01; // DCTS
    if (changed & 0x20) delta |= 0x02; // DDSR
    if (before & 0x40 && !(after & 0x40)) delta |= 0x04; // TERI: RI went inactive
    if (changed & 0x80) delta |= 0x08; // DDCD
    this.modemDeltas |= delta;
  }

  private triggerLevel(): number {
    return this.fcr & FCR_ENABLE ? TRIGGER_LEVELS[this.fcr >> 6] : 1;
  }

  /** FIFO mode with some data, but less than the trigger level. */
  private belowTrigger(): boolean {
    return this.rx.length > 0 && this.rx.length < this.triggerLevel();
  }

  /** Four character times at the current divisor and frame format (datasheet, "FIFO Interrupt Mode"). */
  private timeoutNs(): number {
    const bits = 1 + 5 + (this.lcr & 3) + (this.lcr & 0x08 ? 1 : 0) + (this.lcr & 0x04 ? 2 : 1);
    const divisor = this.divisor === 0 ? 0x10000 : this.divisor;
    return Math.ceil((4 * bits * divisor * 1e9) / BAUD_BASE);
  }

  private timedOut(): boolean {
    if (!this.belowTrigger()) return false;
    return !this.clock || this.clock.now() - this.rxActivityNs >= this.timeoutNs();
  }

  /** IIR bits 3-0 for the highest-priority enabled pending interrupt (datasheet Table 4). */
  private interruptId(): number {
    if (this.ier & IER_RLS && this.lineErrors) return UART_IIR.LINE_STATUS;
    if (this.ier & IER_RDA && this.rx.length >= this.triggerLevel()) return UART_IIR.RX_DATA;
    if (this.ier & IER_RDA && this.timedOut()) return UART_IIR.CHAR_TIMEOUT;
    if (this.ier & IER_THRE && this.thrEmptyPending) return UART_IIR.THR_EMPTY;
    if (this.ier & IER_MS && this.modemDeltas) return UART_IIR.MODEM_STATUS;
    return UART_IIR.NONE;
  }

  private update(): void {
    const level = this.interruptId() !== UART_IIR.NONE;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq(level);
    }
    const gated = level && (this.mcr & (MCR_OUT2 | MCR_LOOP)) === MCR_OUT2;
    if (gated !== this.lineLevel) {
      this.lineLevel = gated;
      this.line.set(gated);
    }
  }
}
