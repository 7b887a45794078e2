/**
 * The PC's pair of Intel 8259A Programmable Interrupt Controllers (Intel 8259A datasheet,
 * order no. 231468): the master at ports 20h/21h takes IRQ0-7, the slave at A0h/A1h takes
 * IRQ8-15 and drives the master's IR2 (cascade); the PIIX/ICH Edge/Level Control Registers
 * (ELCR) at 4D0h/4D1h pick edge or level sensing per input.
 *
 * Implemented from the datasheet: the initialization sequence ICW1-ICW4 ("Initialization
 * Command Words"), OCW1 (the mask), OCW2 (non-specific/specific EOI, rotate on EOI, rotate in
 * automatic EOI mode, set priority), OCW3 (read IRR/ISR, poll command, special mask mode);
 * fully nested and special fully nested mode; automatic EOI; edge sensing (an IRR bit is set by
 * a low-to-high transition and stays set until acknowledged; ICW1 resets the edge sense so a
 * line held high must go low before it can interrupt again) and level sensing (the IRR bit
 * follows the line). Interrupt acknowledge (INTA): the highest-priority unmasked request
 * whose priority beats everything in service is moved from IRR to ISR and its vector is
 * returned; if the request has gone away by then (a level input dropped), the datasheet's
 * default IR7 is answered — vector base+7 with no ISR bit set ("spurious IRQ7"); a spurious
 * request on the slave answers base+7 of the slave (IRQ15) while the master has set IS2, so
 * the handler must EOI the master only. Buffered mode and the 8080/85 call format (ICW4
 * uPM=0) do not exist on a PC and are ignored; ICW3 is kept but the cascade is fixed as on the
 * PC. ISA IRQ2 does not exist on the PC bus (the slave occupies IR2): `setIrq(2, ..)` is ignored.
 *
 * Wiring: `bus.register("pic-master", 0x20, 2, pic.masterPorts, true)`,
 * `bus.register("pic-slave", 0xa0, 2, pic.slavePorts, true)`,
 * `bus.register("elcr", 0x4d0, 2, pic.elcrPorts, true)`. Devices drive
 * `pic.irqLine(n)` (or `pic.setIrq(n, level)`). `intr` goes to the bootstrap processor's INTR
 * pin (through its local APIC LINT0 in ExtINT mode); when the CPU takes the interrupt it calls
 * `acknowledge()` for the vector. No clock.
 */
import { StateReader } from "./device-state.js";
import { NO_IRQ, type InterruptController, type IrqLine } from "./irq.js";

/** Master command/status port (ICW1, OCW2, OCW3; IRR/ISR/poll reads). */
export const PIC_MASTER_COMMAND = 0x20;
/** Master data port (ICW2-4, OCW1/IMR). */
export const PIC_MASTER_DATA = 0x21;
/** Slave command port. */
export const PIC_SLAVE_COMMAND = 0xa0;
/** Slave data port. */
export const PIC_SLAVE_DATA = 0xa1;
/** ELCR1 (IRQ0-7) and ELCR2 (IRQ8-15). */
export const PIC_ELCR = 0x4d0;
/** The master input the slave is cascaded on. */
export const PIC_CASCADE_IRQ = 2;
/** ELCR bits that can be set (PIIX4/ICH: IRQ0, 1, 2, 8 and 13 are always edge). */
export const ELCR_WRITABLE = [0xf8, 0xde] as const;

/** ICW1 bits (datasheet, "Initialization Command Word 1"). */
const ICW1_IC4 = 0x01;
const ICW1_SNGL = 0x02;
const ICW1_LTIM = 0x08;
const ICW1_SELECT = 0x10;
/** ICW4 bits. */
const ICW4_AEOI = 0x02;
const ICW4_SFNM = 0x10;
/** OCW3 bits. */
const OCW3_SELECT = 0x08;
const OCW3_RIS = 0x01;
const OCW3_RR = 0x02;
const OCW3_P = 0x04;
const OCW3_SMM = 0x20;
const OCW3_ESMM = 0x40;

/** Initialization sequence position: expecting OCWs, ICW2, ICW3 or ICW4. */
const enum InitStep {
  Ready = 0,
  Icw2 = 1,
  Icw3 = 2,
  Icw4 = 3,
}

