/**
 * A PS/2 (MF2) keyboard as seen through the i8042's keyboard port: just enough of the keyboard
 * command set for firmware and Linux's i8042/atkbd probe (IBM PS/2 Hardware Interface Technical
 * Reference, "Keyboard Commands"): FFh reset (FAh then the self-test result AAh), F2h identify
 * (FAh, ABh, 83h — or ABh, 41h when the controller translates, as QEMU answers), F4h enable and
 * F5h disable scanning, F6h set defaults, EDh set LEDs (+ a data byte), EEh echo, F0h select or
 * query the scan code set (+ a data byte), F3h typematic rate (+ a data byte), FEh resend. Any
 * other byte is answered FEh.
 *
 * The keyboard's answers and key bytes wait in a 16-byte queue until the controller takes them
 * (`takeByte()`). There are no real keys: `pushScancode(byte)` queues a byte as the guest will
 * read it (no set-2-to-set-1 translation is applied to it).
 */
import { DeviceStateError, StateReader } from "./device-state.js";

/** Acknowledge. */
export const KBD_ACK = 0xfa;
/** Self-test passed (Basic Assurance Test). */
export const KBD_BAT_OK = 0xaa;
/** Resend / unknown command. */
export const KBD_RESEND = 0xfe;
const QUEUE_DEPTH = 16;

/** Saved state of the keyboard. */
export interface Ps2KeyboardState {
  queue: number[];
  scanning: boolean;
  leds: number;
  scancodeSet: number;
  /** The command awaiting its data byte (EDh, F0h, F3h) or 0. */
  pendingCommand: number;
}

/** The PS/2 keyboard. */
export class Ps2Keyboard {
  private queue: number[] = [];
  private scanning = true;
  private leds = 0;
  private scancodeSet = 2;
  private pendingCommand = 0;

  /** True when a byte waits for the controller. */
  get hasByte(): boolean {
    return this.queue.length > 0;
  }

  /** LED state from the last EDh command (bit 0 Scroll, 1 Num, 2 Caps Lock). */
  get ledState(): number {
    return this.leds;
  }

  /** True while the keyboard sends key bytes (F4h / FFh enable, F5h disables). */
  get scanningEnabled(): boolean {
    return this.scanning;
  }

  /** The controller takes the next byte. */
  takeByte(): number | undefined {
    return this.queue.shift();
  }

  /** Queues a key byte, if scanning is enabled and there is room. */
  pushScancode(byte: number): void {
    if (this.scanning) this.put(byte & 0xff);
  }

  /** A byte from the host (the controller's port 60h write): a command or its data. */
  receive(byte: number, translated: boolean): void {
    if (this.pendingCommand !== 0) {
      const command = this.pendingCommand;
      this.pendingCommand = 0;
      if (command === 0xed) this.leds = byte & 7;
      if (command === 0xf0) {
        this.put(KBD_ACK);
        if (byte === 0) this.put(translated ? [0, 0x43, 0x41, 0x3f][this.scancodeSet] : this.scancodeSet);
        else if (byte <= 3) this.scancodeSet = byte;
        return;
      }
      this.put(KBD_ACK);
      return;
    }
    switch (byte) {
      case 0xff:
        this.defaults();
        this.queue = [];
        this.put(KBD_ACK);
        this.put(KBD_BAT_OK);
        return;
      case 0xf2:
        this.put(KBD_ACK);
        this.put(0xab);
        this.put(translated ? 0x41 : 0x83);
        return;
      case 0xf4:
        this.scanning = true;
        this.put(KBD_ACK);
        return;
      case 0xf5:
        this.defaults();
        this.scanning = false;
        this.put(KBD_ACK);
        return;
      case 0xf6:
        this.defaults();
        this.put(KBD_ACK);
        return;
      case 0xee:
        this.put(0xee);
        return;
      case 0xed:
      case 0xf0:
      case 0xf3:
        this.pendingCommand = byte;
        this.put(KBD_ACK);
        return;
      case 0xfe:
        this.put(KBD_ACK);
        return;
      default:
        this.put(KBD_RESEND);
    }
  }

  /** Power-on: empty queue, scanning, set 2, LEDs off. */
  reset(): void {
    this.queue = [];
    this.pendingCommand = 0;
    this.defaults();
  }

  save(): Ps2KeyboardState {
    return {
      queue: [...this.queue],
      scanning: this.scanning,
      leds: this.leds,
      scancodeSet: this.scancodeSet,
      pendingCommand: this.pendingCommand,
    };
  }

  /** Validates a saved keyboard (throws DeviceStateError) and returns a function applying it. */
  static check(r: StateReader): (keyboard: Ps2Keyboard) => void {
    const queue = r.ints("queue", 0, 0xff, { max: QUEUE_DEPTH });
    const scanning = r.bool("scanning");
    const leds = r.int("leds", 0, 7);
    const scancodeSet = r.int("scancodeSet", 1, 3);
    const pendingCommand = r.int("pendingCommand", 0, 0xff);
    if (![0, 0xed, 0xf0, 0xf3].includes(pendingCommand)) {
      throw new DeviceStateError(r.device, "keyboard.pendingCommand must be 0, EDh, F0h or F3h");
    }
    return (k) => {
      k.queue = queue;
      k.scanning = scanning;
      k.leds = leds;
      k.scancodeSet = scancodeSet;
      k.pendingCommand = pendingCommand;
    };
  }

  private defaults(): void {
    this.scanning = true;
    this.leds = 0;
    this.scancodeSet = 2;
  }

  private put(byte: number): void {
    if (this.queue.length < QUEUE_DEPTH) this.queue.push(byte);
  }
}
