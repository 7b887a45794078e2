/**
 * The processor: register file, lazy flags, segment-relative and linear memory access,
 * and the execution loop over cached decoded blocks. Instruction semantics live in ops/,
 * paging in mmu.ts, exception delivery in interrupts.ts, segment loading in segmentation.ts.
 *
 * Representation (decided for speed, see ../../shared/design/architecture.md):
 * - a 64-bit GPR is two Int32 halves (lo[n], hi[n]);
 * - RIP and 64-bit linear addresses are JS numbers holding the *signed* canonical value
 *   (exact, since canonical addresses lie in [-2^47, 2^47));
 * - arithmetic flags are computed lazily from the last flag-setting operation.
 */
import { CR0, EFER } from "../x86/cr.js";
import { FLAGS } from "../x86/eflags.js";
import { SEG, ATTR } from "../x86/segment.js";
import { PhysicalMemory } from "./memory.js";
import { CpuFault } from "./fault.js";
import { type CpuHooks, defaultHooks, InstructionExit } from "./hooks.js";
import type { Instr } from "./instr.js";
import { LazyOp, computeFlags } from "./flags.js";
import { translateSlow, TLB_SIZE, PERM } from "./mmu.js";
import { decodeBlock, type Block } from "./decoder.js";
import { compileBlock } from "./jit/compile.js";
import { deliverEvent, checkInterrupts } from "./interrupts.js";
import { enterSmm } from "./smm.js";
import { X87State } from "./fpu/x87-state.js";
import { SseState } from "./sse/sse-state.js";

const TWO32 = 4294967296;
/** Lowest canonical linear address with 48-bit virtual addresses. */
export const CANON_LOW = -0x800000000000;
/** One past the highest canonical linear address. */
export const CANON_HIGH = 0x800000000000;

/**
 * Why run() returned: the instruction budget ran out ("limit"), HLT ("halt"), shutdown
 * ("shutdown"), stopRequested ("stop"), or a hook threw an InstructionExit ("exit": the
 * instruction was abandoned and runs again from its start on the next run(); the exit
 * object is in cpu.lastExit).
 */
export type StopReason = "limit" | "halt" | "shutdown" | "stop" | "exit";

/** Access kinds for the MMU. */
export const enum Access {
  Read = 0,
  Write = 1,
  Exec = 2,
}

/** Segment-check flag bits held per segment register (derived on load). */
export const SF_VALID = 1;
/** Segment is readable. */
export const SF_READ = 2;
/** Segment is writable. */
export const SF_WRITE = 4;
/** Segment is expand-down. */
export const SF_EXPDOWN = 8;

/** The processor. */
export class Cpu {
  /** Default of jitThreshold for new processors. */
  static defaultJitThreshold = 16;
  /** Low halves of RAX..R15. */
  readonly lo = new Int32Array(16);
  /** High halves of RAX..R15. */
  readonly hi = new Int32Array(16);
  /** Instruction pointer (EIP zero-extended in legacy modes, signed canonical RIP in 64-bit mode). */
  rip = 0;
  /** Address of the next instruction while one executes; handlers that branch set it. */
  nextRip = 0;

  /** Materialized RFLAGS (bits in lazyMask are stale and described by the lazy state). */
  eflags = FLAGS.FIXED1;
  /** Which status flags are described by the lazy state. */
  lazyMask = 0;
  /** Lazy-flag operation kind (LazyOp). */
  lfOp = 0;
  /** Operand size of the lazy operation in bytes. */
  lfSize = 4;
  /** First operand (low 32 bits, unsigned, masked to size). */
  lfA = 0;
  /** Second operand. */
  lfB = 0;
  /** Result. */
  lfR = 0;
  /** High halves for 64-bit operations. */
  lfAh = 0;
  /** High half of the second operand. */
  lfBh = 0;
  /** High half of the result. */
  lfRh = 0;
  /** Carry-in of ADC/SBB. */
  lfCin = 0;

  /** Segment selectors (ES CS SS DS FS GS LDTR TR). */
  readonly segSel = new Int32Array(8);
  /** Segment bases (signed canonical numbers for FS/GS in 64-bit mode). */
  readonly segBase = new Float64Array(8);
  /** Segment limits in bytes (already scaled by G). */
  readonly segLimit = new Float64Array(8);
  /** Access rights (see ATTR in x86/segment). */
  readonly segAttr = new Int32Array(8);
  /** Derived check flags (SF_*). */
  readonly segFlags = new Int32Array(8);

  /** GDTR base (linear). */
  gdtrBase = 0;
  /** GDTR limit. */
  gdtrLimit = 0xffff;
  /** IDTR base (linear). */
  idtrBase = 0;
  /** IDTR limit. */
  idtrLimit = 0xffff;

  /** CR0 (32 bits; the upper half is reserved and always 0). */
  cr0 = 0x60000010;
  /** CR2: last page-fault linear address (signed canonical number or 32-bit). */
  cr2 = 0;
  /** CR3 low half. */
  cr3 = 0;
  /** CR3 high half. */
  cr3Hi = 0;
  /** CR4. */
  cr4 = 0;
  /** CR8 / TPR[7:4]. */
  cr8 = 0;
  /** IA32_EFER. */
  efer = 0;
  /** XCR0 low half. */
  xcr0 = 1;
  /** DR0-DR7 low halves. */
  readonly drLo = new Int32Array(8);
  /** DR0-DR7 high halves. */
  readonly drHi = new Int32Array(8);

  /** Current privilege level. */
  cpl = 0;
  /** Default code size in bytes: 2, 4, or 8 (64-bit mode). */
  codeSize = 2;
  /** True in 64-bit mode (EFER.LMA and CS.L). */
  long64 = false;
  /** Stack address size in bytes (SS.B in legacy modes; 8 in 64-bit mode). */
  stackSize = 2;
  /** True when CR0.PE=1. */
  protectedMode = false;
  /** True in virtual-8086 mode. */
  v86 = false;
  /** True when CR0.PG=1. */
  paging = false;