/** Saved state of one 8259A. */
export interface I8259ChipState {
  irr: number;
  isr: number;
  imr: number;
  lines: number;
  elcr: number;
  vectorBase: number;
  lowestPriority: number;
  initStep: number;
  icw1: number;
  icw3: number;
  icw4: number;
  rotateInAutoEoi: boolean;
  specialMask: boolean;
  readIsr: boolean;
  poll: boolean;
}

/** Saved state of the 8259 pair. */
export interface I8259State {
  version: 1;
  master: I8259ChipState;
  slave: I8259ChipState;
}

/** One 8259A. `cascadeInput` is the input fed by a slave (-1 for the slave itself). */
class I8259Chip {
  irr = 0;
  isr = 0;
  imr = 0;
  /** Current level of each IR input pin. */
  lines = 0;
  elcr = 0;
  vectorBase = 0;
  /** The input with the lowest priority; the one after it has the highest (datasheet "Rotation"). */
  lowestPriority = 7;
  initStep = InitStep.Ready;
  icw1 = 0;
  icw3 = 0;
  icw4 = 0;
  rotateInAutoEoi = false;
  specialMask = false;
  readIsr = false;
  poll = false;

  constructor(
    readonly cascadeInput: number,
    readonly elcrWritable: number,
  ) {}

  reset(): void {
    this.irr = this.isr = this.imr = this.elcr = this.vectorBase = this.icw1 = this.icw3 = this.icw4 = 0;
    this.lines = 0;
    this.lowestPriority = 7;
    this.initStep = InitStep.Ready;
    this.rotateInAutoEoi = this.specialMask = this.readIsr = this.poll = false;
  }

  /** Inputs sensed by level: all with ICW1.LTIM, else those set in ELCR. */
  get levelMask(): number {
    return this.icw1 & ICW1_LTIM ? 0xff : this.elcr;
  }

  /** Priority rank of input `irq`: 0 is highest, 7 lowest. */
  rank(irq: number): number {
    return (irq - this.lowestPriority - 1) & 7;
  }

  /** The highest-priority input set in `mask`, or -1. */
  highest(mask: number): number {
    for (let r = 0; r < 8; r++) {
      const irq = (this.lowestPriority + 1 + r) & 7;
      if (mask & (1 << irq)) return irq;
    }
    return -1;
  }

  /** Drives input pin `irq`. */
  setLine(irq: number, level: boolean): void {
    const bit = 1 << irq;
    const was = (this.lines & bit) !== 0;
    if (level) this.lines |= bit;
    else this.lines &= ~bit;
    if (this.levelMask & bit) {
      // Level sensing: IRR follows the line (datasheet "Level Triggered Mode").
      if (level) this.irr |= bit;
      else this.irr &= ~bit;
    } else if (level && !was) {
      this.irr |= bit; // edge sensing: the rising edge latches the request
    }
  }

  /**
   * The request INT is raised for, or -1: the highest unmasked IRR bit whose priority is above
   * every ISR bit (fully nested mode). Special mask mode ignores ISR bits that are masked;
   * special fully nested mode (ICW4 SFNM, master only) lets a further request on the cascade
   * input through while that input is in service (datasheet "Special Fully Nest Mode").
   */
  pending(): number {
    const irq = this.highest(this.irr & ~this.imr);
    if (irq < 0) return -1;
    const inService = this.highest(this.specialMask ? this.isr & ~this.imr : this.isr);
    if (inService < 0) return irq;
    if (this.rank(inService) < this.rank(irq)) return -1;
    if (inService === irq && !(irq === this.cascadeInput && this.icw4 & ICW4_SFNM)) return -1;
    return irq;
  }

  /** INTA for `irq`: IRR to ISR (or automatic EOI), per the datasheet's INTA sequence. */
  accept(irq: number): void {
    const bit = 1 << irq;
    if (!(this.levelMask & bit)) this.irr &= ~bit;
    if (this.icw4 & ICW4_AEOI) {
      if (this.rotateInAutoEoi) this.lowestPriority = irq;
    } else {
      this.isr |= bit;
    }
  }

  /** ICW1 (A0=0, D4=1): starts initialization (datasheet "Initialization Command Words"). */
  writeIcw1(value: number): void {
    this.icw1 = value;
    this.initStep = InitStep.Icw2;
    this.imr = 0;
    this.isr = 0;
    this.irr = this.levelMask & this.lines; // the edge sense circuit is reset
    this.lowestPriority = 7;
    this.specialMask = false;
    this.readIsr = false;
    this.poll = false;
    this.rotateInAutoEoi = false;
    if (!(value & ICW1_IC4)) this.icw4 = 0;
  }

