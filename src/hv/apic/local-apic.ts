/**
 * One local APIC per vCPU (SDM Vol.3 chapter 10, "Advanced Programmable Interrupt
 * Controller"): plain state plus methods. It owns no timers and no threads; time comes in
 * through `options.now()` (the vCPU's TSC, in cycles), IPIs leave through `options.bus`,
 * and events wait in latches for the vCPU to take at an instruction boundary.
 *
 * API (what the Vcpu and the Vm call):
 *
 * ```ts
 * new LocalApic({ apicId, isBsp, bus, now, timerDivisorBase?, onEoi?, x2apicSupported?,
 *                 tscDeadlineSupported?, maxPhysAddr? })
 * // IA32_APIC_BASE (MSR 1BH); false = the write is illegal and the caller raises #GP(0)
 * getApicBase(): bigint;  setApicBase(value: bigint, hostInitiated: boolean): boolean;
 * mmioBase: number; xapicEnabled; x2apicEnabled; hardwareEnabled; softwareEnabled
 * readMmio(offset, size = 4): number;  writeMmio(offset, size, value): void     // xAPIC page
 * LocalApic.ownsMsr(index): boolean      // 800H-8FFH and IA32_TSC_DEADLINE (6E0H)
 * readMsr(index): bigint | "gp";  writeMsr(index, value: bigint): boolean     // false = #GP
 * acceptInterrupt(vector, trigger): boolean   // fixed delivery from IOAPIC / MSI
 * deliver(mode, vector, trigger): void        // any message routed here (Vm / routeIpi)
 * acceptIpi(ipi): void                        // the same, taking the whole Ipi
 * pendingVector(): number;  hasInterruptRequest(): boolean;  acknowledge(): number // INTA
 * acceptsExtInt(): boolean                    // does the 8259's INTR reach the CPU?
 * extIntPending(): boolean;  acknowledgeExtInt(): void   // LINT0 level / ExtINT messages
 * tpr; cr8; setTprFromCr8(cr8)
 * takeInit(); takeSipi(); takeNmi(); takeSmi(); hasEvents()
 * raiseLint(pin: 0 | 1, level: boolean); raiseLvt("thermal" | "perf" | "cmci")
 * nextTimerDeadline(): number | undefined;  updateTimer(): void
 * reset("power-up" | "reset" | "init");  save(): LocalApicState;  load(state: unknown)
 * ```
 *
 * Choices where the SDM leaves room, all written down here:
 * - Version register 00060014H: version 14H, 7 LVT entries (CMCI, timer, thermal, perf,
 *   LINT0, LINT1, error), no EOI-broadcast suppression.
 * - MMIO: 32-bit accesses at 16-byte aligned offsets. Reads of 1 or 2 bytes within the
 *   first 4 bytes of a register return those bytes; any other access touching bytes 4-15
 *   reads 0, and writes other than 32-bit aligned are ignored (SDM Vol.3 10.4.1 leaves them
 *   undefined). Reserved offsets read 0, ignore writes and log "illegal register address"
 *   (ESR bit 7, SDM Vol.3 10.5.3). MMIO calls are ignored (reads 0) unless in xAPIC mode;
 *   the Vm should send those accesses to memory instead (SDM Vol.3 10.12.1.2).
 * - xAPIC ID is writable in xAPIC mode; INIT keeps it, RESET restores the initial ID.
 * - Clearing IA32_APIC_BASE.EN returns every register except the APIC ID to its reset
 *   value (SDM Vol.3 10.4.3 says state "may be lost"; 10.12.5.1 says it is not preserved).
 *   xAPIC -> x2APIC keeps the other registers (SDM: undefined).
 * - The BSP flag of IA32_APIC_BASE is writable (it is R/W in the MSR).
 * - Software-disabled (SVR bit 8 = 0): LVTs masked and kept masked, fixed and
 *   lowest-priority messages dropped, INIT/SIPI/NMI/SMI accepted (SDM Vol.3 10.4.7.2);
 *   interrupts already in the IRR stay deliverable.
 * - Hardware-disabled (EN = 0): nothing is accepted; LINT0 and LINT1 act as the INTR and NMI
 *   pins of a processor without an APIC (SDM Vol.3 10.4.3).
 * - Fixed IPIs with a vector below 16 are sent (ESR "send illegal vector") and refused by the
 *   receivers (ESR "receive illegal vector"). ICR delivery modes 011B and 111B are dropped.
 * - Lowest priority: the first matching software-enabled APIC with the lowest TPR. pinvm
 *   sends lowest-priority IPIs from the ICR, so ESR bit 4 (Redirectable IPI, for parts that
 *   cannot) is never set.
 * - LINT `level` is the asserted state; the polarity bit is stored but not applied.
 * - reset("init") clears the INIT, NMI, SMI and ExtINT latches and keeps a latched SIPI (an
 *   INIT-SIPI pair that arrived before the vCPU took the INIT); power-up/reset clear all.
 */
