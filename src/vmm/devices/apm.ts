/**
 * The APM control and status ports of PC chipsets (PIIX4/ICH "Advanced Power Management"):
 * a write to the control port 0B2H (APM_CNT) raises an SMI, which is how firmware and
 * guests enter SMM on purpose; 0B3H (APM_STS) is a scratch byte for passing a value to
 * the SMI handler. Both read back what was written (Intel ICH9 datasheet, 13.7.1-13.7.2
 * "APM_CNT", "APM_STS"). Real chipsets raise the SMI only when APMC_EN is set in the SMI
 * control register; pinvm has no SMI control register and always raises it (what QEMU's
 * q35 does once its firmware has set APMC_EN). Where the SMI goes is the VMM's choice.
 *
 * Wiring: `bus.register("apm", 0xb2, 2, apm, true)`; `onSmi(value)` raises the SMI.
 */
import { StateReader } from "./device-state.js";

/** APM_CNT, the control port. */
export const APM_CONTROL_PORT = 0xb2;

/** Saved state of the APM ports. */
export interface ApmState {
  version: 1;
  control: number;
  status: number;
}

/** The APM control/status port pair. */
export class Apm {
  private control = 0;
  private status = 0;
  private readonly onSmi: (value: number) => void;

  /** `onSmi` is called with the byte written to the control port. */
  constructor(onSmi: (value: number) => void) {
    this.onSmi = onSmi;
  }

  /** IN from 0B2H (offset 0) or 0B3H (offset 1). */
  read(offset: number, _size: number): number {
    return offset === 0 ? this.control : this.status;
  }

  /** OUT to 0B2H raises the SMI; OUT to 0B3H only stores. */
  write(offset: number, _size: number, value: number): void {
    if (offset === 0) {
      this.control = value & 0xff;
      this.onSmi(this.control);
    } else {
      this.status = value & 0xff;
    }
  }

  /** Power-on state: both registers 0. */
  reset(): void {
    this.control = 0;
    this.status = 0;
  }

  /** Saved state. */
  save(): ApmState {
    return { version: 1, control: this.control, status: this.status };
  }

  /** Restores save(); validates first (DeviceStateError). */
  load(state: unknown): void {
    const r = new StateReader("apm", state, 1);
    const control = r.int("control", 0, 0xff);
    const status = r.int("status", 0, 0xff);
    this.control = control;
    this.status = status;
  }
}