  writeData(value: number): void {
    switch (this.initStep) {
      case InitStep.Icw2:
        this.vectorBase = value & 0xf8; // T7-T3 in x86 mode
        this.initStep = !(this.icw1 & ICW1_SNGL)
          ? InitStep.Icw3
          : this.icw1 & ICW1_IC4
            ? InitStep.Icw4
            : InitStep.Ready;
        return;
      case InitStep.Icw3:
        this.icw3 = value;
        this.initStep = this.icw1 & ICW1_IC4 ? InitStep.Icw4 : InitStep.Ready;
        return;
      case InitStep.Icw4:
        this.icw4 = value & 0x1f;
        this.initStep = InitStep.Ready;
        return;
      default:
        this.imr = value; // OCW1
    }
  }

  /** OCW2 (datasheet "Operation Command Word 2": R, SL, EOI and L2-L0). */
  writeOcw2(value: number): void {
    const level = value & 7;
    switch (value >> 5) {
      case 0b000:
        this.rotateInAutoEoi = false;
        return;
      case 0b100:
        this.rotateInAutoEoi = true;
        return;
      case 0b001:
      case 0b101: {
        // Non-specific EOI: the highest ISR bit; in special mask mode masked ISR bits are kept.
        const irq = this.highest(this.specialMask ? this.isr & ~this.imr : this.isr);
        if (irq < 0) return;
        this.isr &= ~(1 << irq);
        if (value & 0x80) this.lowestPriority = irq;
        return;
      }
      case 0b011:
        this.isr &= ~(1 << level);
        return;
      case 0b111:
        this.isr &= ~(1 << level);
        this.lowestPriority = level;
        return;
      case 0b110:
        this.lowestPriority = level;
        return;
      default:
        return; // 010: no operation
    }
  }

  /** OCW3 (datasheet "Operation Command Word 3"). */
  writeOcw3(value: number): void {
    if (value & OCW3_P) this.poll = true;
    if (value & OCW3_RR) this.readIsr = (value & OCW3_RIS) !== 0;
    if (value & OCW3_ESMM) this.specialMask = (value & OCW3_SMM) !== 0;
  }

  save(): I8259ChipState {
    return {
      irr: this.irr,
      isr: this.isr,
      imr: this.imr,
      lines: this.lines,
      elcr: this.elcr,
      vectorBase: this.vectorBase,
      lowestPriority: this.lowestPriority,
      initStep: this.initStep,
      icw1: this.icw1,
      icw3: this.icw3,
      icw4: this.icw4,
      rotateInAutoEoi: this.rotateInAutoEoi,
      specialMask: this.specialMask,
      readIsr: this.readIsr,
      poll: this.poll,
    };
  }
}

const CHIP_BYTES = ["irr", "isr", "imr", "lines", "elcr", "vectorBase", "icw1", "icw3", "icw4"] as const;
const CHIP_FLAGS = ["rotateInAutoEoi", "specialMask", "readIsr", "poll"] as const;

/** The master/slave 8259A pair of the PC. */
export class I8259Pair implements InterruptController {
  private readonly master = new I8259Chip(PIC_CASCADE_IRQ, ELCR_WRITABLE[0]);
  private readonly slave = new I8259Chip(-1, ELCR_WRITABLE[1]);
  private readonly intr: IrqLine;
  private intrLevel = false;

  /** Ports 20h-21h. */
  readonly masterPorts = this.chipPorts(this.master);
  /** Ports A0h-A1h. */
  readonly slavePorts = this.chipPorts(this.slave);
  /** Ports 4D0h-4D1h: ELCR1, ELCR2. */
  readonly elcrPorts = {
    read: (offset: number, _size: number): number => (offset & 1 ? this.slave : this.master).elcr,
    write: (offset: number, _size: number, value: number): void => {
      const chip = offset & 1 ? this.slave : this.master;
      chip.elcr = value & chip.elcrWritable;
      chip.irr = (chip.irr & ~chip.levelMask) | (chip.lines & chip.levelMask);
      this.update();
    },
  };

  /** Creates the pair in its power-on state; `intr` is the INT output to the processor. */
  constructor(intr: IrqLine = NO_IRQ) {
    this.intr = intr;
  }