  /** Model-specific registers held by the CPU: keyed by index, value [lo, hi]. */
  readonly msrs = new Map<number, [number, number]>();
  /** IA32_KERNEL_GS_BASE as a signed canonical number. */
  kernelGsBase = 0;
  /** TSC offset: the TSC reads as icount + tscOffset. */
  tscOffset = 0;

  /** x87 FPU state. */
  readonly x87 = new X87State();
  /** SSE state (XMM registers, MXCSR). */
  readonly sse = new SseState();

  /** Instructions retired since creation. */
  icount = 0;
  /** True after HLT until an interrupt. */
  halted = false;
  /** True after a triple fault until reset. */
  shutdownState = false;
  /** Interrupt shadow (after STI or MOV SS/POP SS): blocks interrupts for one instruction. */
  interruptShadow = false;
  /** Set by the hypervisor when an external interrupt is pending (INTR asserted). */
  intrPending = false;
  /**
   * Which CR0 / CR4 bits the hypervisor watches (VMX's CR0/CR4 guest/host masks, SDM Vol.3
   * 24.6.6): a MOV CR0/LMSW/CLTS or MOV CR4 that changes a bit in the mask is offered to
   * hooks.controlWrite; one that changes none is not. -1 (the default) offers every write,
   * even one that changes nothing.
   */
  cr0WriteExitMask = -1;
  /** See cr0WriteExitMask. */
  cr4WriteExitMask = -1;
  /** Execute one instruction at a time without blocks (host single-stepping; slow). */
  singleStep = false;
  /** Set by the hypervisor when an NMI is pending. */
  nmiPending = false;
  /** NMI blocked (between NMI delivery and the next IRET, and in SMM: SDM Vol.3 34.8). */
  nmiBlocked = false;
  /** SMBASE: base of the 64 KiB SMRAM window (SDM Vol.3 34.4; 30000H after RESET). */
  smbase = 0x30000;
  /** True in system-management mode (between SMI entry and RSM). */
  inSmm = false;
  /**
   * Set by the hypervisor when an SMI is pending. It is taken at the next instruction
   * boundary before NMI and INTR, whatever EFLAGS.IF (SDM Vol.3 6.9, Table 6-2), and stays
   * pending while the processor is in SMM (34.5: SMIs are blocked until RSM).
   */
  smiPending = false;
  /** NMI blocking in force when the SMI was taken; RSM puts it back (SDM Vol.3 34.8). */
  nmiBlockedAtSmi = false;
  /** The InstructionExit that made the last run() return "exit" (null otherwise). */
  lastExit: InstructionExit | null = null;
  /** Set by hooks or host code to make run() return at the next instruction boundary. */
  stopRequested = false;
  /** Returns the vector of the highest-priority pending external interrupt and acknowledges it. */
  acknowledgeInterrupt: () => number = () => -1;

  /** Guest physical memory. */
  readonly mem: PhysicalMemory;
  /** Exit hooks installed by the hypervisor. */
  hooks: CpuHooks;

  // ---- software TLB (direct-mapped, tagged by 36-bit virtual page number) ----
  /** TLB tags: virtual page number, or NaN for invalid. */
  readonly tlbTag = new Float64Array(TLB_SIZE).fill(NaN);
  /** TLB physical page base addresses. */
  readonly tlbPhys = new Float64Array(TLB_SIZE);
  /**
   * tlbPhys as an int32 (ToInt32, so pages above 2 GiB come out negative), for compiled code
   * (jit/compile.ts Gen.fastCond), which only uses it for pages of the low RAM block (below
   * 4 GiB) and takes the address back with `>>> 0`: integer arithmetic instead of doubles.
   */
  readonly tlbPhys32 = new Int32Array(TLB_SIZE);
  /** TLB permission bits (PERM.*). */
  readonly tlbPerm = new Int32Array(TLB_SIZE);
  /** TLB entry is global (survives CR3 writes). */
  readonly tlbGlobal = new Uint8Array(TLB_SIZE);
  /**
   * Fast TLB of compiled code (jit/compile.ts Gen.fastCond), beside each TLB entry: the
   * linear address of the page (VPN * 4096) + accessMode when a read of the page in that
   * access mode hits the TLB entry with read permission and the page is plain RAM of the low
   * block (memory.isRamPage), else NaN. So
   * one comparison stands for the tag, permission and RAM checks. Filled by translate() for
   * the access it makes, cleared with the TLB entry, and cleared whole when a page stops
   * being plain RAM (memory.ts addFastPathListener).
   */
  readonly jitReadTag = new Float64Array(TLB_SIZE).fill(NaN);
  /** The same for writes: also write permission, and no decoded code on the page. */
  readonly jitWriteTag = new Float64Array(TLB_SIZE).fill(NaN);
  /** Access mode for permission checks: 0 supervisor, 1 supervisor with AC=1 (SMAP override), 2 user. */
  accessMode = 0;

  // ---- decoded-instruction cache ----
  /** Decoded blocks per physical page: key (offset << 2 | mode). */
  readonly codeCache = new Map<number, Map<number, Block>>();
  /** Set when a write invalidated the block being executed. */
  blockInvalidated = false;
  /**
   * Block-chaining epoch: bumped whenever a cached successor link could become wrong (TLB
   * flush, code invalidation, mode/CPL/CS change). Links made in an older epoch are ignored.
   */
  chainEpoch = 0;
  /** Scratch: the high half produced by the last 64-bit read helper. */
  rhi = 0;
  /**
   * Executions of a cached block after which it is compiled to JavaScript (jit/compile.ts);
   * Infinity keeps every block interpreted.
   */
  jitThreshold = Cpu.defaultJitThreshold;
  /** icount at which the current run() stops (compiled blocks that loop check it). */
  runEnd = 0;
  /**
   * Set by a compiled function that left before instruction `bailIdx` of `bailBlock` because
   * its inline form does not cover the case (jit/compile.ts: e.g. a memory access that is not
   * a TLB hit on plain RAM): run() interprets that instruction and the rest of the block, as
   * the interpreter loop would have, before its next between-block checks.
   */
  bailBlock: Block | null = null;
  /** Index of the instruction to resume at in bailBlock. */
  bailIdx = 0;

