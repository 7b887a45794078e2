/**
 * The Bochs/QEMU debug console at port 0xE9 ("port E9 hack", QEMU's isa-debugcon): every
 * byte written is printed by the host; a read returns 0xE9, by which a guest detects that
 * the console is there. No state beyond its configuration.
 */

/** The conventional port. */
export const PORT_E9 = 0xe9;

/** Version of PortE9State. */
export const PORT_E9_STATE_VERSION = 1;

/** Saved state (nothing but the version: the console keeps no state). */
export interface PortE9State {
  version: number;
}

/** The debug console. */
export class PortE9 {
  private readonly onByte: (byte: number) => void;

  /** Creates the console; `onByte` receives each byte written. */
  constructor(onByte: (byte: number) => void) {
    this.onByte = onByte;
  }

  /** Port read: the readback value 0xE9. */
  read(_offset: number, _size: number): number {
    return PORT_E9;
  }

  /** Port write: print the low byte. */
  write(_offset: number, _size: number, value: number): void {
    this.onByte(value & 0xff);
  }

  /** The device state as a plain versioned object. */
  saveState(): PortE9State {
    return { version: PORT_E9_STATE_VERSION };
  }

  /** Restores a state from saveState(). */
  loadState(state: PortE9State): void {
    if (state?.version !== PORT_E9_STATE_VERSION) {
      throw new Error(`port-e9: state version ${String(state?.version)} is not ${PORT_E9_STATE_VERSION}`);
    }
  }
}