  /** Drives ISA IRQ `irq` (0-15; 2 is the cascade and is ignored). */
  setIrq(irq: number, level: boolean): void {
    if (!Number.isInteger(irq) || irq < 0 || irq > 15) throw new RangeError(`i8259: no IRQ ${irq}`);
    if (irq === PIC_CASCADE_IRQ) return;
    if (irq < 8) this.master.setLine(irq, level);
    else this.slave.setLine(irq - 8, level);
    this.update();
  }

  /** The line driving IRQ `irq`. */
  irqLine(irq: number): IrqLine {
    return { set: (level) => this.setIrq(irq, level) };
  }

  /** True while INT to the processor is asserted. */
  get interruptRequested(): boolean {
    return this.intrLevel;
  }

  /**
   * Interrupt acknowledge (the two INTA cycles): returns the vector and moves the request to
   * in-service. With no request left, answers the spurious vector (IR7 of the chip).
   */
  acknowledge(): number {
    const irq = this.master.pending();
    let vector: number;
    if (irq < 0) {
      vector = this.master.vectorBase + 7;
    } else {
      this.master.accept(irq);
      if (irq === PIC_CASCADE_IRQ) {
        const slaveIrq = this.slave.pending();
        if (slaveIrq < 0) {
          vector = this.slave.vectorBase + 7;
        } else {
          this.slave.accept(slaveIrq);
          vector = this.slave.vectorBase + slaveIrq;
        }
      } else {
        vector = this.master.vectorBase + irq;
      }
    }
    this.update();
    return vector;
  }

  /** Power-on state (both chips cleared, INT low). */
  reset(): void {
    this.master.reset();
    this.slave.reset();
    this.update();
  }

  /** The state as a plain versioned object. */
  save(): I8259State {
    return { version: 1, master: this.master.save(), slave: this.slave.save() };
  }

  /** Restores a state from save(); throws DeviceStateError (device unchanged) on bad input. */
  load(state: unknown): void {
    const r = new StateReader("i8259", state, 1);
    const chips = (["master", "slave"] as const).map((name) => {
      const sub = r.sub(name);
      const out: Record<string, number | boolean> = {};
      for (const key of CHIP_BYTES) out[key] = sub.int(key, 0, 0xff);
      for (const key of CHIP_FLAGS) out[key] = sub.bool(key);
      out.lowestPriority = sub.int("lowestPriority", 0, 7);
      out.initStep = sub.int("initStep", 0, 3);
      return out as unknown as I8259ChipState;
    });
    for (const [chip, saved] of [
      [this.master, chips[0]],
      [this.slave, chips[1]],
    ] as const) {
      Object.assign(chip, saved);
      chip.elcr &= chip.elcrWritable;
    }
    this.update();
  }

  private chipPorts(chip: I8259Chip) {
    return {
      read: (offset: number, _size: number): number => this.readChip(chip, offset & 1),
      write: (offset: number, _size: number, value: number): void =>
        this.writeChip(chip, offset & 1, value & 0xff),
    };
  }

  private readChip(chip: I8259Chip, a0: number): number {
    if (chip.poll) {
      // Poll command: the next read is an INTA; bit 7 = interrupt, bits 2-0 its level.
      chip.poll = false;
      const irq = chip.pending();
      if (irq < 0) return 0;
      chip.accept(irq);
      this.update();
      return 0x80 | irq;
    }
    if (a0) return chip.imr;
    return chip.readIsr ? chip.isr : chip.irr;
  }

  private writeChip(chip: I8259Chip, a0: number, value: number): void {
    if (a0) chip.writeData(value);
    else if (value & ICW1_SELECT) chip.writeIcw1(value);
    else if (value & OCW3_SELECT) chip.writeOcw3(value);
    else chip.writeOcw2(value);
    this.update();
  }

  /** Recomputes the slave's INT into the master's IR2 and the master's INT to the CPU. */
  private update(): void {
    const slaveInt = this.slave.pending() >= 0;
    // IR2 latches the slave's INT like any edge input (so a slave request that vanishes
    // before INTA still gets the master to answer: the slave then gives IRQ15), and a slave
    // INT still high after an INTA requests again.
    const bit = 1 << PIC_CASCADE_IRQ;
    this.master.lines = slaveInt ? this.master.lines | bit : this.master.lines & ~bit;
    if (slaveInt) this.master.irr |= bit;
    const level = this.master.pending() >= 0;
    if (level !== this.intrLevel) {
      this.intrLevel = level;
      this.intr.set(level);
    }
  }
}