import { HvError } from "../errors.js";
import { apicBaseReservedBits, apicModeOf, isLegalApicModeTransition } from "./apic-base.js";
import { logicalX2apicId } from "./destination.js";
import { carriesInterruptVector, decodeIcr } from "./icr.js";
import type { ApicBus, DeliveryMode, Ipi, TriggerMode } from "./ipi.js";
import { arbitrationPriority, beatsPriority, processorPriority } from "./priority.js";
import {
  APIC_BASE,
  APIC_OFFSET,
  APIC_VERSION,
  DELIVERY_MODE_CODE,
  DFR_BITS,
  DIVIDE_CONFIG_WRITABLE,
  ESR_BITS,
  IA32_TSC_DEADLINE,
  ICR_BITS,
  LVT,
  LVT_BITS,
  LVT_ENTRIES,
  LVT_OFFSETS,
  LVT_READ_ONLY,
  LVT_RESET_VALUE,
  LVT_WRITABLE,
  SVR_BITS,
  X2APIC_MSR,
} from "./registers.js";
import { LOCAL_APIC_STATE_VERSION, parseLocalApicState, type LocalApicState } from "./state.js";
import { ApicTimer, timerModeOf, type TimerMode } from "./timer.js";
import {
  clearVector,
  highestVector,
  newVectorRegister,
  setVector,
  testVector,
  type VectorRegister,
} from "./vector-register.js";

export type { ApicBus, DeliveryMode, Ipi, TriggerMode } from "./ipi.js";

/** How a LocalApic is built. */
export interface LocalApicOptions {
  /** Initial APIC ID: the 32-bit x2APIC ID; the xAPIC ID is its low 8 bits. Not FFFFFFFFH. */
  apicId: number;
  /** Whether this is the bootstrap processor (IA32_APIC_BASE bit 8 after reset). */
  isBsp: boolean;
  /** Carries the IPIs this APIC sends. */
  bus: ApicBus;
  /** The vCPU's time-stamp counter, in cycles. */
  now: () => number;
  /** TSC cycles per tick of the APIC timer's input clock, before the DCR divides it. Default 1. */
  timerDivisorBase?: number;
  /** Called on EOI of a level-triggered vector (TMR bit set), so the I/O APIC can be told. */
  onEoi?: (vector: number) => void;
  /** CPUID.01H:ECX.x2APIC[bit 21]. Default true. */
  x2apicSupported?: boolean;
  /** CPUID.01H:ECX.TSC-Deadline[bit 24]. Default true. */
  tscDeadlineSupported?: boolean;
  /** MAXPHYADDR, for the reserved bits of IA32_APIC_BASE. Default 46. */
  maxPhysAddr?: number;
}

/** A reset flavour (see reset()). */
export type ApicResetKind = "power-up" | "reset" | "init";

/** Local interrupt sources with an LVT entry and no pin (raised by the vCPU's model). */
export type LocalInterruptSource = "thermal" | "perf" | "cmci";

const U64_MASK = (1n << 64n) - 1n;
const TIMER_TSC_DEADLINE_BIT = 0x40000;

/** The local APIC of one vCPU; see the module comment for the API and the choices made. */
export class LocalApic {
  /** The initial APIC ID (the x2APIC ID). */
  readonly apicId: number;
  /** Whether this APIC belongs to the bootstrap processor. */
  readonly isBsp: boolean;
  /** Whether x2APIC mode is supported (IA32_APIC_BASE.EXTD writable). */
  readonly x2apicSupported: boolean;
  /** Whether the TSC-deadline timer mode and IA32_TSC_DEADLINE exist. */
  readonly tscDeadlineSupported: boolean;
  /** MAXPHYADDR used for IA32_APIC_BASE reserved bits. */
  readonly maxPhysAddr: number;

  private readonly bus: ApicBus;
  private readonly now: () => number;
  private readonly onEoi: ((vector: number) => void) | undefined;
  private readonly timer: ApicTimer;

  private apicBase = 0n;
  private mode: "disabled" | "xapic" | "x2apic" = "xapic";
  private xapicIdValue = 0;
  private tprValue = 0;
  private ldr = 0;
  private dfr: number = DFR_BITS.RESET_VALUE;
  private svr: number = SVR_BITS.RESET_VALUE;
  private esr = 0;
  private pendingEsr = 0;
  private icrLow = 0;
  private icrHigh = 0;
  private readonly irr: VectorRegister = newVectorRegister();
  private readonly isr: VectorRegister = newVectorRegister();
  private readonly tmr: VectorRegister = newVectorRegister();
  private readonly lvt = new Uint32Array(LVT_ENTRIES.length);
  private initLatched = false;
  private sipiVector = -1;
  private nmiLatched = false;
  private smiLatched = false;
  private extIntMessage = false;
  private readonly lintLevel: [boolean, boolean] = [false, false];

  /** A local APIC in its power-up state. Throws HvError("bad-argument") on bad options. */
  constructor(options: LocalApicOptions) {
    const { apicId } = options;
    if (!Number.isInteger(apicId) || apicId < 0 || apicId >= 0xffffffff) {
      throw new HvError(
        "bad-argument",
        `local APIC: apicId must be an integer in 0..FFFFFFFEH, got ${apicId}`,
      );
    }
    const base = options.timerDivisorBase ?? 1;
    if (!Number.isFinite(base) || base <= 0) {
      throw new HvError("bad-argument", `local APIC: timerDivisorBase must be positive, got ${base}`);
    }
    const maxPhysAddr = options.maxPhysAddr ?? 46;
    if (!Number.isInteger(maxPhysAddr) || maxPhysAddr < 36 || maxPhysAddr > 52) {
      throw new HvError("bad-argument", `local APIC: maxPhysAddr must be 36..52, got ${maxPhysAddr}`);
    }
    this.apicId = apicId;
    this.isBsp = options.isBsp;
    this.bus = options.bus;
    this.now = options.now;
    this.onEoi = options.onEoi;
    this.x2apicSupported = options.x2apicSupported ?? true;
    this.tscDeadlineSupported = options.tscDeadlineSupported ?? true;
    this.maxPhysAddr = maxPhysAddr;
    this.timer = new ApicTimer(base);
    this.reset("power-up");
  }

