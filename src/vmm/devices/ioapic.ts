/**
 * The I/O APIC of the PC chipset (Intel 82093AA I/O APIC datasheet for the register model;
 * the ICH/PCH variant for version 20h and its EOI register; SDM Vol.3 "Advanced Programmable
 * Interrupt Controller" for the message fields). Memory-mapped at FEC00000h: IOREGSEL at
 * offset 00h selects a register, IOWIN at 10h reads/writes it, and the EOI register at 40h
 * (version 20h) ends a level-triggered interrupt by vector.
 *
 * Indirect registers: 00h IOAPICID (ID in bits 27-24), 01h IOAPICVER (read-only 00170020h:
 * maximum redirection entry 17h = 24 entries, version 20h, as the ICH's I/O APIC and QEMU's
 * default report — chosen over the 82093AA's 11h because the EOI register needs 20h), 02h
 * IOAPICARB (arbitration ID in bits 27-24, loaded with the ID when the ID is written, as the
 * 82093AA datasheet says), 10h-3Fh the 24 redirection entries (low dword: vector, delivery
 * mode, destination mode, delivery status (RO), polarity, remote IRR (RO), trigger mode, mask;
 * high dword: destination in bits 31-24). Power-on: ID 0, every entry masked.
 *
 * Interrupt inputs carry "asserted" (`setIrq(pin, true)`), as the board's wiring and QEMU's
 * lines do; the polarity bit is stored and read back but does not invert the input. Edge
 * entries deliver on the rising edge of an unmasked pin (a masked edge is discarded, 82093AA
 * "Interrupt Mask"); level entries deliver while the pin is asserted, unmasked and remote IRR
 * is clear, then set remote IRR until the local APIC's EOI (`onEoi(vector)`, the broadcast EOI
 * message, or a write of the vector to the EOI register) clears it — and deliver again at once
 * if the pin is still asserted. Delivery is immediate, so Delivery Status always reads 0.
 * Switching an entry to edge clears its remote IRR (as KVM does: it is meaningless for edge).
 *
 * Messages leave through the injected `deliver(message)`: the hypervisor's local APICs (SDM
 * Vol.3 "Message Signalled Interrupts" / "I/O APIC" delivery to the local APIC bus).
 *
 * Wiring: memory.addMmio(0xfec00000, 0x1000, ioapic.mmioHandler(0xfec00000)); ISA IRQs go to
 * pins 0-15 with IRQ0 on pin 2 (the MADT's interrupt source override, as QEMU), PCI INTx on
 * 16-23; the hypervisor calls `onEoi(vector)` when a local APIC EOIs a level-triggered vector.
 * No clock.
 */
import { DeviceStateError, StateReader } from "./device-state.js";
import type { InterruptController, IrqLine } from "./irq.js";

/** Default guest-physical base. */
export const IOAPIC_BASE = 0xfec00000;
/** Size of the MMIO window. */
export const IOAPIC_SIZE = 0x1000;
/** IOREGSEL offset. */
export const IOAPIC_IOREGSEL = 0x00;
/** IOWIN offset. */
export const IOAPIC_IOWIN = 0x10;
/** EOI register offset (version 20h). */
export const IOAPIC_EOI = 0x40;
/** Number of redirection entries (pins). */
export const IOAPIC_PINS = 24;
/** IOAPICVER value: max redirection entry 17h, version 20h. */
export const IOAPIC_VERSION = 0x0017_0020;

/** Indirect register indices. */
export const IOAPIC_REG = { ID: 0x00, VER: 0x01, ARB: 0x02, REDTBL: 0x10 } as const;

/** Redirection-entry delivery modes (bits 10-8; SDM Vol.3 "Delivery Mode"). */
export const DELIVERY_MODE = { FIXED: 0, LOWEST_PRIORITY: 1, SMI: 2, NMI: 4, INIT: 5, EXTINT: 7 } as const;

const RTE_VECTOR = 0xff;
const RTE_DESTINATION_MODE = 1 << 11;
const RTE_DELIVERY_STATUS = 1 << 12;
const RTE_REMOTE_IRR = 1 << 14;
const RTE_LEVEL = 1 << 15;
const RTE_MASK = 1 << 16;
/** Writable low-dword bits: all but delivery status and remote IRR, and nothing above bit 16. */
const RTE_LOW_WRITABLE = 0x1ffff & ~(RTE_DELIVERY_STATUS | RTE_REMOTE_IRR);