  /** Unregisters this processor's code-write listener from `mem`. */
  private readonly detachCodeListener: () => void;
  private readonly detachFastPathListener: () => void;

  /**
   * Create a processor over `mem`; hooks default to a bare machine. Several processors may
   * share one memory: each hears about writes to code any of them decoded (memory.ts).
   */
  constructor(mem: PhysicalMemory, hooks: CpuHooks = defaultHooks()) {
    this.mem = mem;
    this.hooks = hooks;
    this.detachCodeListener = mem.addCodeWriteListener((page, offset, length) =>
      this.codeWritten(page, offset, length),
    );
    this.detachFastPathListener = mem.addFastPathListener(() => {
      this.jitReadTag.fill(NaN);
      this.jitWriteTag.fill(NaN);
    });
    this.segLimit.fill(0xffff);
    this.resetSegmentsRealMode();
  }

  /**
   * Disconnect a processor that will not run again from its memory: drop its decoded blocks
   * and stop listening for code writes (other processors on the memory are unaffected).
   */
  detach(): void {
    this.flushCodeCache();
    this.detachCodeListener();
    this.detachFastPathListener();
  }

  /**
   * The address of the instruction being executed, as an unsigned 64-bit value (RIP; EIP
   * zero-extended outside 64-bit mode). Valid while a hook runs, in the interpreter and in
   * compiled code; between instructions it is the next instruction. A bigint, because a
   * canonical high-half address such as FFFFFFFF81000123H has no exact JS number; the signed
   * canonical number is `rip`.
   */
  get instructionRip(): bigint {
    return BigInt.asUintN(64, BigInt(this.rip));
  }

  private resetSegmentsRealMode(): void {
    for (let s = 0; s < 6; s++) {
      this.segSel[s] = 0;
      this.segBase[s] = 0;
      this.segLimit[s] = 0xffff;
      this.segAttr[s] = ATTR.P | ATTR.S | ATTR.RW | ATTR.A;
    }
    this.segAttr[SEG.CS] |= ATTR.CODE;
    this.segSel[SEG.CS] = 0xf000;
    this.segBase[SEG.CS] = 0xffff0000;
    this.rip = 0xfff0;
    this.segAttr[SEG.LDTR] = ATTR.P | 2;
    this.segAttr[SEG.TR] = ATTR.P | 11;
    this.updateMode();
  }

  // ------------------------------------------------------------------ registers

  /** Read an 8-bit register; without REX, 4-7 are AH, CH, DH, BH. */
  getReg8(r: number, rex: number): number {
    if (rex === 0 && r >= 4 && r < 8) return (this.lo[r - 4] >> 8) & 0xff;
    return this.lo[r] & 0xff;
  }

  /** Write an 8-bit register. */
  setReg8(r: number, rex: number, v: number): void {
    if (rex === 0 && r >= 4 && r < 8) this.lo[r - 4] = (this.lo[r - 4] & ~0xff00) | ((v & 0xff) << 8);
    else this.lo[r] = (this.lo[r] & ~0xff) | (v & 0xff);
  }

  /** Read a register of `size` bytes (1 needs getReg8 for AH..BH); 64-bit leaves the high half in rhi. */
  getReg(r: number, size: number): number {
    if (size === 4) return this.lo[r] >>> 0;
    if (size === 8) {
      this.rhi = this.hi[r] >>> 0;
      return this.lo[r] >>> 0;
    }
    if (size === 2) return this.lo[r] & 0xffff;
    return this.lo[r] & 0xff;
  }

  /** Write a register of `size` bytes: 32-bit writes zero the upper half (SDM Vol.1 3.4.1.1). */
  setReg(r: number, size: number, v: number, vhi = 0): void {
    if (size === 4) {
      this.lo[r] = v;
      this.hi[r] = 0;
    } else if (size === 8) {
      this.lo[r] = v;
      this.hi[r] = vhi;
    } else if (size === 2) {
      this.lo[r] = (this.lo[r] & ~0xffff) | (v & 0xffff);
    } else {
      this.lo[r] = (this.lo[r] & ~0xff) | (v & 0xff);
    }
  }

  /** A 64-bit register as a signed number (exact when |value| < 2^53). */
  reg64(r: number): number {
    return this.hi[r] * TWO32 + (this.lo[r] >>> 0);
  }

  /** Write a signed number (an address) into a 64-bit register. */
  setReg64FromNumber(r: number, v: number): void {
    this.lo[r] = v | 0;
    this.hi[r] = Math.floor(v / TWO32) | 0;
  }

  // ------------------------------------------------------------------ flags

  /** Full RFLAGS (low 32 bits) with lazy flags materialized. */
  getEflags(): number {
    if (this.lazyMask === 0) return this.eflags;
    return ((this.eflags & ~this.lazyMask) | (computeFlags(this) & this.lazyMask)) >>> 0;
  }

  /** Materialize lazy flags into eflags. */
  materializeFlags(): void {
    if (this.lazyMask !== 0) {
      this.eflags = (this.eflags & ~this.lazyMask) | (computeFlags(this) & this.lazyMask);
      this.lazyMask = 0;
    }
  }

  /** Replace RFLAGS (caller has applied the privilege rules); updates derived state. */
  setEflags(v: number): void {
    this.lazyMask = 0;
    const old = this.eflags;
    this.eflags = (v & 0x3f7fd5) | FLAGS.FIXED1;
    if ((old ^ this.eflags) & FLAGS.VM) this.updateMode();
    this.updateAccessMode();
  }