  /** MSRs served by readMsr/writeMsr: x2APIC 800H-8FFH and IA32_TSC_DEADLINE (6E0H). */
  static ownsMsr(index: number): boolean {
    return index === IA32_TSC_DEADLINE || (index >= X2APIC_MSR.FIRST && index <= X2APIC_MSR.LAST);
  }

  // ---- IA32_APIC_BASE and modes (SDM Vol.3 10.4.4, 10.12.5) ----

  /** IA32_APIC_BASE as RDMSR reads it. */
  getApicBase(): bigint {
    return this.apicBase;
  }

  /**
   * WRMSR to IA32_APIC_BASE. Returns false (the caller raises #GP(0)) for reserved bits, for
   * the invalid state EN=0/EXTD=1, and, unless `hostInitiated`, for the transitions Figure
   * 10-27 forbids (x2APIC -> xAPIC, disabled -> x2APIC). A host write may set any valid mode.
   */
  setApicBase(value: bigint, hostInitiated: boolean): boolean {
    if (value < 0n || value > U64_MASK) return false;
    if ((value & apicBaseReservedBits(this.maxPhysAddr, this.x2apicSupported)) !== 0n) return false;
    const to = apicModeOf(value);
    if (to === "invalid") return false;
    const from = this.mode;
    if (!hostInitiated && !isLegalApicModeTransition(from, to)) return false;
    this.updateTimer();
    this.apicBase = value;
    this.mode = to;
    if (from !== "disabled" && to === "disabled") this.resetRegisters();
    // The legacy xAPIC ID is the low byte of the x2APIC ID in and after x2APIC mode (10.12.5.1).
    if (from !== to && (to === "x2apic" || from === "x2apic")) this.xapicIdValue = this.apicId & 0xff;
    return true;
  }

  /** Physical address of the xAPIC register page (IA32_APIC_BASE bits MAXPHYADDR-1:12). */
  get mmioBase(): number {
    return Number(this.apicBase & ~0xfffn & ((1n << BigInt(this.maxPhysAddr)) - 1n));
  }

  /** IA32_APIC_BASE.EN is set (xAPIC or x2APIC mode). */
  get hardwareEnabled(): boolean {
    return this.mode !== "disabled";
  }

  /** xAPIC mode: EN = 1, EXTD = 0; the MMIO page is live. */
  get xapicEnabled(): boolean {
    return this.mode === "xapic";
  }

  /** x2APIC mode: EN = 1, EXTD = 1; the MSR interface is live. */
  get x2apicEnabled(): boolean {
    return this.mode === "x2apic";
  }

  /** SVR bit 8, the APIC software enable (SDM Vol.3 10.4.3). */
  get softwareEnabled(): boolean {
    return (this.svr & SVR_BITS.APIC_SOFTWARE_ENABLE) !== 0;
  }

  /** The xAPIC ID (APIC ID register bits 31:24 in xAPIC mode). */
  get xapicId(): number {
    return this.xapicIdValue;
  }

  /** The x2APIC ID (MSR 802H): the initial APIC ID, read-only. */
  get x2apicId(): number {
    return this.apicId;
  }

  /** The xAPIC logical destination register (LDR, bits 31:24 significant). */
  get logicalDestination(): number {
    return this.ldr;
  }

  /** The destination format register (DFR). */
  get destinationFormat(): number {
    return this.dfr;
  }

  // ---- priorities (SDM Vol.3 10.8.3) ----

  /** Task-priority register, bits 7:0. */
  get tpr(): number {
    return this.tprValue;
  }

  /** CR8 as MOV from CR8 reads it: TPR[7:4] (SDM Vol.3 10.8.6.1). */
  get cr8(): number {
    return this.tprValue >>> 4;
  }

  /** MOV to CR8: TPR[7:4] = CR8[3:0], TPR[3:0] = 0 (SDM Vol.3 10.8.6.1). */
  setTprFromCr8(cr8: number): void {
    this.tprValue = (cr8 & 0xf) << 4;
  }

  /** Processor-priority register (SDM Vol.3 10.8.3.1). */
  get ppr(): number {
    return processorPriority(this.tprValue, highestVector(this.isr));
  }

  /** Arbitration-priority register (SDM Vol.3 10.6.2.4). */
  get apr(): number {
    return arbitrationPriority(this.tprValue, highestVector(this.isr), highestVector(this.irr));
  }

  // ---- MMIO interface (xAPIC mode, SDM Vol.3 10.4.1, Table 10-1) ----

  /** A read of `size` bytes at `offset` in the APIC page; see the module comment. */
  readMmio(offset: number, size = 4): number {
    if (!this.xapicEnabled) return 0;
    const within = offset & 0xf;
    if ((size !== 1 && size !== 2 && size !== 4) || within + size > 4) return 0;
    const value = this.readXapicRegister(offset & 0xff0) >>> 0;
    if (size === 4) return value;
    return (value >>> (within * 8)) & (size === 1 ? 0xff : 0xffff);
  }

  /** A write of `size` bytes at `offset` in the APIC page; only aligned 32-bit writes act. */
  writeMmio(offset: number, size: number, value: number): void {
    if (!this.xapicEnabled || size !== 4 || (offset & 0xf) !== 0) return;
    this.writeXapicRegister(offset & 0xfff, value >>> 0);
  }

