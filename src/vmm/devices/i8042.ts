/**
 * The PC's 8042 keyboard controller (IBM PS/2 Hardware Interface Technical Reference,
 * "Keyboard/Auxiliary Device Controller"): data port 60h, status (read) / command (write) port
 * 64h, a PS/2 keyboard behind it (ps2-keyboard.ts) on IRQ1, no auxiliary device (mouse).
 *
 * Status register: bit 0 OBF output buffer full, 1 IBF (always 0: commands complete at once),
 * 2 SYS system flag, 3 A2 (last write went to 64h), 4 keyboard not inhibited (1), 5 AUXB (the
 * output byte is from the aux port), 6 timeout, 7 parity error (both 0).
 *
 * Controller commands: 20h read the command byte (and 21h-3Fh the rest of the 32-byte RAM),
 * 60h write it (61h-7Fh the RAM); A7h/A8h disable/enable the aux port; A9h aux interface test
 * (00h); AAh self-test (55h, sets SYS); ABh keyboard interface test (00h); ADh/AEh disable/
 * enable the keyboard; C0h read the input port; D0h/D1h read/write the output port; D2h/D3h
 * write the keyboard/aux output buffer (loopback, which Linux uses to probe the aux port);
 * D4h send to the aux device (none here: dropped); E0h test inputs (00h); F0h-FFh pulse
 * output-port bits 3-0 low for the bits that are 0 in the command.
 *
 * Command byte: bit 0 keyboard interrupt (IRQ1) enable, 1 aux interrupt (IRQ12), 2 SYS, 4
 * keyboard disabled, 5 aux disabled, 6 translation. Output port: bit 0 system reset (active
 * low), 1 A20 gate, 4/5 output buffer full from keyboard/aux (as read). Power-on: command byte
 * 03h, output port CFh (reset inactive, A20 on), status 18h — QEMU's choices.
 *
 * Reset: the output port's bit 0 going to 0 (a D1h write or the FEh pulse) asserts the CPU's
 * reset line: `onReset()` (INIT# on real chipsets, a full reset in QEMU; the VMM decides —
 * see /work/shared/context/reset-init-state.md [P92] [QDEV]). A20: `onA20(enabled)` on changes;
 * this VMM does not mask A20.
 *
 * Wiring: `bus.register("i8042-data", 0x60, 1, kbc.dataPort)`, `bus.register("i8042-cmd",
 * 0x64, 1, kbc.commandPort)`; IRQ1 and IRQ12 lines (ISA IRQ1: PIC master 1 / IOAPIC pin 1;
 * IRQ12: PIC slave 4 / IOAPIC 12). No clock.
 */
import type { PortDevice } from "../port-io-bus.js";
import { DeviceStateError, StateReader } from "./device-state.js";
import { NO_IRQ, type IrqLine } from "./irq.js";
import { Ps2Keyboard, type Ps2KeyboardState } from "./ps2-keyboard.js";

/** Status register bits. */
export const KBC_STATUS = { OBF: 0x01, IBF: 0x02, SYS: 0x04, A2: 0x08, UNLOCKED: 0x10, AUXB: 0x20 } as const;
/** Command byte bits. */
export const KBC_CCB = {
  KBD_INT: 0x01,
  AUX_INT: 0x02,
  SYS: 0x04,
  KBD_DISABLE: 0x10,
  AUX_DISABLE: 0x20,
  XLAT: 0x40,
};
/** Output port bits. */
export const KBC_OUTPUT = { RESET: 0x01, A20: 0x02, KBD_OBF: 0x10, AUX_OBF: 0x20 } as const;

/** Commands that take a data byte on port 60h. */
const DATA_COMMANDS = new Set([0xd1, 0xd2, 0xd3, 0xd4]);

/** Saved state of the i8042. */
export interface I8042State {
  version: 1;
  ram: number[];
  status: number;
  outputPort: number;
  /** The command awaiting its data byte, 0 if none. */
  pendingCommand: number;
  /** The controller's output buffer: [byte, fromAux] or null. */
  outputBuffer: [number, boolean] | null;
  /** Controller replies waiting for the output buffer: [byte, fromAux]. */
  replies: [number, boolean][];
  lastByte: number;
  keyboard: Ps2KeyboardState;
}

/** Callbacks and lines of the i8042. */
export interface I8042Options {
  irq1?: IrqLine;
  irq12?: IrqLine;
  /** Output port bit 0 went low: CPU reset. */
  onReset?: () => void;
  /** Output port bit 1 changed. */
  onA20?: (enabled: boolean) => void;
}

/** The 8042 keyboard controller with its keyboard. */
export class I8042 {
  /** The keyboard behind the controller. */
  readonly keyboard = new Ps2Keyboard();
  private ram = new Array<number>(32).fill(0);
  private status = 0;
  private outputPort = 0;
  private pendingCommand = 0;
  private outputBuffer: [number, boolean] | null = null;
  private replies: [number, boolean][] = [];
  /** The last byte read from port 60h (read again when the buffer is empty). */
  private lastByte = 0;
  private irq1Level = false;
  private irq12Level = false;
  private readonly irq1: IrqLine;
  private readonly irq12: IrqLine;
  private readonly onReset: () => void;
  private readonly onA20: (enabled: boolean) => void;