  /** Record a flag-setting operation lazily (sizes 1, 2, 4; values masked to size). */
  setLazy(op: LazyOp, size: number, a: number, b: number, r: number, mask: number): void {
    this.lfOp = op;
    this.lfSize = size;
    this.lfA = a;
    this.lfB = b;
    this.lfR = r;
    this.lazyMask = mask;
  }

  /** Record a 64-bit flag-setting operation lazily. */
  setLazy64(
    op: LazyOp,
    a: number,
    ah: number,
    b: number,
    bh: number,
    r: number,
    rh: number,
    mask: number,
  ): void {
    this.lfOp = op;
    this.lfSize = 8;
    this.lfA = a;
    this.lfAh = ah;
    this.lfB = b;
    this.lfBh = bh;
    this.lfR = r;
    this.lfRh = rh;
    this.lazyMask = mask;
  }

  /** Read CF (0 or 1). */
  getCF(): number {
    if (this.lazyMask & FLAGS.CF) return computeFlags(this) & 1;
    return this.eflags & 1;
  }

  /** Read a single status flag bit (returns 0 or the bit). */
  getFlag(bit: number): number {
    if (this.lazyMask & bit) return computeFlags(this) & bit;
    return this.eflags & bit;
  }

  /** Set or clear status flags eagerly (materializes first). */
  setFlagBits(mask: number, values: number): void {
    this.materializeFlags();
    this.eflags = (this.eflags & ~mask) | (values & mask);
  }

  // ------------------------------------------------------------------ mode

  /** Recompute the derived mode fields after CR0/EFER/CS/EFLAGS.VM changes. */
  updateMode(): void {
    this.chainEpoch++;
    this.protectedMode = (this.cr0 & CR0.PE) !== 0;
    this.paging = (this.cr0 & CR0.PG) !== 0 && this.protectedMode;
    this.v86 = this.protectedMode && (this.eflags & FLAGS.VM) !== 0 && (this.efer & EFER.LMA) === 0;
    const csAttr = this.segAttr[SEG.CS];
    if ((this.efer & EFER.LMA) !== 0 && (csAttr & ATTR.L) !== 0) {
      this.long64 = true;
      this.codeSize = 8;
      this.stackSize = 8;
    } else {
      this.long64 = false;
      this.codeSize = this.protectedMode && !this.v86 && csAttr & ATTR.DB ? 4 : 2;
      this.stackSize = this.protectedMode && !this.v86 && this.segAttr[SEG.SS] & ATTR.DB ? 4 : 2;
    }
    if (!this.protectedMode) this.cpl = 0;
    else if (this.v86) this.cpl = 3;
    for (let s = 0; s < 6; s++) this.updateSegFlags(s);
    this.updateAccessMode();
  }

  /** Recompute the MMU access mode from CPL and EFLAGS.AC. */
  updateAccessMode(): void {
    this.chainEpoch++;
    this.accessMode = this.cpl === 3 ? 2 : (this.eflags & FLAGS.AC) !== 0 ? 1 : 0;
  }

  /** Recompute a segment's derived check flags from its attributes. */
  updateSegFlags(s: number): void {
    const a = this.segAttr[s];
    let f = 0;
    if (!this.protectedMode || this.v86) {
      f = SF_VALID | SF_READ | SF_WRITE;
    } else if (a & ATTR.P && a & ATTR.S) {
      f = SF_VALID;
      if (a & ATTR.CODE) {
        if (a & ATTR.RW) f |= SF_READ;
      } else {
        f |= SF_READ;
        if (a & ATTR.RW) f |= SF_WRITE;
        if (a & ATTR.EC) f |= SF_EXPDOWN;
      }
    }
    this.segFlags[s] = f;
  }

  // ------------------------------------------------------------------ TLB

  /** Invalidate the whole TLB, or only non-global entries. */
  flushTlb(keepGlobal: boolean): void {
    this.chainEpoch++;
    if (!keepGlobal) {
      this.tlbTag.fill(NaN);
      this.jitReadTag.fill(NaN);
      this.jitWriteTag.fill(NaN);
      return;
    }
    for (let n = 0; n < TLB_SIZE; n++) {
      if (this.tlbGlobal[n] === 0) {
        this.tlbTag[n] = NaN;
        this.jitReadTag[n] = NaN;
        this.jitWriteTag[n] = NaN;
      }
    }
  }

  /** Invalidate the TLB entry for one linear address (INVLPG). */
  flushTlbPage(lin: number): void {
    this.chainEpoch++;
    const vpn = Math.floor(lin / 4096);
    const idx = vpn & (TLB_SIZE - 1);
    if (this.tlbTag[idx] === vpn) this.dropTlbEntry(idx);
    // Large pages may cover this address through several 4K entries: flush those too.
    const big = Math.floor(lin / 0x200000);
    for (let n = 0; n < TLB_SIZE; n++) if (Math.floor(this.tlbTag[n] / 512) === big) this.dropTlbEntry(n);
  }

  /** Invalidate TLB entry `idx` (and the compiled code's fast tags beside it). */
  private dropTlbEntry(idx: number): void {
    this.tlbTag[idx] = NaN;
    this.jitReadTag[idx] = NaN;
    this.jitWriteTag[idx] = NaN;
  }

  /**
   * Set the fast tag of TLB entry `idx` (which maps `vpn` and allows an access of `kind` in
   * the current access mode) when the page is plain RAM, and for a write holds no decoded
   * code; else clear it.
   */
  private fastFill(idx: number, vpn: number, kind: Access): void {
    const page = this.tlbPhys[idx] / 4096;
    const mem = this.mem;
    const tag = vpn * 4096 + this.accessMode;
    if (kind === Access.Read) this.jitReadTag[idx] = mem.isRamPage(page) ? tag : NaN;
    else this.jitWriteTag[idx] = mem.isRamPage(page) && mem.codePage[page] === 0 ? tag : NaN;
  }