  private readXapicRegister(offset: number): number {
    const lvtSlot = LVT_OFFSETS.indexOf(offset);
    if (lvtSlot >= 0) return this.lvt[lvtSlot];
    if (offset >= APIC_OFFSET.ISR && offset < APIC_OFFSET.ESR) {
      const word = (offset >>> 4) & 7;
      if (offset < APIC_OFFSET.TMR) return this.isr[word];
      if (offset < APIC_OFFSET.IRR) return this.tmr[word];
      return this.irr[word];
    }
    switch (offset) {
      case APIC_OFFSET.ID:
        return (this.xapicIdValue << 24) >>> 0;
      case APIC_OFFSET.VERSION:
        return APIC_VERSION;
      case APIC_OFFSET.TPR:
        return this.tprValue;
      case APIC_OFFSET.APR:
        return this.apr;
      case APIC_OFFSET.PPR:
        return this.ppr;
      case APIC_OFFSET.EOI:
      case APIC_OFFSET.RRD:
        return 0;
      case APIC_OFFSET.LDR:
        return this.ldr;
      case APIC_OFFSET.DFR:
        return this.dfr;
      case APIC_OFFSET.SVR:
        return this.svr;
      case APIC_OFFSET.ESR:
        return this.esr;
      case APIC_OFFSET.ICR_LOW:
        return this.icrLow;
      case APIC_OFFSET.ICR_HIGH:
        return this.icrHigh;
      case APIC_OFFSET.TIMER_INITIAL_COUNT:
        return this.timer.initialCount;
      case APIC_OFFSET.TIMER_CURRENT_COUNT:
        return this.timer.currentCount(this.now(), this.timerMode);
      case APIC_OFFSET.TIMER_DIVIDE_CONFIG:
        return this.timer.divideConfig;
      default:
        this.signalError(ESR_BITS.ILLEGAL_REGISTER_ADDRESS);
        return 0;
    }
  }

  private writeXapicRegister(offset: number, value: number): void {
    const lvtSlot = LVT_OFFSETS.indexOf(offset);
    if (lvtSlot >= 0) {
      this.writeLvt(lvtSlot, value);
      return;
    }
    if (offset >= APIC_OFFSET.ISR && offset < APIC_OFFSET.ESR) return; // read-only
    switch (offset) {
      case APIC_OFFSET.ID:
        this.xapicIdValue = value >>> 24;
        return;
      case APIC_OFFSET.TPR:
        this.tprValue = value & 0xff;
        return;
      case APIC_OFFSET.EOI:
        this.endOfInterrupt();
        return;
      case APIC_OFFSET.LDR:
        this.ldr = (value & 0xff000000) >>> 0;
        return;
      case APIC_OFFSET.DFR:
        this.dfr = ((value & DFR_BITS.MODEL) | DFR_BITS.RESERVED_ONES) >>> 0;
        return;
      case APIC_OFFSET.SVR:
        this.writeSvr(value & SVR_BITS.WRITABLE);
        return;
      case APIC_OFFSET.ESR:
        this.latchEsr();
        return;
      case APIC_OFFSET.ICR_LOW:
        this.icrLow = value & ICR_BITS.WRITABLE_LOW;
        this.sendIcr();
        return;
      case APIC_OFFSET.ICR_HIGH:
        this.icrHigh = (value & ICR_BITS.WRITABLE_HIGH_XAPIC) >>> 0;
        return;
      case APIC_OFFSET.TIMER_INITIAL_COUNT:
        this.writeInitialCount(value);
        return;
      case APIC_OFFSET.TIMER_DIVIDE_CONFIG:
        this.writeDivideConfig(value);
        return;
      case APIC_OFFSET.VERSION:
      case APIC_OFFSET.APR:
      case APIC_OFFSET.PPR:
      case APIC_OFFSET.RRD:
      case APIC_OFFSET.TIMER_CURRENT_COUNT:
        return; // read-only
      default:
        this.signalError(ESR_BITS.ILLEGAL_REGISTER_ADDRESS);
    }
  }

  // ---- MSR interface (x2APIC mode, SDM Vol.3 10.12.1.2 Table 10-6; TSC deadline 10.5.4.1) ----

  /**
   * RDMSR of an APIC MSR, or "gp" for #GP(0): x2APIC MSRs outside x2APIC mode, MSRs Table
   * 10-6 does not list (APR, DFR, RRD, 831H, ...), and the write-only EOI and SELF IPI.
   * IA32_TSC_DEADLINE reads 0 outside TSC-deadline mode.
   */
  readMsr(index: number): bigint | "gp" {
    if (index === IA32_TSC_DEADLINE) {
      if (!this.tscDeadlineSupported) return "gp";
      this.updateTimer();
      return this.timerMode === "tsc-deadline" ? this.timer.tscDeadline : 0n;
    }
    if (!this.x2apicEnabled || index < X2APIC_MSR.FIRST || index > X2APIC_MSR.LAST) return "gp";
    const lvtSlot = LVT_OFFSETS.indexOf((index - X2APIC_MSR.FIRST) << 4);
    if (lvtSlot >= 0) return BigInt(this.lvt[lvtSlot]);
    if (index >= X2APIC_MSR.ISR && index < X2APIC_MSR.ESR) {
      const word = index & 7;
      if (index < X2APIC_MSR.TMR) return BigInt(this.isr[word]);
      if (index < X2APIC_MSR.IRR) return BigInt(this.tmr[word]);
      return BigInt(this.irr[word]);
    }
    switch (index) {
      case X2APIC_MSR.ID:
        return BigInt(this.apicId);
      case X2APIC_MSR.VERSION:
        return BigInt(APIC_VERSION);
      case X2APIC_MSR.TPR:
        return BigInt(this.tprValue);
      case X2APIC_MSR.PPR:
        return BigInt(this.ppr);
      case X2APIC_MSR.LDR:
        return BigInt(logicalX2apicId(this.apicId));
      case X2APIC_MSR.SVR:
        return BigInt(this.svr);
      case X2APIC_MSR.ESR:
        return BigInt(this.esr);
      case X2APIC_MSR.ICR:
        return (BigInt(this.icrHigh) << 32n) | BigInt(this.icrLow);
      case X2APIC_MSR.TIMER_INITIAL_COUNT:
        return BigInt(this.timer.initialCount);
      case X2APIC_MSR.TIMER_CURRENT_COUNT:
        return BigInt(this.timer.currentCount(this.now(), this.timerMode));
      case X2APIC_MSR.TIMER_DIVIDE_CONFIG:
        return BigInt(this.timer.divideConfig);
      default:
        return "gp";
    }
  }