  /** Port 60h. */
  readonly dataPort: PortDevice = {
    read: () => this.readData(),
    write: (_offset, _size, value) => this.writeData(value & 0xff),
  };

  /** Port 64h. */
  readonly commandPort: PortDevice = {
    read: () => this.readStatus(),
    write: (_offset, _size, value) => this.writeCommand(value & 0xff),
  };

  /** Creates the controller in its power-on state. */
  constructor(options: I8042Options = {}) {
    this.irq1 = options.irq1 ?? NO_IRQ;
    this.irq12 = options.irq12 ?? NO_IRQ;
    this.onReset = options.onReset ?? (() => {});
    this.onA20 = options.onA20 ?? (() => {});
    this.powerOn();
  }

  /** The command byte (controller RAM byte 0). */
  get commandByte(): number {
    return this.ram[0];
  }

  /** True when the output port's A20 bit is set. */
  get a20Enabled(): boolean {
    return (this.outputPort & KBC_OUTPUT.A20) !== 0;
  }

  /** Test input: the keyboard sends `byte` (see Ps2Keyboard.pushScancode). */
  pushScancode(byte: number): void {
    this.keyboard.pushScancode(byte);
    this.refill();
  }

  /** Status register read (port 64h). */
  readStatus(): number {
    let v = this.status & (KBC_STATUS.SYS | KBC_STATUS.A2);
    v |= KBC_STATUS.UNLOCKED;
    if (this.outputBuffer) v |= KBC_STATUS.OBF | (this.outputBuffer[1] ? KBC_STATUS.AUXB : 0);
    return v;
  }

  /** Data read (port 60h): takes the output buffer (the last byte again if empty). */
  readData(): number {
    if (!this.outputBuffer) return this.lastByte;
    const [byte] = this.outputBuffer;
    this.lastByte = byte;
    this.outputBuffer = null;
    // The IRQ line drops with OBF before the next byte comes in: a new edge for each byte.
    this.updateIrqs();
    this.refill();
    return byte;
  }

  /** Data write (port 60h): the data of a pending command, or a byte for the keyboard. */
  writeData(value: number): void {
    this.status &= ~KBC_STATUS.A2;
    const command = this.pendingCommand;
    this.pendingCommand = 0;
    if (command >= 0x60 && command <= 0x7f) {
      this.ram[command - 0x60] = value;
      if (command === 0x60) this.status = (this.status & ~KBC_STATUS.SYS) | (value & KBC_CCB.SYS);
    } else if (command === 0xd1) {
      this.writeOutputPort(value);
    } else if (command === 0xd2 || command === 0xd3) {
      this.reply(value, command === 0xd3);
    } else if (command === 0xd4) {
      // No aux device: the byte is lost.
    } else {
      this.ram[0] &= ~KBC_CCB.KBD_DISABLE; // writing to the keyboard enables its interface
      this.keyboard.receive(value, (this.ram[0] & KBC_CCB.XLAT) !== 0);
    }
    this.refill();
  }

  /** Command write (port 64h). */
  writeCommand(command: number): void {
    this.status |= KBC_STATUS.A2;
    this.pendingCommand = 0;
    if (command >= 0x20 && command <= 0x3f) this.reply(this.ram[command - 0x20]);
    else if ((command >= 0x60 && command <= 0x7f) || DATA_COMMANDS.has(command))
      this.pendingCommand = command;
    else if (command >= 0xf0) {
      if (!(command & 1)) this.onReset(); // bit 0 pulsed low: system reset
    } else {
      switch (command) {
        case 0xa7:
          this.ram[0] |= KBC_CCB.AUX_DISABLE;
          break;
        case 0xa8:
          this.ram[0] &= ~KBC_CCB.AUX_DISABLE;
          break;
        case 0xa9:
        case 0xab:
          this.reply(0x00);
          break;
        case 0xaa:
          this.status |= KBC_STATUS.SYS;
          this.reply(0x55);
          break;
        case 0xad:
          this.ram[0] |= KBC_CCB.KBD_DISABLE;
          break;
        case 0xae:
          this.ram[0] &= ~KBC_CCB.KBD_DISABLE;
          break;
        case 0xc0:
          this.reply(0x80); // input port: keyboard not inhibited
          break;
        case 0xd0:
          this.reply(this.readOutputPort());
          break;
        case 0xe0:
          this.reply(0x00);
          break;
        default:
          break; // unknown commands are ignored
      }
    }
    this.refill();
  }

  /** Power-on state. */
  reset(): void {
    this.powerOn();
    this.updateIrqs();
  }