  /** Translate a linear address for an access of `kind`; raises #PF. */
  translate(lin: number, kind: Access): number {
    if (!this.paging) return lin >>> 0;
    const vpn = Math.floor(lin / 4096);
    const idx = vpn & (TLB_SIZE - 1);
    if (this.tlbTag[idx] === vpn && this.tlbPerm[idx] & PERM[kind * 3 + this.accessMode]) {
      if (
        kind !== Access.Exec &&
        (kind === Access.Read ? this.jitReadTag : this.jitWriteTag)[idx] !== vpn * 4096 + this.accessMode
      )
        this.fastFill(idx, vpn, kind);
      return this.tlbPhys[idx] + (lin & 0xfff);
    }
    const phys = translateSlow(this, lin, kind, this.accessMode);
    if (kind !== Access.Exec) this.fastFill(idx, vpn, kind);
    return phys;
  }

  /** Translate as an implicit supervisor access (descriptor tables, TSS, IDT): SMAP applies regardless of AC. */
  translateImplicit(lin: number, kind: Access): number {
    if (!this.paging) return lin >>> 0;
    return translateSlow(this, lin, kind, 0);
  }

  // ------------------------------------------------------------------ linear memory

  /** Read a byte at a linear address. */
  linRead8(lin: number): number {
    return this.mem.read8(this.translate(lin, Access.Read));
  }

  /** Read 2 bytes at a linear address. */
  linRead16(lin: number): number {
    if ((lin & 0xfff) > 0xffe) return this.linRead8(lin) | (this.linRead8(lin + 1) << 8);
    return this.mem.read16(this.translate(lin, Access.Read));
  }

  /** Read 4 bytes at a linear address (unsigned). */
  linRead32(lin: number): number {
    if ((lin & 0xfff) > 0xffc) {
      const b0 = this.translate(lin, Access.Read);
      const b1 = this.translate(lin + 3, Access.Read);
      let v = 0;
      for (let n = 0; n < 4; n++) {
        const a = lin + n;
        const p = (a & 0xfff) >= (lin & 0xfff) ? b0 + n : b1 - 3 + n;
        v |= this.mem.read8(p) << (n * 8);
      }
      return v >>> 0;
    }
    return this.mem.read32(this.translate(lin, Access.Read));
  }

  /** Read 8 bytes at a linear address: returns the low half, high half in rhi. */
  linRead64(lin: number): number {
    if ((lin & 0xfff) > 0xff8) {
      this.translate(lin + 7, Access.Read);
      const l = this.linRead32(lin);
      this.rhi = this.linRead32(lin + 4);
      return l;
    }
    const p = this.translate(lin, Access.Read);
    this.rhi = this.mem.read32(p + 4);
    return this.mem.read32(p);
  }

  /** Write a byte at a linear address. */
  linWrite8(lin: number, v: number): void {
    this.mem.write8(this.translate(lin, Access.Write), v);
  }

  /** Write 2 bytes at a linear address (both pages are checked before any byte is written). */
  linWrite16(lin: number, v: number): void {
    if ((lin & 0xfff) > 0xffe) {
      const p0 = this.translate(lin, Access.Write);
      const p1 = this.translate(lin + 1, Access.Write);
      this.mem.write8(p0, v);
      this.mem.write8(p1, v >>> 8);
      return;
    }
    this.mem.write16(this.translate(lin, Access.Write), v);
  }

  /** Write 4 bytes at a linear address. */
  linWrite32(lin: number, v: number): void {
    if ((lin & 0xfff) > 0xffc) {
      const p0 = this.translate(lin, Access.Write);
      const p1 = this.translate(lin + 3, Access.Write);
      for (let n = 0; n < 4; n++) {
        const inFirst = ((lin + n) & 0xfff) >= (lin & 0xfff);
        this.mem.write8(inFirst ? p0 + n : p1 - 3 + n, v >>> (n * 8));
      }
      return;
    }
    this.mem.write32(this.translate(lin, Access.Write), v);
  }

  /** Write 8 bytes at a linear address. */
  linWrite64(lin: number, v: number, vhi: number): void {
    if ((lin & 0xfff) > 0xff8) {
      this.translate(lin, Access.Write);
      this.translate(lin + 7, Access.Write);
      this.linWrite32(lin, v);
      this.linWrite32(lin + 4, vhi);
      return;
    }
    const p = this.translate(lin, Access.Write);
    this.mem.write32(p, v);
    this.mem.write32(p + 4, vhi);
  }

  /** Read `size` bytes (1, 2, 4, 8) at a linear address. */
  linRead(lin: number, size: number): number {
    switch (size) {
      case 1:
        return this.linRead8(lin);
      case 2:
        return this.linRead16(lin);
      case 4:
        return this.linRead32(lin);
      default:
        return this.linRead64(lin);
    }
  }

  /** Write `size` bytes (1, 2, 4, 8) at a linear address. */
  linWrite(lin: number, size: number, v: number, vhi = 0): void {
    switch (size) {
      case 1:
        this.linWrite8(lin, v);
        return;
      case 2:
        this.linWrite16(lin, v);
        return;
      case 4:
        this.linWrite32(lin, v);
        return;
      default:
        this.linWrite64(lin, v, vhi);
    }
  }

  // ------------------------------------------------------------------ segmented memory

