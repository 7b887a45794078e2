/**
 * One virtual CPU: a src/cpu processor plus the hooks through which it reports what a
 * VMX/SVM processor would exit on, behind a KVM-shaped API. `run(budget)` executes guest
 * code and returns a VcpuExit; `getRegs/setRegs`, `getSregs/setSregs` and `getMsr/setMsr`
 * are the host-initiated register accesses (KVM_GET_REGS & co.). Every setter validates its
 * whole argument before changing anything and throws HvError on misuse.
 *
 * This is the first cut: no local APIC, no interrupt injection, no CR pinning yet. Those
 * arrive in src/hv later and will hang off the same hooks.
 */
import { Cpu } from "../cpu/cpu.js";
import type { CpuHooks, CpuidResult, MsrReadResult } from "../cpu/hooks.js";
import { CR0, CR4, EFER } from "../x86/cr.js";
import { FLAGS } from "../x86/eflags.js";
import { MSR } from "../x86/msr.js";
import { ATTR, SEG } from "../x86/segment.js";
import { HvError } from "./errors.js";
import type { VcpuExit } from "./exits.js";
import {
  GPR_NAMES,
  REGS_KEYS,
  SEGMENT_KEYS,
  SEGMENT_NAMES,
  SREGS_KEYS,
  type DescriptorTable,
  type Regs,
  type Segment,
  type Sregs,
} from "./state.js";

/** Instructions one run() call executes at most unless the caller says otherwise. */
export const DEFAULT_RUN_BUDGET = 1_000_000;

/** Synchronous port-I/O handler the VMM registers on a Vm (see exits.ts for why). */
export interface PortIoHandler {
  /** IN of `size` bytes (1, 2 or 4) from `port`; returns the value (masked by the caller). */
  read(port: number, size: number): number;
  /** OUT of `size` bytes to `port`. */
  write(port: number, size: number, value: number): void;
}

/** How a Vcpu reaches the VM that owns it (kept narrow to avoid an import cycle). */
export interface VcpuHost {
  /** The VM's current port-I/O handler. */
  readonly portIo: PortIoHandler;
}

const U64_MAX = (1n << 64n) - 1n;
const CANONICAL_LIMIT = 1n << 47n;

/** Checks that `value` is a bigint in 0..2^64-1. */
function u64(what: string, value: unknown): bigint {
  if (typeof value !== "bigint" || value < 0n || value > U64_MAX) {
    const shown = typeof value === "bigint" ? `0x${value.toString(16)}` : `a ${typeof value}`;
    throw new HvError("bad-value", `${what}: expected a bigint in 0..2^64-1, got ${shown}`);
  }
  return value;
}