  /**
   * WRMSR of an APIC MSR; false means #GP(0): outside x2APIC mode, read-only or absent
   * registers, bits 63:32 set (except in the ICR), reserved bits set (SDM Vol.3 10.12.1.3),
   * a non-zero write to EOI or ESR. IA32_TSC_DEADLINE writes are ignored outside TSC-deadline
   * mode (SDM Vol.3 10.5.4.1).
   */
  writeMsr(index: number, value: bigint): boolean {
    if (value < 0n || value > U64_MASK) return false;
    if (index === IA32_TSC_DEADLINE) {
      if (!this.tscDeadlineSupported) return false;
      this.updateTimer();
      if (this.timerMode === "tsc-deadline") this.timer.tscDeadline = value;
      return true;
    }
    if (!this.x2apicEnabled || index < X2APIC_MSR.FIRST || index > X2APIC_MSR.LAST) return false;
    if (index === X2APIC_MSR.ICR) {
      // Bit 12 (delivery status) is ignored on WRMSR (SDM Vol.3 10.12.9, Figure 10-28 note).
      const low = Number(value & 0xffffffffn);
      if ((low & ~(ICR_BITS.WRITABLE_LOW | ICR_BITS.DELIVERY_STATUS)) !== 0) return false;
      this.icrLow = low & ICR_BITS.WRITABLE_LOW;
      this.icrHigh = Number(value >> 32n);
      this.sendIcr();
      return true;
    }
    if (value >> 32n !== 0n) return false;
    const v = Number(value);
    const lvtSlot = LVT_OFFSETS.indexOf((index - X2APIC_MSR.FIRST) << 4);
    if (lvtSlot >= 0) {
      if ((v & ~(this.lvtWritable(lvtSlot) | LVT_READ_ONLY)) !== 0) return false;
      if (lvtSlot === LVT.TIMER && timerModeOf(v) === "reserved") return false;
      this.writeLvt(lvtSlot, v);
      return true;
    }
    switch (index) {
      case X2APIC_MSR.TPR:
        if ((v & ~0xff) !== 0) return false;
        this.tprValue = v;
        return true;
      case X2APIC_MSR.EOI:
        if (v !== 0) return false;
        this.endOfInterrupt();
        return true;
      case X2APIC_MSR.SVR:
        if ((v & ~SVR_BITS.WRITABLE) !== 0) return false;
        this.writeSvr(v);
        return true;
      case X2APIC_MSR.ESR:
        if (v !== 0) return false;
        this.latchEsr();
        return true;
      case X2APIC_MSR.TIMER_INITIAL_COUNT:
        this.writeInitialCount(v);
        return true;
      case X2APIC_MSR.TIMER_DIVIDE_CONFIG:
        if ((v & ~DIVIDE_CONFIG_WRITABLE) !== 0) return false;
        this.writeDivideConfig(v);
        return true;
      case X2APIC_MSR.SELF_IPI:
        if ((v & ~0xff) !== 0) return false;
        this.sendSelfIpi(v);
        return true;
      default:
        return false; // read-only (ID, version, PPR, LDR, ISR/TMR/IRR, current count) or absent
    }
  }

  // ---- register writes shared by both interfaces ----

  private lvtWritable(slot: number): number {
    const extra = slot === LVT.TIMER && this.tscDeadlineSupported ? TIMER_TSC_DEADLINE_BIT : 0;
    return LVT_WRITABLE[slot] | extra;
  }

  /**
   * An LVT write (SDM Vol.3 10.5.1): reserved bits dropped, delivery status and remote IRR
   * kept, mask forced while software-disabled (10.4.7.2). A timer mode change to or from
   * TSC-deadline disarms the timer (10.5.4.1); the reserved timer mode 11B (possible only
   * through MMIO) is stored as periodic.
   */
  private writeLvt(slot: number, value: number): void {
    if (slot === LVT.TIMER) this.updateTimer();
    const old = this.lvt[slot];
    let next = (value & this.lvtWritable(slot)) | (old & LVT_READ_ONLY);
    if (!this.softwareEnabled) next |= LVT_BITS.MASK;
    if (slot === LVT.TIMER) {
      if (timerModeOf(next) === "reserved") next &= ~TIMER_TSC_DEADLINE_BIT;
      const wasDeadline = timerModeOf(old) === "tsc-deadline";
      if (wasDeadline !== (timerModeOf(next) === "tsc-deadline")) this.timer.disarm();
    }
    this.lvt[slot] = next >>> 0;
  }

  /** SVR write; clearing the software enable masks every LVT entry (SDM Vol.3 10.4.7.2). */
  private writeSvr(value: number): void {
    this.updateTimer();
    this.svr = value;
    if (!this.softwareEnabled) for (let i = 0; i < this.lvt.length; i++) this.lvt[i] |= LVT_BITS.MASK;
  }

