/**
 * A 16550A UART (the PC's COM ports; National Semiconductor PC16550D datasheet). Eight
 * byte-wide registers at the port base: RBR/THR and IER (or the divisor latch DLL/DLM when
 * LCR.DLAB=1), IIR/FCR, LCR, MCR, LSR, MSR and SCR.
 *
 * Transmission is instantaneous: a byte written to THR goes straight to the injected
 * `onByte` sink, so LSR always shows THRE|TEMT and a polling guest never waits. MCR.LOOP
 * turns the UART back on itself (THR to RBR, MCR outputs to MSR inputs) as the datasheet
 * describes, which is how drivers probe for the chip. Received bytes come from the host
 * through `receive()` into a 16-byte FIFO (1 byte when FIFOs are off).
 *
 * Interrupts leave through the injected `irq(level)` trigger (level = "an enabled
 * interrupt is pending", IIR bit 0 clear); nothing is wired to it until there is an
 * interrupt controller. State is plain fields, saved and restored as a versioned object.
 */

/** What the UART is connected to. */
export interface Serial16550Options {
  /** Called with each byte the guest transmits (not in loopback mode). */
  onByte?: (byte: number) => void;
  /** Called when the interrupt output changes level. */
  irq?: (level: boolean) => void;
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

const LCR_DLAB = 0x80;
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
/** MSR inputs when not in loopback: CTS, DSR and DCD asserted (a terminal is attached). */
const MSR_CONNECTED = 0xb0;

/** One 16550A UART. */
export class Serial16550 {
  private readonly onByte: (byte: number) => void;
  private readonly irq: (level: boolean) => void;
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
  private irqLevel = false;

  /** Creates a UART in its reset state connected as `options` says. */
  constructor(options: Serial16550Options = {}) {
    this.onByte = options.onByte ?? (() => {});
    this.irq = options.irq ?? (() => {});
  }

  /** Register read at `offset` (0-7). */
  read(offset: number, _size = 1): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset & 7) {
      case UART.RBR_THR_DLL: {
        if (dlab) return this.divisor & 0xff;
        const byte = this.rx.length > 0 ? this.rx.shift()! : 0;
        this.update();
        return byte;
      }
      case UART.IER_DLM:
        return dlab ? (this.divisor >> 8) & 0xff : this.ier;
      case UART.IIR_FCR: {
        const id = this.interruptId();
        if (id === 0x2) this.thrEmptyPending = false; // reading IIR acknowledges THRE
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
        this.update();
        return;
      case UART.LCR:
        this.lcr = v;
        return;
      case UART.MCR: {
        const before = this.modemInputs();
        this.mcr = v & 0x1f;
        this.noteModemChange(before);
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
  receive(byte: number): void {
    if (this.mcr & MCR_LOOP) return; // the receive line is disconnected in loopback
    this.push(byte & 0xff);
    this.update();
  }

  /** True when the interrupt output is asserted. */
  get interruptPending(): boolean {
    return this.irqLevel;
  }

  /** Current divisor latch value (baud = 115200 / divisor). */
  get divisorLatch(): number {
    return this.divisor;
  }

  /** The device state as a plain versioned object. */
  saveState(): Serial16550State {
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
    };
  }

  /** Restores a state from saveState(); throws on an unknown version or bad field. */
  loadState(state: Serial16550State): void {
    if (state?.version !== SERIAL16550_STATE_VERSION) {
      throw new Error(
        `serial16550: state version ${String(state?.version)} is not ${SERIAL16550_STATE_VERSION}`,
      );
    }
    const byte = (name: string, v: unknown): number => {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xff) {
        throw new Error(`serial16550: state field ${name} must be a byte`);
      }
      return v;
    };
    const rx = Array.isArray(state.rx) ? state.rx.map((b, n) => byte(`rx[${n}]`, b)) : [];
    if (rx.length > FIFO_DEPTH) throw new Error(`serial16550: rx holds more than ${FIFO_DEPTH} bytes`);
    const divisor = state.divisor;
    if (!Number.isInteger(divisor) || divisor < 0 || divisor > 0xffff) {
      throw new Error("serial16550: state field divisor must be 0..65535");
    }
    this.ier = byte("ier", state.ier) & 0x0f;
    this.lcr = byte("lcr", state.lcr);
    this.mcr = byte("mcr", state.mcr) & 0x1f;
    this.fcr = byte("fcr", state.fcr) & 0xc9;
    this.scr = byte("scr", state.scr);
    this.divisor = divisor;
    this.lineErrors = byte("lineErrors", state.lineErrors) & LSR_ERRORS;
    this.modemDeltas = byte("modemDeltas", state.modemDeltas) & 0x0f;
    this.rx = rx;
    this.thrEmptyPending = !!state.thrEmptyPending;
    this.update();
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

  /** IIR bits 3-0 for the highest-priority enabled pending interrupt (datasheet Table 4). */
  private interruptId(): number {
    if (this.ier & IER_RLS && this.lineErrors) return 0x6;
    if (this.ier & IER_RDA && this.rx.length > 0) return 0x4;
    if (this.ier & IER_THRE && this.thrEmptyPending) return 0x2;
    if (this.ier & IER_MS && this.modemDeltas) return 0x0;
    return 0x1;
  }

  private update(): void {
    const level = this.interruptId() !== 0x1;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq(level);
    }
  }
}