/** Checks that `value` is an integer number in min..max. */
function int(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new HvError("bad-value", `${what}: expected an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

/** A 64-bit value as the signed canonical number the CPU keeps addresses in. */
function canonical(what: string, value: bigint): number {
  const signed = BigInt.asIntN(64, value);
  if (signed < -CANONICAL_LIMIT || signed >= CANONICAL_LIMIT) {
    throw new HvError("bad-value", `${what}: 0x${value.toString(16)} is not a canonical 48-bit address`);
  }
  return Number(signed);
}

/** A CPU address number (signed canonical or 32-bit) as an unsigned 64-bit bigint. */
function fromAddress(value: number): bigint {
  return BigInt.asUintN(64, BigInt(value));
}

/** A 32-bit value held in the upper or lower half of a bigint: rejects bits above 31. */
function low32(what: string, value: bigint): number {
  if (value > 0xffff_ffffn) {
    throw new HvError("bad-value", `${what}: 0x${value.toString(16)} sets reserved bits 63:32`);
  }
  return Number(value);
}

/** Rejects keys an object of this kind does not have (a typo must not be ignored). */
function checkKeys(what: string, object: object, known: readonly string[]): void {
  if (typeof object !== "object" || object === null) {
    throw new HvError("bad-argument", `${what}: expected an object`);
  }
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) {
      throw new HvError("bad-register", `${what}: unknown register '${key}' (known: ${known.join(", ")})`);
    }
  }
}

/** Hidden segment state in the CPU's encoding. */
interface CpuSegment {
  selector: number;
  base: number;
  limit: number;
  attr: number;
}

function segmentToCpu(what: string, s: Segment): CpuSegment {
  checkKeys(what, s, SEGMENT_KEYS);
  for (const key of SEGMENT_KEYS) {
    if (s[key] === undefined) throw new HvError("bad-argument", `${what}.${key}: missing`);
  }
  const selector = int(`${what}.selector`, s.selector, 0, 0xffff);
  const base = canonical(`${what}.base`, u64(`${what}.base`, s.base));
  const limit = int(`${what}.limit`, s.limit, 0, 0xffff_ffff);
  const type = int(`${what}.type`, s.type, 0, 15);
  const bit = (key: keyof Segment): number => int(`${what}.${key}`, s[key], 0, 1);
  const dpl = int(`${what}.dpl`, s.dpl, 0, 3);
  const attr =
    type |
    (bit("s") ? ATTR.S : 0) |
    (dpl << ATTR.DPL_SHIFT) |
    (bit("present") ? ATTR.P : 0) |
    (bit("avl") ? ATTR.AVL : 0) |
    (bit("l") ? ATTR.L : 0) |
    (bit("db") ? ATTR.DB : 0) |
    (bit("g") ? ATTR.G : 0);
  return { selector, base, limit, attr };
}

function segmentFromCpu(cpu: Cpu, n: number): Segment {
  const a = cpu.segAttr[n];
  return {
    selector: cpu.segSel[n] & 0xffff,
    base: fromAddress(cpu.segBase[n]),
    limit: cpu.segLimit[n] >>> 0,
    type: a & ATTR.TYPE_MASK,
    s: a & ATTR.S ? 1 : 0,
    dpl: (a >> ATTR.DPL_SHIFT) & 3,
    present: a & ATTR.P ? 1 : 0,
    avl: a & ATTR.AVL ? 1 : 0,
    l: a & ATTR.L ? 1 : 0,
    db: a & ATTR.DB ? 1 : 0,
    g: a & ATTR.G ? 1 : 0,
  };
}

function tableToCpu(what: string, t: DescriptorTable): { base: number; limit: number } {
  checkKeys(what, t, ["base", "limit"]);
  return {
    base: canonical(`${what}.base`, u64(`${what}.base`, t.base)),
    limit: int(`${what}.limit`, t.limit, 0, 0xffff),
  };
}

/** MSRs a host may read or write: every index src/x86/msr.ts names. */
const KNOWN_MSRS = new Set<number>(Object.values(MSR));

/** A virtual CPU of a Vm. Create with `vm.createVcpu(id)`. */
export class Vcpu {
  /** The vCPU's id within its VM. */
  readonly id: number;
  /** The processor (exposed for tests and diagnostics; the VMM should use the API). */
  readonly cpu: Cpu;
  private readonly host: VcpuHost;
  private stopPending = false;
  private running = false;
  private shutdownReason = "";

  /** Wraps a processor over the VM's memory; use Vm.createVcpu instead. */
  constructor(host: VcpuHost, id: number, cpu: Cpu) {
    this.host = host;
    this.id = id;
    this.cpu = cpu;
    cpu.hooks = this.makeHooks();
  }

  private makeHooks(): CpuHooks {
    const host = this.host;
    return {
      ioRead: (port, size) => {
        const v = host.portIo.read(port, size);
        return size === 1 ? v & 0xff : size === 2 ? v & 0xffff : v >>> 0;
      },
      ioWrite: (port, size, value) => host.portIo.write(port, size, value),
      halt: () => {},
      shutdown: (reason) => {
        this.shutdownReason = reason;
      },
      // No hypervisor-owned MSRs yet: an MSR the CPU does not implement raises #GP.
      rdmsr: (): MsrReadResult => "gp",
      wrmsr: () => false,
      cpuid: (_leaf, _subleaf, native): CpuidResult => native,
      // No CR pinning yet: every architecturally valid write is allowed.
      controlWrite: () => true,
    };
  }

  /** Instructions retired by this vCPU since it was created. */
  get instructionsRetired(): number {
    return this.cpu.icount;
  }

  /**
   * Run guest code until an exit, executing at most about `budget` instructions (the check
   * is made between decoded blocks, so a run may overshoot by a block). Returns why it
   * stopped; `budget-exhausted` lets the VMM do device work between slices.
   */
  run(budget: number = DEFAULT_RUN_BUDGET): VcpuExit {
    int("run budget", budget, 1, Number.MAX_SAFE_INTEGER);
    if (this.running) throw new HvError("bad-state", `vcpu ${this.id}: run() called while already running`);
    if (this.stopPending) {
      this.stopPending = false;
      return { kind: "stopped" };
    }
    this.running = true;
    let reason;
    try {
      reason = this.cpu.run(budget);
    } finally {
      this.running = false;
    }
    const cpu = this.cpu;
    if (cpu.shutdownState) {
      this.stopPending = false;
      return { kind: "shutdown", reason: this.shutdownReason || "shutdown" };
    }
    if (this.stopPending) {
      this.stopPending = false;
      return { kind: "stopped" };
    }
    if (reason === "halt") return { kind: "hlt" };
    return { kind: "budget-exhausted" };
  }

  /**
   * Make the current (or next) run() return `{ kind: "stopped" }` at the next instruction
   * boundary. Safe to call from a port-I/O handler while the vCPU runs.
   */
  requestStop(): void {
    this.stopPending = true;
    this.cpu.stopRequested = true;
  }

  /** True while the vCPU is halted (HLT, waiting for an interrupt). */
  get halted(): boolean {
    return this.cpu.halted;
  }

  /** True when RFLAGS.IF is set (maskable interrupts enabled). */
  get interruptsEnabled(): boolean {
    return (this.cpu.getEflags() & FLAGS.IF) !== 0;
  }

  /** General-purpose registers, RIP and RFLAGS (KVM_GET_REGS). */
  getRegs(): Regs {
    const cpu = this.cpu;
    const regs = {} as Regs;
    GPR_NAMES.forEach((name, n) => {
      regs[name] = (BigInt(cpu.hi[n] >>> 0) << 32n) | BigInt(cpu.lo[n] >>> 0);
    });
    regs.rip = fromAddress(cpu.rip);
    regs.rflags = BigInt(cpu.getEflags() >>> 0);
    return regs;
  }

  /**
   * Write some or all of the registers (KVM_SET_REGS; missing keys keep their value). RIP
   * must be canonical, and below 2^32 unless the vCPU is in 64-bit mode (set sregs first).
   */
  setRegs(regs: Partial<Regs>): void {
    checkKeys("setRegs", regs, REGS_KEYS);
    const cpu = this.cpu;
    const gprs: [number, number, number][] = [];
    GPR_NAMES.forEach((name, n) => {
      const v = regs[name];
      if (v === undefined) return;
      const value = u64(name, v);
      gprs.push([n, Number(value & 0xffff_ffffn), Number(value >> 32n)]);
    });
    let rip: number | undefined;
    if (regs.rip !== undefined) {
      const value = u64("rip", regs.rip);
      if (!cpu.long64 && value > 0xffff_ffffn) {
        throw new HvError(
          "bad-value",
          `rip: 0x${value.toString(16)} needs 64-bit mode, and the vCPU is not in it`,
        );
      }
      rip = canonical("rip", value);
    }
    let rflags: number | undefined;
    if (regs.rflags !== undefined) rflags = low32("rflags", u64("rflags", regs.rflags));
    for (const [n, lo, hi] of gprs) {
      cpu.lo[n] = lo;
      cpu.hi[n] = hi;
    }
    if (rip !== undefined) cpu.rip = rip;
    if (rflags !== undefined) cpu.setEflags(rflags | FLAGS.FIXED1);
  }

  /** Segment, descriptor-table and control registers (KVM_GET_SREGS). */
  getSregs(): Sregs {
    const cpu = this.cpu;
    const sregs = {} as Sregs;
    SEGMENT_NAMES.forEach((name, n) => {
      sregs[name] = segmentFromCpu(cpu, n);
    });
    sregs.gdt = { base: fromAddress(cpu.gdtrBase), limit: cpu.gdtrLimit };
    sregs.idt = { base: fromAddress(cpu.idtrBase), limit: cpu.idtrLimit };
    sregs.cr0 = BigInt(cpu.cr0 >>> 0);
    sregs.cr2 = fromAddress(cpu.cr2);
    sregs.cr3 = (BigInt(cpu.cr3Hi >>> 0) << 32n) | BigInt(cpu.cr3 >>> 0);
    sregs.cr4 = BigInt(cpu.cr4 >>> 0);
    sregs.cr8 = BigInt(cpu.cr8);
    sregs.efer = BigInt(cpu.efer >>> 0);
    return sregs;
  }

  /**
   * Write some or all of the system registers (KVM_SET_SREGS; missing keys keep their
   * value). The resulting CR0/CR4/EFER combination is checked the way KVM checks it
   * (PG needs PE; with EFER.LME and CR0.PG, CR4.PAE and EFER.LMA must be set; LMA
   * otherwise clear). CPL becomes SS.DPL in protected mode, as VMX defines it.
   */
  setSregs(sregs: Partial<Sregs>): void {
    checkKeys("setSregs", sregs, SREGS_KEYS);
    const cpu = this.cpu;
    const segments: [number, CpuSegment][] = [];
    SEGMENT_NAMES.forEach((name, n) => {
      const s = sregs[name];
      if (s !== undefined) segments.push([n, segmentToCpu(name, s)]);
    });
    const gdt = sregs.gdt === undefined ? undefined : tableToCpu("gdt", sregs.gdt);
    const idt = sregs.idt === undefined ? undefined : tableToCpu("idt", sregs.idt);
    const cr0 = sregs.cr0 === undefined ? cpu.cr0 >>> 0 : low32("cr0", u64("cr0", sregs.cr0));
    const cr2 = sregs.cr2 === undefined ? cpu.cr2 : canonical("cr2", u64("cr2", sregs.cr2));
    let cr3Lo = cpu.cr3 >>> 0;
    let cr3Hi = cpu.cr3Hi >>> 0;
    if (sregs.cr3 !== undefined) {
      const v = u64("cr3", sregs.cr3);
      cr3Lo = Number(v & 0xffff_ffffn);
      cr3Hi = Number(v >> 32n);
    }
    const cr4 = sregs.cr4 === undefined ? cpu.cr4 >>> 0 : low32("cr4", u64("cr4", sregs.cr4));
    const cr8 = sregs.cr8 === undefined ? cpu.cr8 : int("cr8", Number(u64("cr8", sregs.cr8)), 0, 15);
    const efer = sregs.efer === undefined ? cpu.efer >>> 0 : low32("efer", u64("efer", sregs.efer));
    const eferKnown = EFER.SCE | EFER.LME | EFER.LMA | EFER.NXE;
    if (efer & ~eferKnown) {
      throw new HvError("bad-value", `efer: 0x${efer.toString(16)} sets bits this CPU does not have`);
    }
    if (cr0 & CR0.PG && !(cr0 & CR0.PE)) {
      throw new HvError("bad-state", "cr0: PG set without PE");
    }
    if (efer & EFER.LME && cr0 & CR0.PG) {
      if (!(cr4 & CR4.PAE)) throw new HvError("bad-state", "long mode (EFER.LME and CR0.PG) needs CR4.PAE");
      if (!(efer & EFER.LMA))
        throw new HvError("bad-state", "long mode (EFER.LME and CR0.PG) needs EFER.LMA");
    } else if (efer & EFER.LMA) {
      throw new HvError("bad-state", "EFER.LMA set without EFER.LME and CR0.PG");
    }
    // Everything checked: commit.
    for (const [n, s] of segments) {
      cpu.segSel[n] = s.selector;
      cpu.segBase[n] = s.base;
      cpu.segLimit[n] = s.limit;
      cpu.segAttr[n] = s.attr;
    }
    if (gdt) {
      cpu.gdtrBase = gdt.base;
      cpu.gdtrLimit = gdt.limit;
    }
    if (idt) {
      cpu.idtrBase = idt.base;
      cpu.idtrLimit = idt.limit;
    }
    cpu.cr0 = cr0 | 0;
    cpu.cr2 = cr2;
    cpu.cr3 = cr3Lo;
    cpu.cr3Hi = cr3Hi;
    cpu.cr4 = cr4;
    cpu.cr8 = cr8;
    cpu.efer = efer;
    cpu.cpl = (cpu.segAttr[SEG.SS] >> ATTR.DPL_SHIFT) & 3;
    cpu.updateMode();
    if (!cpu.long64 && (cpu.rip < 0 || cpu.rip > 0xffff_ffff)) cpu.rip = cpu.rip >>> 0;
    cpu.flushTlb(false);
    cpu.flushCodeCache();
  }

  /** Host-initiated read of MSR `index` (KVM_GET_MSRS for one index). */
  getMsr(index: number): bigint {
    this.checkMsr(index);
    const cpu = this.cpu;
    switch (index) {
      case MSR.IA32_EFER:
        return BigInt(cpu.efer >>> 0);
      case MSR.IA32_FS_BASE:
        return fromAddress(cpu.segBase[SEG.FS]);
      case MSR.IA32_GS_BASE:
        return fromAddress(cpu.segBase[SEG.GS]);
      case MSR.IA32_KERNEL_GS_BASE:
        return fromAddress(cpu.kernelGsBase);
      case MSR.IA32_TIME_STAMP_COUNTER:
        return BigInt.asUintN(64, BigInt(cpu.icount + cpu.tscOffset));
    }
    const v = cpu.msrs.get(index);
    return v === undefined ? 0n : (BigInt(v[1] >>> 0) << 32n) | BigInt(v[0] >>> 0);
  }

  /**
   * Host-initiated write of MSR `index` (KVM_SET_MSRS for one index). EFER goes through
   * the same consistency checks as setSregs.
   */
  setMsr(index: number, value: bigint): void {
    this.checkMsr(index);
    const name = `MSR 0x${index.toString(16)}`;
    const v = u64(name, value);
    const cpu = this.cpu;
    switch (index) {
      case MSR.IA32_EFER:
        this.setSregs({ efer: v });
        return;
      case MSR.IA32_FS_BASE:
        cpu.segBase[SEG.FS] = canonical(name, v);
        return;
      case MSR.IA32_GS_BASE:
        cpu.segBase[SEG.GS] = canonical(name, v);
        return;
      case MSR.IA32_KERNEL_GS_BASE:
        cpu.kernelGsBase = canonical(name, v);
        return;
      case MSR.IA32_TIME_STAMP_COUNTER:
        cpu.tscOffset = Number(v) - cpu.icount;
        return;
    }
    cpu.msrs.set(index, [Number(v & 0xffff_ffffn), Number(v >> 32n)]);
  }

  private checkMsr(index: number): void {
    if (typeof index !== "number" || !Number.isInteger(index) || !KNOWN_MSRS.has(index)) {
      const shown = typeof index === "number" ? `0x${index.toString(16)}` : String(index);
      throw new HvError("bad-msr", `unknown MSR index ${shown} (pinvm models the MSRs in src/x86/msr.ts)`);
    }
  }
}