  /**
   * Turn segment:offset into a linear address for an access of `size` bytes, applying the
   * segment checks of SDM Vol.3 5.3 (limit), 5.4.1 (type) and 3.3.7.1 (canonical in 64-bit
   * mode). Faults are #SS(0) for SS and #GP(0) otherwise.
   */
  linear(seg: number, off: number, size: number, write: boolean): number {
    if (this.long64) {
      const lin = seg >= SEG.FS ? off + this.segBase[seg] : off;
      if (lin < CANON_LOW || lin + size - 1 >= CANON_HIGH) throw new CpuFault(seg === SEG.SS ? 12 : 13, 0);
      return lin;
    }
    const f = this.segFlags[seg];
    if ((f & (write ? SF_WRITE : SF_READ)) === 0) throw new CpuFault(seg === SEG.SS ? 12 : 13, 0);
    const last = off + size - 1;
    if (f & SF_EXPDOWN) {
      const upper = this.segAttr[seg] & ATTR.DB ? 0xffffffff : 0xffff;
      if (off <= this.segLimit[seg] || last > upper) throw new CpuFault(seg === SEG.SS ? 12 : 13, 0);
    } else if (last > this.segLimit[seg]) {
      throw new CpuFault(seg === SEG.SS ? 12 : 13, 0);
    }
    return (this.segBase[seg] + off) >>> 0;
  }

  /** Read `size` bytes at seg:off. */
  read(seg: number, off: number, size: number): number {
    return this.linRead(this.linear(seg, off, size, false), size);
  }

  /** Write `size` bytes at seg:off. */
  write(seg: number, off: number, size: number, v: number, vhi = 0): void {
    this.linWrite(this.linear(seg, off, size, true), size, v, vhi);
  }

  // ------------------------------------------------------------------ operands

  /** Effective address of the ModRM memory operand (SDM Vol.2 2.1.5, Tables 2-1..2-3). */
  ea(i: Instr): number {
    const lo = this.lo;
    if (i.asize === 8) {
      if (i.ripRel) return this.rip + i.len + i.disp;
      const l = this.ea64(i);
      // Exact for canonical results; anything else is far outside [-2^47, 2^47) and faults.
      return (this.rhi | 0) * TWO32 + l;
    }
    if (i.asize === 4) {
      let a = i.disp;
      if (i.ripRel) a += this.rip + i.len;
      if (i.base >= 0) a += lo[i.base];
      if (i.index >= 0) a += lo[i.index] << i.scale;
      return a >>> 0;
    }
    let a = i.disp;
    if (i.base >= 0) a += lo[i.base];
    if (i.index >= 0) a += lo[i.index];
    return a & 0xffff;
  }

  /**
   * The full 64-bit effective address (64-bit address size, not RIP-relative) computed
   * exactly in 32-bit halves: returns the low half, high half in rhi.
   */
  ea64(i: Instr): number {
    let l = i.disp;
    let h = 0;
    if (i.base >= 0) {
      l += this.lo[i.base] >>> 0;
      h += this.hi[i.base];
    }
    if (i.index >= 0) {
      const m = 1 << i.scale;
      l += (this.lo[i.index] >>> 0) * m;
      h += this.hi[i.index] * m;
    }
    const carry = Math.floor(l / TWO32);
    this.rhi = (h + carry) >>> 0;
    return l >>> 0;
  }

  /** Read the r/m operand of `size` bytes (64-bit: high half in rhi). */
  readRM(i: Instr, size: number): number {
    if (i.mod === 3) return size === 1 ? this.getReg8(i.rm, i.rex) : this.getReg(i.rm, size);
    return this.read(i.seg, this.ea(i), size);
  }

  /** Write the r/m operand of `size` bytes. */
  writeRM(i: Instr, size: number, v: number, vhi = 0): void {
    if (i.mod === 3) {
      if (size === 1) this.setReg8(i.rm, i.rex, v);
      else this.setReg(i.rm, size, v, vhi);
      return;
    }
    this.write(i.seg, this.ea(i), size, v, vhi);
  }

  /** Read the ModRM.reg register operand. */
  readRegOp(i: Instr, size: number): number {
    return size === 1 ? this.getReg8(i.reg, i.rex) : this.getReg(i.reg, size);
  }

  /** Write the ModRM.reg register operand. */
  writeRegOp(i: Instr, size: number, v: number, vhi = 0): void {
    if (size === 1) this.setReg8(i.reg, i.rex, v);
    else this.setReg(i.reg, size, v, vhi);
  }

  // ------------------------------------------------------------------ stack

  /** Current stack pointer as an offset (masked to the stack address size). */
  getSP(): number {
    if (this.stackSize === 8) return this.reg64(4);
    if (this.stackSize === 4) return this.lo[4] >>> 0;
    return this.lo[4] & 0xffff;
  }

  /** Set the stack pointer (16-bit stacks keep the upper bits of ESP). */
  setSP(v: number): void {
    if (this.stackSize === 8) this.setReg64FromNumber(4, v);
    else if (this.stackSize === 4) this.lo[4] = v;
    else this.lo[4] = (this.lo[4] & ~0xffff) | (v & 0xffff);
  }

  /** Stack offset `delta` bytes from the current SP, wrapped to the stack size. */
  spOffset(delta: number): number {
    const sp = this.getSP() + delta;
    if (this.stackSize === 8) return sp;
    if (this.stackSize === 4) return sp >>> 0;
    return sp & 0xffff;
  }

  /** Push a value of `size` bytes (SDM Vol.2 PUSH). The write happens before RSP changes. */
  push(size: number, v: number, vhi = 0): void {
    const sp = this.spOffset(-size);
    this.write(SEG.SS, sp, size, v, vhi);
    this.setSP(sp);
  }

  /** Pop a value of `size` bytes (64-bit: high half in rhi). */
  pop(size: number): number {
    const sp = this.getSP();
    const v = this.read(SEG.SS, sp, size);
    const h = this.rhi;
    this.setSP(this.spOffset(size));
    this.rhi = h;
    return v;
  }

  // ------------------------------------------------------------------ control flow