  /** ESR write: the errors logged since the previous write become visible (SDM Vol.3 10.5.3). */
  private latchEsr(): void {
    this.esr = this.pendingEsr;
    this.pendingEsr = 0;
  }

  /** Logs `bits` in the ESR and raises the error interrupt through LVT error (10.5.3). */
  private signalError(bits: number): void {
    this.pendingEsr |= bits;
    const entry = this.lvt[LVT.ERROR];
    if ((entry & LVT_BITS.MASK) !== 0) return;
    const vector = entry & LVT_BITS.VECTOR;
    if (vector < 16) this.pendingEsr |= ESR_BITS.RECEIVE_ILLEGAL_VECTOR;
    else this.setRequest(vector, "edge");
  }

  private writeInitialCount(value: number): void {
    this.updateTimer();
    if (this.timerMode === "tsc-deadline") return; // ignored in TSC-deadline mode (10.5.4.1)
    this.timer.writeInitialCount(this.now(), value);
  }

  private writeDivideConfig(value: number): void {
    this.updateTimer();
    this.timer.writeDivideConfig(this.now(), value, this.timerMode);
  }

  // ---- sending IPIs (SDM Vol.3 10.6) ----

  /** Sends the message in the ICR; the delivery status bit stays 0 (idle). */
  private sendIcr(): void {
    const ipi = decodeIcr(this.icrLow, this.icrHigh, this.x2apicEnabled);
    if (ipi === undefined) return;
    if (carriesInterruptVector(ipi.deliveryMode) && ipi.vector < 16) {
      this.signalError(ESR_BITS.SEND_ILLEGAL_VECTOR);
    }
    this.bus.sendIpi(this, ipi);
  }

  /** SELF IPI (MSR 83FH): a fixed, edge-triggered IPI to this APIC (SDM Vol.3 10.12.11). */
  private sendSelfIpi(vector: number): void {
    if (vector < 16) this.signalError(ESR_BITS.SEND_ILLEGAL_VECTOR);
    this.bus.sendIpi(this, {
      vector,
      deliveryMode: "fixed",
      destinationMode: "physical",
      level: true,
      trigger: "edge",
      shorthand: "self",
      destination: 0,
    });
  }

  // ---- receiving interrupts ----

  /**
   * A message routed to this APIC (routeIpi calls this): fixed and lowest-priority go to
   * acceptInterrupt; NMI, SMI, INIT and SIPI are latched for the vCPU; INIT level de-assert
   * is a no-op on current processors (SDM Vol.3 10.6.1); ExtINT asks the vCPU to fetch the
   * vector from the 8259. A hardware-disabled APIC accepts nothing.
   */
  acceptIpi(ipi: Ipi): void {
    this.deliver(ipi.deliveryMode, ipi.vector, ipi.trigger);
  }

  /** acceptIpi with the message's fields spelled out (what a Vm's router calls). */
  deliver(mode: DeliveryMode, vector: number, trigger: TriggerMode): void {
    if (!this.hardwareEnabled) return;
    switch (mode) {
      case "fixed":
      case "lowest-priority":
        this.acceptInterrupt(vector, trigger);
        return;
      case "nmi":
        this.nmiLatched = true;
        return;
      case "smi":
        this.smiLatched = true;
        return;
      case "init":
        this.initLatched = true;
        return;
      case "sipi":
        this.sipiVector = vector & 0xff;
        return;
      case "extint":
        this.extIntMessage = true;
        return;
      case "init-deassert":
        return;
    }
  }

  /**
   * A fixed interrupt from an I/O APIC, an MSI or an IPI: sets the IRR bit, and the TMR bit
   * for level, clears it for edge (SDM Vol.3 10.8.4). Vectors 0-15 are refused and logged
   * as "receive illegal vector" (10.5.3). Returns false when not accepted (also when the APIC
   * is hardware- or software-disabled).
   */
  acceptInterrupt(vector: number, trigger: TriggerMode): boolean {
    if (!Number.isInteger(vector) || vector < 0 || vector > 0xff) {
      throw new HvError("bad-argument", `local APIC: vector must be 0..255, got ${vector}`);
    }
    if (!this.hardwareEnabled || !this.softwareEnabled) return false;
    return this.setRequest(vector, trigger);
  }

  private setRequest(vector: number, trigger: TriggerMode): boolean {
    if (vector < 16) {
      this.signalError(ESR_BITS.RECEIVE_ILLEGAL_VECTOR);
      return false;
    }
    setVector(this.irr, vector);
    if (trigger === "level") setVector(this.tmr, vector);
    else clearVector(this.tmr, vector);
    return true;
  }

  /**
   * The highest IRR vector whose priority class is above PPR[7:4], or -1 (SDM Vol.3
   * 10.8.3.1, 10.8.4). Always -1 when hardware-disabled.
   */
  pendingVector(): number {
    if (!this.hardwareEnabled) return -1;
    const irrv = highestVector(this.irr);
    return beatsPriority(irrv, this.ppr) ? irrv : -1;
  }

  /**
   * INTA: moves the pending vector from IRR to ISR and returns it; with nothing deliverable,
   * returns the spurious vector (SVR[7:0]) and changes nothing (SDM Vol.3 10.9).
   */
  acknowledge(): number {
    const vector = this.pendingVector();
    if (vector < 0) return this.svr & SVR_BITS.VECTOR;
    clearVector(this.irr, vector);
    setVector(this.isr, vector);
    return vector;
  }