/** An interrupt message to the local APICs. */
export interface IoApicMessage {
  vector: number;
  /** DELIVERY_MODE value. */
  deliveryMode: number;
  destinationMode: "physical" | "logical";
  /** APIC ID (physical) or logical destination (bits 63-56 of the entry). */
  destination: number;
  trigger: "edge" | "level";
  /** Assert (always true for an I/O APIC message). */
  level: boolean;
}

/** Saved state of the I/O APIC. */
export interface IoApicState {
  version: 1;
  id: number;
  arbitrationId: number;
  ioregsel: number;
  /** 24 entries as [low dword, high dword]. */
  entries: [number, number][];
  /** Asserted pins, bit n = pin n. */
  lines: number;
}

/** The I/O APIC. */
export class IoApic implements InterruptController {
  private id = 0;
  private arbitrationId = 0;
  private ioregsel = 0;
  private readonly low = new Array<number>(IOAPIC_PINS).fill(RTE_MASK);
  private readonly high = new Array<number>(IOAPIC_PINS).fill(0);
  private lines = 0;
  private readonly deliver: (message: IoApicMessage) => void;

  /** Creates the I/O APIC at power-on; `deliver` takes its interrupt messages. */
  constructor(deliver: (message: IoApicMessage) => void) {
    this.deliver = deliver;
  }

  /** Drives input `pin` (0-23): true = asserted. */
  setIrq(pin: number, level: boolean): void {
    if (!Number.isInteger(pin) || pin < 0 || pin >= IOAPIC_PINS)
      throw new RangeError(`ioapic: no pin ${pin}`);
    const bit = 1 << pin;
    const was = (this.lines & bit) !== 0;
    this.lines = level ? this.lines | bit : this.lines & ~bit;
    if (!level) return;
    if (this.low[pin] & RTE_LEVEL) this.service(pin);
    else if (!was) this.service(pin);
  }

  /** The line driving pin `pin`. */
  irqLine(pin: number): IrqLine {
    return { set: (level) => this.setIrq(pin, level) };
  }