  /** Set the branch target: masks to the operand size, checks canonical/CS limit (#GP(0)). */
  branch(target: number, osize: number): void {
    if (this.long64 && osize === 8) {
      if (target < CANON_LOW || target >= CANON_HIGH) {
        // Wrap modulo 2^64 first: a target just past the top of the address space is canonical low.
        const wrapped =
          target >= 2 ** 63 ? target - 2 ** 64 : target < -(2 ** 63) ? target + 2 ** 64 : target;
        if (wrapped < CANON_LOW || wrapped >= CANON_HIGH) throw new CpuFault(13, 0);
        target = wrapped;
      }
      this.nextRip = target;
      return;
    }
    const t = osize === 2 ? target & 0xffff : target >>> 0;
    if (!this.long64 && t > this.segLimit[SEG.CS]) throw new CpuFault(13, 0);
    this.nextRip = t;
  }

  // ------------------------------------------------------------------ execution

  /**
   * A write hit a page holding decoded code. Only writes that overlap a 64-byte line from
   * which instructions were decoded invalidate the page's blocks, so data sharing a page with
   * code does not force re-decoding (SDM Vol.3 11.6 only requires modified code to be seen).
   */
  codeWritten(page: number, offset?: number, length?: number): void {
    const lines = this.codeLines.get(page);
    if (lines !== undefined && offset !== undefined && length !== undefined) {
      const last = Math.min(offset + length - 1, 0xfff) >> 6;
      let hit = false;
      for (let l = offset >> 6; l <= last; l++) if (lines[l] !== 0) hit = true;
      if (!hit) return;
    }
    this.invalidateCodePage(page);
  }

  /** Record that bytes [offset, offset+length) of `page` hold decoded instructions. */
  markCodeLines(page: number, offset: number, length: number): void {
    let lines = this.codeLines.get(page);
    if (lines === undefined) {
      lines = new Uint8Array(64);
      this.codeLines.set(page, lines);
    }
    const last = Math.min(offset + Math.max(length, 1) - 1, 0xfff) >> 6;
    for (let l = offset >> 6; l <= last; l++) lines[l] = 1;
  }

  /** Drop all decoded blocks of a physical page (a write hit it). */
  invalidateCodePage(page: number): void {
    this.codeLines.delete(page);
    if (this.codeCache.delete(page)) {
      this.blockInvalidated = true;
      this.chainEpoch++;
      this.mem.releaseCodePage(page);
    }
  }

  /** Drop every decoded block (other processors' blocks on the same memory stay). */
  flushCodeCache(): void {
    this.chainEpoch++;
    this.codeLines.clear();
    for (const page of this.codeCache.keys()) this.mem.releaseCodePage(page);
    this.codeCache.clear();
  }

  /** Per code page: which 64-byte lines hold decoded instructions. */
  private readonly codeLines = new Map<number, Uint8Array>();

  /** The block executed last (for chaining), or null. */
  private lastBlock: Block | null = null;

  /** Find or decode the block at the current RIP. */
  private currentBlock(): Block {
    const csBase = this.long64 ? 0 : this.segBase[SEG.CS];
    const lin = this.long64 ? this.rip : (csBase + this.rip) >>> 0;
    if (!this.long64 && this.rip > this.segLimit[SEG.CS]) throw new CpuFault(13, 0);
    const phys = this.translate(lin, Access.Exec);
    const page = Math.floor(phys / 4096);
    // Mode in the low 2 bits: 16-bit 1, 32-bit 2, 64-bit 3 (codeSize >> 1 would give 4 for 64-bit).
    const key = ((phys & 0xfff) << 2) | (this.codeSize === 8 ? 3 : this.codeSize >> 1);
    let pageMap = this.codeCache.get(page);
    if (pageMap !== undefined) {
      const b = pageMap.get(key);
      if (b !== undefined) return b;
    } else {
      pageMap = new Map();
      this.codeCache.set(page, pageMap);
      this.mem.retainCodePage(page);
    }
    const block = decodeBlock(this, lin, phys);
    if (!block.cacheable) return block;
    // decodeBlock may have invalidated pages (never this one), re-fetch the map.
    let m = this.codeCache.get(page);
    if (m === undefined) {
      m = pageMap;
      this.codeCache.set(page, m);
      this.mem.retainCodePage(page);
    }
    m.set(key, block);
    const first = block.instrs[0];
    const lastI = block.instrs[block.instrs.length - 1];
    this.markCodeLines(page, phys & 0xfff, lastI.phys + lastI.len - first.phys);
    return block;
  }

