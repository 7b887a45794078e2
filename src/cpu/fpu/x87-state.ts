/**
 * The x87 FPU register file and environment (SDM Vol.1 8.1: data registers R0-R7, control
 * word, status word with TOP, tag word, last instruction/data pointers and opcode).
 */
import { Float80 } from "./float80.js";

/** x87 state. Registers are physical R0..R7; ST(i) is R[(TOP + i) & 7]. */
export class X87State {
  /** Physical data registers R0..R7. */
  readonly regs: Float80[] = Array.from({ length: 8 }, () => new Float80());
  /** Control word (FCW). */
  fcw = 0x0040;
  /** Status word (FSW) including TOP in bits 13:11. */
  fsw = 0;
  /** Full tag word: 2 bits per physical register (00 valid, 01 zero, 10 special, 11 empty). */
  ftw = 0x5555;
  /** Last x87 opcode (11 bits). */
  fop = 0;
  /** Last instruction pointer (low/high halves) and its CS selector. */
  fipLo = 0;
  fipHi = 0;
  fcs = 0;
  /** Last data pointer (low/high halves) and its DS selector. */
  fdpLo = 0;
  fdpHi = 0;
  fds = 0;

  /** Power-up / RESET values (SDM state table: FCW 0040H, FSW 0, FTW 5555H, registers +0.0). */
  reset(): void {
    for (const r of this.regs) r.set(0, 0, 0, 0);
    this.fcw = 0x0040;
    this.fsw = 0;
    this.ftw = 0x5555;
    this.fop = 0;
    this.fipLo = this.fipHi = this.fcs = 0;
    this.fdpLo = this.fdpHi = this.fds = 0;
  }
}