  /** A local APIC ended `vector`: clear remote IRR of level entries with it, re-deliver if due. */
  onEoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const low = this.low[pin];
      if ((low & RTE_VECTOR) !== (vector & 0xff) || !(low & RTE_LEVEL) || !(low & RTE_REMOTE_IRR)) continue;
      this.low[pin] = low & ~RTE_REMOTE_IRR;
      if (this.lines & (1 << pin)) this.service(pin);
    }
  }

  /** MMIO read at `offset` from the base: IOREGSEL, IOWIN; other offsets read 0. */
  readMmio(offset: number, size: number): number {
    const dword = offset & ~3;
    let v = 0;
    if (dword === IOAPIC_IOREGSEL) v = this.ioregsel;
    else if (dword === IOAPIC_IOWIN) v = this.readRegister(this.ioregsel);
    const shift = 8 * (offset & 3);
    const mask = size >= 4 ? 0xffff_ffff : (1 << (8 * size)) - 1;
    return ((v >>> shift) & mask) >>> 0;
  }

  /** MMIO write at `offset`: IOREGSEL (low byte), IOWIN (32-bit), EOI (the vector). */
  writeMmio(offset: number, size: number, value: number): void {
    if (offset === IOAPIC_IOREGSEL) this.ioregsel = value & 0xff;
    else if (offset === IOAPIC_IOWIN && size === 4) this.writeRegister(this.ioregsel, value >>> 0);
    else if (offset === IOAPIC_EOI) this.onEoi(value & 0xff);
  }

  /** An MmioHandler (absolute addresses) for the window at `base`. */
  mmioHandler(base = IOAPIC_BASE): {
    read(addr: number, size: number): number;
    write(addr: number, size: number, value: number): void;
  } {
    return {
      read: (addr, size) => this.readMmio(addr - base, size),
      write: (addr, size, value) => this.writeMmio(addr - base, size, value),
    };
  }

  /** Reads indirect register `index`. */
  readRegister(index: number): number {
    if (index === IOAPIC_REG.ID) return (this.id << 24) >>> 0;
    if (index === IOAPIC_REG.VER) return IOAPIC_VERSION;
    if (index === IOAPIC_REG.ARB) return (this.arbitrationId << 24) >>> 0;
    const pin = (index - IOAPIC_REG.REDTBL) >> 1;
    if (pin < 0 || pin >= IOAPIC_PINS) return 0;
    return (index & 1 ? this.high[pin] : this.low[pin]) >>> 0;
  }

  /** Writes indirect register `index`. */
  writeRegister(index: number, value: number): void {
    if (index === IOAPIC_REG.ID) {
      this.id = (value >>> 24) & 0x0f;
      this.arbitrationId = this.id;
      return;
    }
    const pin = (index - IOAPIC_REG.REDTBL) >> 1;
    if (index < IOAPIC_REG.REDTBL || pin >= IOAPIC_PINS) return; // VER, ARB: read-only
    if (index & 1) {
      this.high[pin] = value & 0xff00_0000;
      return;
    }
    let low = (this.low[pin] & RTE_REMOTE_IRR) | (value & RTE_LOW_WRITABLE);
    if (!(low & RTE_LEVEL)) low &= ~RTE_REMOTE_IRR;
    this.low[pin] = low;
    // A level entry whose pin is asserted delivers once it is unmasked with remote IRR clear.
    if (low & RTE_LEVEL && this.lines & (1 << pin)) this.service(pin);
  }

  /** Power-on state: ID 0, all entries masked and zero, IOREGSEL 0. Pin levels are kept. */
  reset(): void {
    this.id = this.arbitrationId = this.ioregsel = 0;
    this.low.fill(RTE_MASK);
    this.high.fill(0);
  }

  /** The state as a plain versioned object. */
  save(): IoApicState {
    return {
      version: 1,
      id: this.id,
      arbitrationId: this.arbitrationId,
      ioregsel: this.ioregsel,
      entries: this.low.map((low, n) => [low >>> 0, this.high[n] >>> 0]),
      lines: this.lines,
    };
  }

  /** Restores a state from save(); throws DeviceStateError (device unchanged) on bad input. */
  load(state: unknown): void {
    const r = new StateReader("ioapic", state, 1);
    const id = r.int("id", 0, 15);
    const arbitrationId = r.int("arbitrationId", 0, 15);
    const ioregsel = r.int("ioregsel", 0, 0xff);
    const lines = r.int("lines", 0, (1 << IOAPIC_PINS) - 1);
    const raw = r.raw("entries");
    if (!Array.isArray(raw) || raw.length !== IOAPIC_PINS) {
      throw new DeviceStateError("ioapic", `entries must be an array of ${IOAPIC_PINS}`);
    }
    const entries = raw.map((e: unknown, n) => {
      if (!Array.isArray(e) || e.length !== 2)
        throw new DeviceStateError("ioapic", `entries[${n}] must be a pair`);
      const [low, high] = e as unknown[];
      if (
        typeof low !== "number" ||
        !Number.isInteger(low) ||
        low < 0 ||
        low & ~(RTE_LOW_WRITABLE | RTE_REMOTE_IRR)
      ) {
        throw new DeviceStateError("ioapic", `entries[${n}] low dword has reserved bits or is not a number`);
      }
      if (
        typeof high !== "number" ||
        !Number.isInteger(high) ||
        high < 0 ||
        high > 0xffff_ffff ||
        high & 0xffffff
      ) {
        throw new DeviceStateError("ioapic", `entries[${n}] high dword must hold only bits 31-24`);
      }
      return [low, high] as const;
    });
    this.id = id;
    this.arbitrationId = arbitrationId;
    this.ioregsel = ioregsel;
    this.lines = lines;
    entries.forEach(([low, high], n) => {
      this.low[n] = low;
      this.high[n] = high;
    });
  }

  /** Delivers pin `pin`'s interrupt if its entry lets it. */
  private service(pin: number): void {
    const low = this.low[pin];
    if (low & RTE_MASK) return;
    const level = (low & RTE_LEVEL) !== 0;
    if (level) {
      if (low & RTE_REMOTE_IRR) return;
      this.low[pin] = low | RTE_REMOTE_IRR;
    }
    this.deliver({
      vector: low & RTE_VECTOR,
      deliveryMode: (low >> 8) & 7,
      destinationMode: low & RTE_DESTINATION_MODE ? "logical" : "physical",
      destination: this.high[pin] >>> 24,
      trigger: level ? "level" : "edge",
      level: true,
    });
  }
}