  /** The state as a plain versioned object. */
  save(): I8042State {
    return {
      version: 1,
      ram: [...this.ram],
      status: this.status,
      outputPort: this.outputPort,
      pendingCommand: this.pendingCommand,
      outputBuffer: this.outputBuffer ? [this.outputBuffer[0], this.outputBuffer[1]] : null,
      replies: this.replies.map(([b, aux]) => [b, aux]),
      lastByte: this.lastByte,
      keyboard: this.keyboard.save(),
    };
  }

  /** Restores a state from save(); throws DeviceStateError (device unchanged) on bad input. */
  load(state: unknown): void {
    const r = new StateReader("i8042", state, 1);
    const ram = r.ints("ram", 0, 0xff, { exact: 32 });
    const status = r.int("status", 0, 0xff);
    const outputPort = r.int("outputPort", 0, 0xff);
    const pendingCommand = r.int("pendingCommand", 0, 0xff);
    if (
      pendingCommand !== 0 &&
      !(pendingCommand >= 0x60 && pendingCommand <= 0x7f) &&
      !DATA_COMMANDS.has(pendingCommand)
    ) {
      throw new DeviceStateError("i8042", "pendingCommand is not a command that takes data");
    }
    const pair = (v: unknown, name: string): [number, boolean] => {
      if (!Array.isArray(v) || v.length !== 2 || typeof v[1] !== "boolean") {
        throw new DeviceStateError("i8042", `${name} must be [byte, boolean]`);
      }
      const b = v[0] as unknown;
      if (typeof b !== "number" || !Number.isInteger(b) || b < 0 || b > 0xff) {
        throw new DeviceStateError("i8042", `${name}[0] must be a byte`);
      }
      return [b, v[1]];
    };
    const rawBuffer = r.raw("outputBuffer");
    const outputBuffer = rawBuffer === null ? null : pair(rawBuffer, "outputBuffer");
    const rawReplies = r.raw("replies");
    if (!Array.isArray(rawReplies) || rawReplies.length > 16)
      throw new DeviceStateError("i8042", "replies must be an array of at most 16");
    const replies = rawReplies.map((v, n) => pair(v, `replies[${n}]`));
    const lastByte = r.int("lastByte", 0, 0xff);
    const applyKeyboard = Ps2Keyboard.check(r.sub("keyboard"));
    this.ram = ram;
    this.status = status;
    this.outputPort = outputPort;
    this.pendingCommand = pendingCommand;
    this.outputBuffer = outputBuffer;
    this.replies = replies;
    this.lastByte = lastByte;
    applyKeyboard(this.keyboard);
    this.updateIrqs();
  }

  private powerOn(): void {
    this.ram.fill(0);
    this.ram[0] = KBC_CCB.KBD_INT | KBC_CCB.AUX_INT;
    this.status = KBC_STATUS.A2;
    this.outputPort = 0xcf;
    this.pendingCommand = 0;
    this.outputBuffer = null;
    this.replies = [];
    this.lastByte = 0;
    this.keyboard.reset();
  }

  private readOutputPort(): number {
    let v = this.outputPort & ~(KBC_OUTPUT.KBD_OBF | KBC_OUTPUT.AUX_OBF);
    if (this.outputBuffer) v |= this.outputBuffer[1] ? KBC_OUTPUT.AUX_OBF : KBC_OUTPUT.KBD_OBF;
    return v;
  }

  private writeOutputPort(value: number): void {
    const before = this.outputPort;
    this.outputPort = value;
    if ((before ^ value) & KBC_OUTPUT.A20) this.onA20((value & KBC_OUTPUT.A20) !== 0);
    if (!(value & KBC_OUTPUT.RESET)) this.onReset();
  }

  /** A controller reply goes to the output buffer ahead of keyboard bytes. */
  private reply(byte: number, fromAux = false): void {
    if (this.replies.length < 16) this.replies.push([byte & 0xff, fromAux]);
  }

  /** Moves the next byte into an empty output buffer and updates IRQ1/IRQ12. */
  private refill(): void {
    if (!this.outputBuffer) {
      const reply = this.replies.shift();
      if (reply) this.outputBuffer = reply;
      else if (!(this.ram[0] & KBC_CCB.KBD_DISABLE) && this.keyboard.hasByte) {
        this.outputBuffer = [this.keyboard.takeByte()!, false];
      }
    }
    this.updateIrqs();
  }

  private updateIrqs(): void {
    const ob = this.outputBuffer;
    const kbd = !!ob && !ob[1] && (this.ram[0] & KBC_CCB.KBD_INT) !== 0;
    const aux = !!ob && ob[1] && (this.ram[0] & KBC_CCB.AUX_INT) !== 0;
    if (kbd !== this.irq1Level) {
      this.irq1Level = kbd;
      this.irq1.set(kbd);
    }
    if (aux !== this.irq12Level) {
      this.irq12Level = aux;
      this.irq12.set(aux);
    }
  }
}