  /**
   * EOI (SDM Vol.3 10.8.5): clears the highest ISR bit; for a level-triggered vector (TMR
   * set) calls onEoi and clears the remote IRR of a LINT entry using that vector (10.5.1),
   * re-raising it if the pin is still asserted.
   */
  private endOfInterrupt(): void {
    const vector = highestVector(this.isr);
    if (vector < 0) return;
    clearVector(this.isr, vector);
    if (!testVector(this.tmr, vector)) return;
    this.onEoi?.(vector);
    for (const pin of [0, 1] as const) {
      const slot = LVT.LINT0 + pin;
      const entry = this.lvt[slot];
      if ((entry & LVT_BITS.REMOTE_IRR) === 0 || (entry & LVT_BITS.VECTOR) !== vector) continue;
      this.lvt[slot] = entry & ~LVT_BITS.REMOTE_IRR;
      if (this.lintLevel[pin]) this.deliverLint(pin, false);
    }
  }

  /** pendingVector() >= 0: the APIC asks the CPU for an interrupt (INTR). */
  hasInterruptRequest(): boolean {
    return this.pendingVector() >= 0;
  }

  /**
   * Whether the 8259's INTR output reaches the processor: always when the APIC is
   * hardware-disabled (10.4.3), else when LVT LINT0 is unmasked with delivery mode ExtINT.
   */
  acceptsExtInt(): boolean {
    if (!this.hardwareEnabled) return true;
    const entry = this.lvt[LVT.LINT0];
    return (
      (entry & LVT_BITS.MASK) === 0 && (entry & LVT_BITS.DELIVERY_MODE) >>> 8 === DELIVERY_MODE_CODE.EXTINT
    );
  }

  /** Whether the 8259 has an interrupt for this vCPU: ExtINT via LINT0, a message, or INTR. */
  extIntPending(): boolean {
    if (!this.hardwareEnabled) return this.lintLevel[0];
    return this.extIntMessage || (this.lintLevel[0] && this.acceptsExtInt());
  }

  /** The vCPU did the INTA cycle to the 8259 for an ExtINT message. */
  acknowledgeExtInt(): void {
    this.extIntMessage = false;
  }

  /**
   * A level change on LINT0/LINT1 (SDM Vol.3 10.5.1). `level` is the asserted state. Edge
   * entries fire on assertion; a level-triggered fixed entry sets remote IRR until EOI;
   * NMI, SMI and INIT are edge events; ExtINT is read through extIntPending().
   */
  raiseLint(pin: 0 | 1, level: boolean): void {
    const rising = level && !this.lintLevel[pin];
    this.lintLevel[pin] = level;
    if (!this.hardwareEnabled) {
      if (pin === 1 && rising) this.nmiLatched = true; // LINT1 is the NMI pin (10.4.3)
      return;
    }
    if (level) this.deliverLint(pin, rising);
  }

  private deliverLint(pin: 0 | 1, rising: boolean): void {
    const slot = LVT.LINT0 + pin;
    const entry = this.lvt[slot];
    if ((entry & LVT_BITS.MASK) !== 0) return;
    const mode = (entry & LVT_BITS.DELIVERY_MODE) >>> 8;
    if (mode === DELIVERY_MODE_CODE.FIXED && (entry & LVT_BITS.TRIGGER_LEVEL) !== 0) {
      if ((entry & LVT_BITS.REMOTE_IRR) !== 0) return;
      if (this.setRequest(entry & LVT_BITS.VECTOR, "level")) this.lvt[slot] = entry | LVT_BITS.REMOTE_IRR;
      return;
    }
    if (rising) this.deliverLocal(entry);
  }

  /**
   * An event of a pinless LVT source. A performance-monitoring interrupt sets the LVT perf
   * mask bit when delivered (SDM Vol.3 "Performance Monitoring", PMI), so the handler must
   * unmask it.
   */
  raiseLvt(source: LocalInterruptSource): void {
    const slot = source === "thermal" ? LVT.THERMAL : source === "perf" ? LVT.PERF : LVT.CMCI;
    if (!this.hardwareEnabled) return;
    const entry = this.lvt[slot];
    if ((entry & LVT_BITS.MASK) !== 0) return;
    this.deliverLocal(entry);
    if (slot === LVT.PERF) this.lvt[slot] = entry | LVT_BITS.MASK;
  }

  /** Delivers an unmasked LVT entry's edge event by its delivery mode (SDM Vol.3 10.5.1). */
  private deliverLocal(entry: number): void {
    switch ((entry & LVT_BITS.DELIVERY_MODE) >>> 8) {
      case DELIVERY_MODE_CODE.FIXED:
        this.setRequest(entry & LVT_BITS.VECTOR, "edge");
        return;
      case DELIVERY_MODE_CODE.SMI:
        this.smiLatched = true;
        return;
      case DELIVERY_MODE_CODE.NMI:
        this.nmiLatched = true;
        return;
      case DELIVERY_MODE_CODE.INIT:
        this.initLatched = true;
        return;
      default:
        return; // ExtINT is level-sensitive (extIntPending); other codes are reserved
    }
  }

  // ---- latched events ----

  /** Takes a latched INIT. */
  takeInit(): boolean {
    const taken = this.initLatched;
    this.initLatched = false;
    return taken;
  }

  /** Takes a latched start-up IPI: its vector, or -1. */
  takeSipi(): number {
    const vector = this.sipiVector;
    this.sipiVector = -1;
    return vector;
  }

  /** Takes a latched NMI. */
  takeNmi(): boolean {
    const taken = this.nmiLatched;
    this.nmiLatched = false;
    return taken;
  }

  /** Takes a latched SMI. */
  takeSmi(): boolean {
    const taken = this.smiLatched;
    this.smiLatched = false;
    return taken;
  }