  /**
   * Execute until `limit` instructions have retired, the CPU halts or shuts down,
   * stopRequested is set, or a hook throws an InstructionExit ("exit"). Exceptions are
   * delivered inside; a triple fault calls hooks.shutdown and returns "shutdown". At each
   * instruction boundary a pending SMI is taken first, then NMI, then INTR (SDM Vol.3 6.9).
   */
  run(limit: number): StopReason {
    const end = this.icount + limit;
    this.runEnd = end;
    this.stopRequested = false;
    this.lastExit = null;
    while (this.icount < end) {
      if (this.shutdownState) return "shutdown";
      if (this.smiPending || this.intrPending || this.nmiPending) {
        // The STI / MOV SS shadow also holds off SMI (SDM Vol.3 6.8.3 allows it).
        if (!this.interruptShadow && !this.takePendingEvent()) return "exit";
        if (this.shutdownState) return "shutdown";
      }
      if (this.halted) return "halt";
      if (this.stopRequested) return "stop";
      if (this.interruptShadow) {
        // One instruction under the STI / MOV SS interrupt shadow (SDM Vol.3 6.8.3), then clear
        // it — unless the instruction was abandoned by an exit: it runs again, still shadowed.
        if (!this.stepOne()) return "exit";
        this.interruptShadow = false;
        continue;
      }
      if (this.singleStep) {
        // Host-requested single stepping (the hypervisor's guest debugging): one instruction.
        if (!this.stepOne()) return "exit";
        continue;
      }
      let executed = 0;
      try {
        let block: Block;
        const prev = this.lastBlock;
        const epoch = this.chainEpoch;
        if (prev !== null && prev.succEpoch0 === epoch && prev.succRip0 === this.rip) block = prev.succ0!;
        else if (prev !== null && prev.succEpoch1 === epoch && prev.succRip1 === this.rip)
          block = prev.succ1!;
        else {
          block = this.currentBlock();
          if (prev !== null && block.cacheable && this.chainEpoch === epoch) {
            // Keep the most recent successor in slot 0, the previous one in slot 1.
            prev.succRip1 = prev.succRip0;
            prev.succ1 = prev.succ0;
            prev.succEpoch1 = prev.succEpoch0;
            prev.succRip0 = this.rip;
            prev.succ0 = block;
            prev.succEpoch0 = epoch;
          }
        }
        this.lastBlock = block.cacheable ? block : null;
        this.blockInvalidated = false;
        let jit = block.jit;
        if (jit === null && block.cacheable && ++block.hits >= this.jitThreshold) {
          jit = block.jit = compileBlock(this, block);
        }
        let start = 0;
        if (jit !== null) {
          // The compiled block counts its own instructions (also when it faults).
          jit(this);
          const bail = this.bailBlock;
          if (bail === null) continue;
          // It left in the middle of a block (cpu.rip is on instruction bailIdx of it): the
          // interpreter finishes that block.
          this.bailBlock = null;
          block = bail;
          start = this.bailIdx;
          this.lastBlock = bail.cacheable ? bail : null;
        }
        const instrs = block.instrs;
        const count = instrs.length;
        for (let n = start; n < count; n++) {
          const i = instrs[n];
          this.nextRip = this.rip + i.len;
          i.exec(this, i);
          this.rip = this.nextRip;
          executed++;
          if (this.blockInvalidated || this.stopRequested) break;
        }
        this.icount += executed;
      } catch (e) {
        // The faulting or exiting instruction is not counted here: RIP is still on it.
        this.icount += executed;
        this.lastBlock = null;
        if (e instanceof InstructionExit) {
          this.lastExit = e;
          return "exit";
        }
        if (!this.handleHostException(e)) return "exit";
      }
    }
    return this.shutdownState ? "shutdown" : this.halted ? "halt" : this.stopRequested ? "stop" : "limit";
  }

  /**
   * Execute exactly one instruction (used under the interrupt shadow). Returns false when a
   * hook abandoned it with an InstructionExit (kept in lastExit).
   */
  private stepOne(): boolean {
    try {
      const block = this.currentBlock();
      const i = block.instrs[0];
      this.nextRip = this.rip + i.len;
      i.exec(this, i);
      this.rip = this.nextRip;
      this.icount++;
    } catch (e) {
      if (e instanceof InstructionExit) {
        this.lastBlock = null;
        this.lastExit = e;
        return false;
      }
      return this.handleHostException(e);
    }
    return true;
  }

  /**
   * A CpuFault thrown by an instruction is delivered; anything else is a host bug and
   * propagates. Returns false when a hook (an MMIO read of the IDT, GDT or stack) threw an
   * InstructionExit during the delivery: delivery rolls the state back (interrupts.ts), so
   * RIP is still on the faulting instruction, which runs — and faults — again on restart.
   */
  private handleHostException(e: unknown): boolean {
    if (!(e instanceof CpuFault)) throw e;
    this.icount++;
    try {
      deliverEvent(this, e.vector, e.errorCode, "exception");
    } catch (x) {
      if (!(x instanceof InstructionExit)) throw x;
      this.icount--;
      this.lastExit = x;
      return false;
    }
    return true;
  }

  /**
   * At an instruction boundary, take a pending SMI (not in SMM), else a pending NMI or INTR
   * (SDM Vol.3 6.9). Returns false when a hook threw an InstructionExit while the event was
   * being delivered (kept in lastExit): an SMI or NMI then stays pending, unchanged, and is
   * taken when run() is called again. An external interrupt has already been acknowledged
   * at that point and cannot be put back, so an exit during INTR delivery is a host error.
   */
  private takePendingEvent(): boolean {
    const nmiPending = this.nmiPending;
    const nmiBlocked = this.nmiBlocked;
    const halted = this.halted;
    const smi = this.smiPending && !this.inSmm;
    try {
      if (smi) enterSmm(this);
      else if (this.intrPending || this.nmiPending) checkInterrupts(this);
      return true;
    } catch (x) {
      if (!(x instanceof InstructionExit)) throw x;
      if (!smi && !(nmiPending && !nmiBlocked)) {
        throw new Error(
          `InstructionExit ("${x.reason}") thrown while an external interrupt was delivered: the vector was already acknowledged, the delivery cannot be restarted`,
        );
      }
      // SMI entry writes SMRAM before changing any state; NMI delivery rolled back its own.
      this.nmiPending = nmiPending;
      this.nmiBlocked = nmiBlocked;
      this.halted = halted;
      this.lastExit = x;
      return false;
    }
  }

  /** Enter the shutdown state (triple fault) and tell the hypervisor. */
  enterShutdown(reason: string): void {
    this.shutdownState = true;
    this.stopRequested = true;
    this.hooks.shutdown(reason);
  }

  /** Power-up/RESET values of the x87 and SSE state (unchanged by INIT). */
  resetExtendedState(): void {
    this.x87.reset();
    this.sse.reset();
  }

  /** Read the time-stamp counter as (lo) with high half in rhi. */
  readTsc(): number {
    const t = this.icount + this.tscOffset;
    this.rhi = Math.floor(t / TWO32) >>> 0;
    return t >>> 0;
  }

  /** True when CR4 bit(s) are set. */
  cr4Has(bits: number): boolean {
    return (this.cr4 & bits) !== 0;
  }
}
