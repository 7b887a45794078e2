/**
 * System Control Port B / NMI Status and Control at I/O port 61h (PC/AT; Intel ICH datasheet
 * "NMI_SC"): bit 0 TIM_CNT2_EN, the GATE of PIT counter 2 (R/W); bit 1 SPKR_DAT_EN, speaker
 * data enable (R/W); bit 2 PCI SERR# enable and bit 3 IOCHK# NMI enable (R/W, kept); bit 4
 * REF_TOGGLE, the refresh cycle toggle (RO: flips every 15.085 us, the old DRAM refresh
 * period, read from the virtual clock — firmware delay loops count its flips); bit 5 TMR2_OUT_STS,
 * PIT counter 2's OUT (RO); bits 6 and 7, IOCHK# and SERR# NMI sources (RO, always 0 here:
 * no device raises them).
 *
 * Wiring: `bus.register("port61", 0x61, 1, port61)`; needs the PIT (for GATE 2 / OUT 2) and the
 * virtual clock. No IRQ. The speaker itself is not modelled (`speakerEnabled` tells whether it
 * would sound).
 */
import { StateReader } from "./device-state.js";
import type { VirtualClock } from "./irq.js";

/** The port. */
export const PORT61 = 0x61;
/** Refresh toggle period (half cycle) in ns. */
export const REFRESH_TOGGLE_NS = 15_085;

/** The PIT counter 2 side of port 61h. */
export interface Counter2Pins {
  setGate2(level: boolean): void;
  out2(): boolean;
}

/** Saved state of Port61. */
export interface Port61State {
  version: 1;
  value: number;
}

/** System Control Port B. */
export class Port61 {
  private value = 0;

  /** Creates the port, connected to PIT counter 2 and the clock. */
  constructor(
    private readonly pit: Counter2Pins,
    private readonly clock: VirtualClock,
  ) {}

  /** True when bits 0 and 1 are both set (counter 2's square wave reaches the speaker). */
  get speakerEnabled(): boolean {
    return (this.value & 3) === 3;
  }

  /** Port read: bits 0-3 as written, bit 4 refresh toggle, bit 5 OUT2. */
  read(_offset: number, _size: number): number {
    const toggle = Math.floor(this.clock.now() / REFRESH_TOGGLE_NS) & 1;
    return (this.value & 0x0f) | (toggle << 4) | (this.pit.out2() ? 0x20 : 0);
  }

  /** Port write: bits 0-3 (bit 0 drives counter 2's GATE); the status bits are read-only. */
  write(_offset: number, _size: number, value: number): void {
    this.value = value & 0x0f;
    this.pit.setGate2((value & 1) !== 0);
  }

  /** Power-on: 0 (GATE 2 low). */
  reset(): void {
    this.value = 0;
    this.pit.setGate2(false);
  }

  /** The state as a plain versioned object. */
  save(): Port61State {
    return { version: 1, value: this.value };
  }

  /** Restores a state (the PIT's GATE 2 is part of the PIT's own state). */
  load(state: unknown): void {
    this.value = new StateReader("port61", state, 1).int("value", 0, 0x0f);
  }
}