  /** Whether INIT, SIPI, NMI or SMI is latched (maskable interrupts: pendingVector()). */
  hasEvents(): boolean {
    return this.initLatched || this.sipiVector >= 0 || this.nmiLatched || this.smiLatched;
  }

  // ---- timer (SDM Vol.3 10.5.4) ----

  private get timerMode(): TimerMode {
    return timerModeOf(this.lvt[LVT.TIMER]);
  }

  /**
   * The TSC value at which the timer next fires, or undefined when it is disarmed or its
   * LVT entry is masked (a masked timer keeps counting but wakes nobody).
   */
  nextTimerDeadline(): number | undefined {
    if ((this.lvt[LVT.TIMER] & LVT_BITS.MASK) !== 0) return undefined;
    return this.timer.deadline(this.timerMode);
  }

  /**
   * Handles a timer expiry at or before now(): sets the IRR bit of the LVT timer vector unless
   * masked, re-arms a periodic count, disarms one-shot and TSC-deadline (10.5.4, 10.5.4.1).
   */
  updateTimer(): void {
    const entry = this.lvt[LVT.TIMER];
    if (!this.timer.expire(this.now(), timerModeOf(entry))) return;
    if ((entry & LVT_BITS.MASK) === 0) this.setRequest(entry & LVT_BITS.VECTOR, "edge");
  }

  // ---- reset, save, load ----

  /**
   * Power-up or RESET: IA32_APIC_BASE = FEE00000H | EN | BSP, APIC ID = initial ID, every
   * register at its reset value (SDM Vol.3 10.4.7.1; 10.12.5.1). INIT: the same registers
   * reset, but the APIC ID and IA32_APIC_BASE are kept, so x2APIC stays x2APIC and a
   * disabled APIC stays disabled (SDM Vol.3 10.4.7.3, 10.12.5.1).
   */
  reset(kind: ApicResetKind): void {
    if (kind !== "power-up" && kind !== "reset" && kind !== "init") {
      throw new HvError("bad-argument", `local APIC: unknown reset kind ${String(kind)}`);
    }
    if (kind === "init") {
      this.initLatched = false;
    } else {
      this.apicBase = APIC_BASE.DEFAULT_ADDRESS | APIC_BASE.EN | (this.isBsp ? APIC_BASE.BSP : 0n);
      this.mode = "xapic";
      this.xapicIdValue = this.apicId & 0xff;
      this.initLatched = false;
      this.sipiVector = -1;
    }
    this.nmiLatched = false;
    this.smiLatched = false;
    this.extIntMessage = false;
    this.resetRegisters();
  }

  /** Every register except the APIC ID to its reset value (SDM Vol.3 10.4.7.1). */
  private resetRegisters(): void {
    this.tprValue = 0;
    this.ldr = 0;
    this.dfr = DFR_BITS.RESET_VALUE;
    this.svr = SVR_BITS.RESET_VALUE;
    this.esr = 0;
    this.pendingEsr = 0;
    this.icrLow = 0;
    this.icrHigh = 0;
    this.irr.fill(0);
    this.isr.fill(0);
    this.tmr.fill(0);
    this.lvt.fill(LVT_RESET_VALUE);
    this.timer.reset();
  }

  /** The whole APIC state as a versioned plain object. */
  save(): LocalApicState {
    const t = this.timer;
    return {
      version: LOCAL_APIC_STATE_VERSION,
      apicId: this.apicId,
      apicBase: this.apicBase,
      xapicId: this.xapicIdValue,
      tpr: this.tprValue,
      ldr: this.ldr,
      dfr: this.dfr,
      svr: this.svr,
      esr: this.esr,
      pendingEsr: this.pendingEsr,
      icrLow: this.icrLow,
      icrHigh: this.icrHigh,
      irr: Array.from(this.irr),
      isr: Array.from(this.isr),
      tmr: Array.from(this.tmr),
      lvt: Array.from(this.lvt),
      timer: {
        divideConfig: t.divideConfig,
        initialCount: t.initialCount,
        running: t.running,
        startTime: t.startTime,
        countStart: t.countStart,
        tscDeadline: t.tscDeadline,
      },
      events: {
        init: this.initLatched,
        sipi: this.sipiVector,
        nmi: this.nmiLatched,
        smi: this.smiLatched,
        extInt: this.extIntMessage,
      },
      lint: [this.lintLevel[0], this.lintLevel[1]],
    };
  }

  /**
   * Restores a state from save(). Everything is checked first; on bad input it throws
   * HvError("bad-state") naming the field and leaves the APIC unchanged.
   */
  load(input: unknown): void {
    const s = parseLocalApicState(input, this);
    this.apicBase = s.apicBase;
    this.mode = apicModeOf(s.apicBase) as "disabled" | "xapic" | "x2apic";
    this.xapicIdValue = s.xapicId;
    this.tprValue = s.tpr;
    this.ldr = s.ldr;
    this.dfr = s.dfr;
    this.svr = s.svr;
    this.esr = s.esr;
    this.pendingEsr = s.pendingEsr;
    this.icrLow = s.icrLow;
    this.icrHigh = s.icrHigh;
    this.irr.set(s.irr);
    this.isr.set(s.isr);
    this.tmr.set(s.tmr);
    this.lvt.set(s.lvt);
    Object.assign(this.timer, s.timer);
    this.initLatched = s.events.init;
    this.sipiVector = s.events.sipi;
    this.nmiLatched = s.events.nmi;
    this.smiLatched = s.events.smi;
    this.extIntMessage = s.events.extInt;
    this.lintLevel[0] = s.lint[0];
    this.lintLevel[1] = s.lint[1];
  }
}
