/**
 * One virtual CPU: a src/cpu processor, its local APIC and its CR-pinning state, behind a
 * KVM-shaped API. `run(budget)` executes guest code and returns a VcpuExit (exits.ts);
 * `get/setRegs`, `get/setSregs`, `get/setFpu`, `get/setMsrs`, `get/setMpState`,
 * `get/setVcpuEvents`, `get/setLapic` are the host-initiated accesses (KVM_GET_REGS & co.);
 * `reset(kind)` applies one column of the power-up/RESET/INIT state table to every piece
 * of state the vCPU owns — the "full vCPU state reset" call the 2019 review thread proposed.
 *
 * The processor reports what a VMX processor would exit on through the hooks installed
 * here (src/cpu/hooks.ts): port I/O and MMIO go to the VM's synchronous handlers or leave
 * run() as exits; MSRs the CPU does not own go to the APIC (IA32_APIC_BASE, x2APIC,
 * TSC_DEADLINE) or to CR pinning; CPUID gets the hypervisor's leaves; every guest CR0/CR4
 * write is checked against the pins; VMCALL/VMMCALL is the KVM hypercall ABI; RSM asks
 * the pinning profile what to do with the CR values it restores.
 *
 * Time: each vCPU has a local time in nanoseconds that advances by one per instruction
 * (a 1 GHz TSC) and never falls behind the VM clock (`vm.now()`), which the VMM advances
 * (the vCPU catches up at the next run(), as if it had been stalled). TSC = local time +
 * an offset that WRMSR/host writes and RESET change.
 */
import type { Cpu } from "../cpu/cpu.js";
import { InstructionExit, type CpuHooks, type CpuidResult, type MsrReadResult } from "../cpu/hooks.js";
import { resetCpu } from "../cpu/reset.js";
import { CPU_MSRS, CPUID_SIGNATURE, cpuidNative, readMsr, writeMsr } from "../cpu/ops/msr-cpuid.js";
import { CpuFault } from "../cpu/fault.js";
import { deliverEvent } from "../cpu/interrupts.js";
import { CpuStateError, loadCpuState, saveCpuState, type CpuState } from "../cpu/state.js";
import { FLAGS } from "../x86/eflags.js";
import { MSR } from "../x86/msr.js";
import { SEG } from "../x86/segment.js";
import type { ResetKind } from "../x86/reset-state.js";
import type { LocalApic } from "./apic/local-apic.js";
import { canonical, int, joinU64, splitU64, u64 } from "./convert.js";
import { HvError } from "./errors.js";
import type { SystemEvent, VcpuExit } from "./exits.js";
import type { Violation, VcpuPinning, VmPinning } from "./paravirt/cr-pinning.js";
import { handleHypercall } from "./paravirt/hypercall.js";
import * as registers from "./registers.js";
import {
  MP_STATES,
  type CpuidEntry,
  type DebugRegs,
  type Fpu,
  type MpState,
  type MsrEntry,
  type PendingException,
  type Regs,
  type Sregs,
  type VcpuEvents,
} from "./state.js";

/** Instructions one run() call executes at most unless the caller says otherwise. */
export const DEFAULT_RUN_BUDGET = 1_000_000;

/** Synchronous port-I/O handler the VMM registers on a Vm (see exits.ts). */
export interface PortIoHandler {
  /** IN of `size` bytes (1, 2 or 4) from `port`; returns the value (masked by the caller). */
  read(port: number, size: number): number;
  /** OUT of `size` bytes to `port`. */
  write(port: number, size: number, value: number): void;
  /**
   * Whether this handler serves `port`. Ports it does not serve leave run() as io-in/io-out
   * exits. Absent: the handler serves every port.
   */
  claims?(port: number): boolean;
}

/** The reset events of `vcpu.reset` (KVM has no such call; see the module comment). */
export type VcpuResetKind = "power-on" | "reset" | "init";

/** Host-requested guest debugging (KVM_SET_GUEST_DEBUG). */
export interface GuestDebug {
  /** Return a `debug` exit after every instruction. */
  singleStep?: boolean;
  /** Return a `debug` exit before executing an instruction at one of these RIPs. */
  breakpoints?: bigint[];
}

/** How a Vcpu reaches the VM that owns it (kept narrow to avoid an import cycle). */
export interface VcpuHost {
  /** The VM's current port-I/O handler. */
  readonly portIo: PortIoHandler;
  /** The VM clock in nanoseconds. */
  now(): number;
  /** The VM's CR-pinning configuration (profile, masks, audit log). */
  readonly pinning: VmPinning;
  /** Return a `cr-pin-violation` exit after each refused CR write. */
  readonly violationExits: boolean;
  /** A pending VM-wide event, if a device requested one. */
  readonly systemEvent: SystemEvent | null;
  /** Called when run() starts and ends on a vCPU (routes APIC MMIO to it). */
  setRunning(vcpu: Vcpu | null): void;
  /** Number of vCPUs (CPUID topology). */
  readonly vcpuCount: number;
}

/** The read an io-in / mmio-read exit is waiting for. */
interface PendingRead {
  kind: "io-in" | "mmio-read";
  where: number;
  size: number;
  value: number | null;
}

/** KVM's signature in CPUID.40000000H (EBX, ECX, EDX). */
const CPUID_HYPERVISOR_BIT = 1 << 31;
const CPUID_APIC_BIT = 1 << 9;
const CPUID_X2APIC_BIT = 1 << 21;
const CPUID_TSC_DEADLINE_BIT = 1 << 24;

/** x2APIC MSR range (SDM Vol.3 10.12.1.2). */
const X2APIC_FIRST = 0x800;
const X2APIC_LAST = 0x8ff;
/** IA32_TSC_DEADLINE (SDM Vol.4 Table 2-2). */
export const MSR_TSC_DEADLINE = 0x6e0;
/**
 * IA32_SMBASE (9EH): readable and writable by the host only, as in KVM (KVM_GET/SET_MSRS),
 * so a VMM can reset or migrate SMBASE; a guest RDMSR/WRMSR of it raises #GP (SDM Vol.4
 * lists it as readable only in SMM on some processors; pinvm does not expose it).
 */
export const MSR_SMBASE = 0x9e;

/** A virtual CPU of a Vm. Create with `vm.createVcpu(id)`. */
export class Vcpu {
  /** The vCPU's id within its VM (also its initial APIC ID). */
  readonly id: number;
  /** The processor (exposed for tests and diagnostics; the VMM should use the API). */
  readonly cpu: Cpu;
  /** The local APIC (in the hypervisor, like KVM's in-kernel APIC). */
  readonly apic: LocalApic;
  /** This vCPU's CR pins. */
  readonly pinning: VcpuPinning;
  private readonly host: VcpuHost;
  private stopPending = false;
  private running = false;
  private shutdownReason = "";
  private mpState: MpState;
  private readonly exitQueue: VcpuExit[] = [];
  private pendingRead: PendingRead | null = null;
  private latchedInit = false;
  private sipiVector = -1;
  /** An exception queued by setVcpuEvents, delivered before the next instruction. */
  private pendingException: PendingException | null = null;
  private localTime = 0;
  private tscDelta = 0;
  private retired = 0;
  private debug: { singleStep: boolean; breakpoints: Set<number> } = {
    singleStep: false,
    breakpoints: new Set(),
  };
  private resumeFromBreakpoint = false;
  private cpuidTable: Map<string, CpuidEntry> | null = null;
  private extIntAcknowledge: () => number = () => -1;

  /** Wraps a processor over the VM's memory; use Vm.createVcpu instead. */
  constructor(host: VcpuHost, id: number, cpu: Cpu, apic: LocalApic, pinning: VcpuPinning) {
    this.host = host;
    this.id = id;
    this.cpu = cpu;
    this.apic = apic;
    this.pinning = pinning;
    cpu.hooks = this.makeHooks();
    cpu.acknowledgeInterrupt = () => this.acknowledgeInterrupt();
    this.mpState = this.isBsp ? "runnable" : "uninitialized";
    this.syncTscOffset();
  }

  /** True for the bootstrap processor (IA32_APIC_BASE.BSP). */
  get isBsp(): boolean {
    return (this.apic.getApicBase() & 0x100n) !== 0n;
  }

  // ---------------------------------------------------------------- hooks

  private makeHooks(): CpuHooks {
    const host = this.host;
    return {
      ioRead: (port, size) => {
        const io = host.portIo;
        if (io.claims && !io.claims(port)) return this.exitingRead("io-in", port, size);
        const v = io.read(port, size);
        return size === 1 ? v & 0xff : size === 2 ? v & 0xffff : v >>> 0;
      },
      ioWrite: (port, size, value) => {
        const io = host.portIo;
        if (io.claims && !io.claims(port)) {
          this.queueExit({ kind: "io-out", port, size, value: value >>> 0 });
          return;
        }
        io.write(port, size, value);
      },
      halt: () => {},
      shutdown: (reason) => {
        this.shutdownReason = reason;
      },
      rdmsr: (index): MsrReadResult => {
        const v = this.guestReadMsr(index);
        if (v === "gp") return "gp";
        const [lo, hi] = splitU64(v);
        return { lo: lo >>> 0, hi: hi >>> 0 };
      },
      wrmsr: (index, lo, hi) => this.guestWriteMsr(index, joinU64(lo, hi)),
      cpuid: (leaf, subleaf, native) => this.cpuid(leaf, subleaf, native),
      controlWrite: (reg, oldLo, _oldHi, newLo, _newHi, source) => {
        if (reg !== "cr0" && reg !== "cr4") return true;
        if (!this.pinning.wouldViolate(reg, oldLo, newLo, this.cpu.inSmm)) {
          this.setWriteExitMask(reg, newLo);
          return true;
        }
        const violation = this.pinning.checkControlWrite(reg, oldLo >>> 0, newLo >>> 0, {
          inSmm: this.cpu.inSmm,
          rip: this.cpu.instructionRip,
          source: source ?? "mov",
        });
        if (violation === null) return true;
        // An exit when the VM asked for one for every violation (violations: "exit") or the
        // pinning options asked for one for this register (denialExit, Heki's
        // KVM_EXIT_HEKI_DENIAL: the logged action is then "exit").
        if (host.violationExits || violation.action === "exit") {
          this.queueExit({ kind: "cr-pin-violation", violation });
        }
        return false;
      },
      hypercall: () => this.hypercall(),
      rsm: (cr0, cr4) => {
        // RSM reloads CR0/CR4 without offering them to controlWrite: watch every write until
        // the masks are recomputed for the restored values.
        this.cpu.cr0WriteExitMask = -1;
        this.cpu.cr4WriteExitMask = -1;
        // A latched INIT is taken right after RSM (at the next instruction boundary).
        if (this.latchedInit || this.apic.hasEvents()) this.cpu.stopRequested = true;
        const decision = this.pinning.onRsm(cr0 >>> 0, cr4 >>> 0, { rip: this.cpu.instructionRip });
        if (decision === "exit") {
          this.exitQueue.push({
            kind: "internal-error",
            suberror: "emulation",
            detail:
              `RSM would restore CR0=0x${(cr0 >>> 0).toString(16)} CR4=0x${(cr4 >>> 0).toString(16)}, ` +
              `which violates the CR pins (profile ${this.host.pinning.profile})`,
          });
        }
        return decision;
      },
    };
  }

  /** Sets the CPU's write-exit mask of `cr` for its (new) value `value` (see writeExitMask). */
  private setWriteExitMask(cr: "cr0" | "cr4", value: number): void {
    const mask = this.pinning.writeExitMask(cr, value >>> 0, this.cpu.inSmm);
    if (cr === "cr0") this.cpu.cr0WriteExitMask = mask;
    else this.cpu.cr4WriteExitMask = mask;
  }

  /** Recomputes both write-exit masks from the current CR0/CR4 and pins. */
  private updateWriteExitMasks(): void {
    this.setWriteExitMask("cr0", this.cpu.cr0);
    this.setWriteExitMask("cr4", this.cpu.cr4);
  }

  /** Queues an exit that run() returns after the current instruction completes. */
  private queueExit(exit: VcpuExit): void {
    this.exitQueue.push(exit);
    this.cpu.stopRequested = true;
  }

  /** IN / MMIO read that the VMM must answer: use the completed value or exit. */
  private exitingRead(kind: "io-in" | "mmio-read", where: number, size: number): number {
    const p = this.pendingRead;
    if (p !== null && p.value !== null && p.kind === kind && p.where === where && p.size === size) {
      this.pendingRead = null;
      return p.value;
    }
    this.pendingRead = { kind, where, size, value: null };
    this.exitQueue.push(kind === "io-in" ? { kind, port: where, size } : { kind, address: where, size });
    throw new InstructionExit(kind);
  }

  /** MMIO read of a range the VMM marked as exiting (called by the Vm). */
  mmioExitRead(address: number, size: number): number {
    return this.exitingRead("mmio-read", address, size);
  }

  /** MMIO write to a range the VMM marked as exiting (called by the Vm). */
  mmioExitWrite(address: number, size: number, value: number): void {
    this.queueExit({ kind: "mmio-write", address, size, value: value >>> 0 });
  }

  /**
   * Supplies the value of the io-in or mmio-read exit run() last returned; the next run()
   * re-executes the reading instruction, which receives it.
   */
  completeRead(value: number): void {
    const p = this.pendingRead;
    if (p === null || p.value !== null) {
      throw new HvError("bad-state", `vcpu ${this.id}: no io-in or mmio-read exit is waiting for a value`);
    }
    const max = p.size === 1 ? 0xff : p.size === 2 ? 0xffff : 0xffff_ffff;
    p.value = int(`${p.kind} value`, value, 0, max);
  }

  // ---------------------------------------------------------------- MSRs

  private apicMsr(index: number): boolean {
    return (
      index === MSR.IA32_APIC_BASE ||
      index === MSR_TSC_DEADLINE ||
      (index >= X2APIC_FIRST && index <= X2APIC_LAST)
    );
  }

  /** Guest RDMSR of an MSR the CPU does not own. */
  private guestReadMsr(index: number): bigint | "gp" {
    if (index === MSR.IA32_APIC_BASE) return this.apic.getApicBase();
    if (this.apicMsr(index)) return this.apic.readMsr(index);
    if (this.pinning.ownsMsr(index)) return this.pinning.readMsr(index, false);
    return "gp";
  }

  /** Guest WRMSR of an MSR the CPU does not own; false = #GP. */
  private guestWriteMsr(index: number, value: bigint): boolean {
    let ok: boolean;
    if (index === MSR.IA32_APIC_BASE) ok = this.apic.setApicBase(value, false);
    else if (this.apicMsr(index)) ok = this.apic.writeMsr(index, value);
    else if (this.pinning.ownsMsr(index)) {
      ok = this.pinning.writeMsr(index, value, false) === "ok";
      this.updateWriteExitMasks();
    } else return false;
    this.apicChanged();
    return ok;
  }

  /** The MSR indices getMsrs/setMsrs accept (KVM_GET_MSR_INDEX_LIST). */
  getMsrIndexList(): number[] {
    return [...CPU_MSRS, MSR.IA32_APIC_BASE, MSR_TSC_DEADLINE, MSR_SMBASE, ...this.pinning.msrIndexList()];
  }

  private checkMsrIndex(index: unknown): number {
    if (typeof index !== "number" || !Number.isInteger(index) || !this.getMsrIndexList().includes(index)) {
      const shown = typeof index === "number" ? `0x${index.toString(16)}` : String(index);
      throw new HvError(
        "bad-msr",
        `unknown MSR index ${shown}: getMsrIndexList() lists the ${this.getMsrIndexList().length} MSRs this vCPU has`,
      );
    }
    return index;
  }

  /** Host-initiated read of one MSR (KVM_GET_MSRS for one index). */
  getMsr(index: number): bigint {
    this.checkMsrIndex(index);
    if (index === MSR.IA32_APIC_BASE) return this.apic.getApicBase();
    if (index === MSR_SMBASE) return BigInt(this.cpu.smbase >>> 0);
    if (index === MSR_TSC_DEADLINE) {
      const v = this.apic.readMsr(index);
      return v === "gp" ? 0n : v;
    }
    if (this.pinning.ownsMsr(index)) {
      const v = this.pinning.readMsr(index, true);
      if (v === "gp") throw new HvError("bad-msr", `MSR 0x${index.toString(16)} cannot be read`);
      return v;
    }
    const lo = readMsr(this.cpu, index);
    return joinU64(lo, this.cpu.rhi);
  }

  /** Host-initiated reads (KVM_GET_MSRS). */
  getMsrs(indices: readonly number[]): MsrEntry[] {
    if (!Array.isArray(indices))
      throw new HvError("bad-argument", "getMsrs: expected an array of MSR indices");
    indices.forEach((i) => this.checkMsrIndex(i));
    return indices.map((index) => ({ index, value: this.getMsr(index) }));
  }

  /**
   * Host-initiated write of one MSR (KVM_SET_MSRS for one index). Host writes follow the
   * host rules (e.g. CR-pin MSRs may be cleared); a value the MSR cannot hold is an HvError.
   */
  setMsr(index: number, value: bigint): void {
    this.setMsrs([{ index, value }]);
  }

  /**
   * Host-initiated writes (KVM_SET_MSRS). All or nothing: if one entry is refused, the ones
   * before it are restored and HvError names the refused entry.
   */
  setMsrs(entries: readonly MsrEntry[]): void {
    if (!Array.isArray(entries))
      throw new HvError("bad-argument", "setMsrs: expected an array of {index, value}");
    for (const e of entries) {
      this.checkMsrIndex(e?.index);
      u64(`MSR 0x${e.index.toString(16)}`, e.value);
    }
    const undo: MsrEntry[] = [];
    try {
      for (const e of entries) {
        const old = this.getMsr(e.index);
        this.writeOneMsr(e.index, e.value);
        undo.push({ index: e.index, value: old });
      }
    } catch (err) {
      for (const u of undo.reverse()) this.writeOneMsr(u.index, u.value);
      throw err;
    } finally {
      this.updateWriteExitMasks();
    }
  }

  private writeOneMsr(index: number, value: bigint): void {
    const name = `MSR 0x${index.toString(16)}`;
    if (index === MSR.IA32_APIC_BASE) {
      if (!this.apic.setApicBase(value, true)) {
        throw new HvError("bad-value", `${name}: 0x${value.toString(16)} is not a valid IA32_APIC_BASE`);
      }
      this.apicChanged();
      return;
    }
    if (index === MSR_SMBASE) {
      if (value > 0xffff_ffffn) throw new HvError("bad-value", `${name}: SMBASE is a 32-bit address`);
      this.cpu.smbase = Number(value);
      return;
    }
    if (index === MSR_TSC_DEADLINE) {
      if (!this.apic.writeMsr(index, value)) throw new HvError("bad-value", `${name}: value refused`);
      this.apicChanged();
      return;
    }
    if (this.pinning.ownsMsr(index)) {
      if (this.pinning.writeMsr(index, value, true) !== "ok") {
        throw new HvError(
          "bad-value",
          `${name}: 0x${value.toString(16)} refused by the ${this.host.pinning.profile} CR-pinning rules (bits outside the allowed mask, or pinned both high and low)`,
        );
      }
      return;
    }
    if (index === MSR.IA32_EFER) {
      // Host writes of EFER get the setSregs consistency checks (LME/LMA/PG/PAE), as in KVM.
      this.setSregs({ efer: value });
      return;
    }
    if (index === MSR.IA32_TIME_STAMP_COUNTER) {
      this.setTsc(Number(BigInt.asUintN(53, value)));
      return;
    }
    const [lo, hi] = splitU64(value);
    try {
      writeMsr(this.cpu, index, lo, hi);
    } catch (e) {
      // A read-only MSR (IA32_MTRRCAP) or a read-only field written with the value it has:
      // accepted, so that a VMM can restore every MSR of getMsrIndexList() (migration).
      if (e instanceof CpuFault && this.getMsr(index) === value) return;
      if (e instanceof CpuFault) {
        throw new HvError("bad-value", `${name}: 0x${value.toString(16)} is not a value this MSR can hold`);
      }
      throw e;
    }
  }

  // ---------------------------------------------------------------- CPUID

  private cpuid(leaf: number, subleaf: number, native: CpuidResult): CpuidResult {
    if (this.cpuidTable) {
      const e = this.cpuidTable.get(cpuidKey(leaf, subleaf)) ?? this.cpuidTable.get(cpuidKey(leaf, 0));
      const r = e ? { eax: e.eax, ebx: e.ebx, ecx: e.ecx, edx: e.edx } : { eax: 0, ebx: 0, ecx: 0, edx: 0 };
      return this.dynamicCpuid(leaf, r, native);
    }
    return this.dynamicCpuid(leaf, this.supportedLeaf(leaf, subleaf, native), native);
  }

  /** What pinvm supports for one leaf (the processor's answer plus the hypervisor's). */
  private supportedLeaf(leaf: number, subleaf: number, native: CpuidResult): CpuidResult {
    const r = { ...native };
    if (leaf === 1) {
      r.ecx = (r.ecx | CPUID_HYPERVISOR_BIT | CPUID_X2APIC_BIT | CPUID_TSC_DEADLINE_BIT) >>> 0;
      r.edx = (r.edx | CPUID_APIC_BIT) >>> 0;
    }
    if (leaf >>> 0 >= 0x40000000 && leaf >>> 0 <= 0x4fffffff) {
      const pv = this.host.pinning.kvmCpuidLeaves().find((l) => l.leaf === leaf >>> 0);
      return pv ? { eax: pv.eax, ebx: pv.ebx, ecx: pv.ecx, edx: pv.edx } : { eax: 0, ebx: 0, ecx: 0, edx: 0 };
    }
    void subleaf;
    return r;
  }

  /** Bits that follow the vCPU's state whatever the table says (as KVM updates them). */
  private dynamicCpuid(leaf: number, r: CpuidResult, native: CpuidResult): CpuidResult {
    if (leaf === 1) {
      // EBX[31:24] initial APIC ID; EBX[23:16] logical processors; ECX[27] OSXSAVE = CR4.OSXSAVE;
      // EDX[9] APIC = IA32_APIC_BASE.EN (SDM Vol.2 CPUID, Table 3-8/3-10; Vol.3 10.4.3).
      r.ebx = ((r.ebx & 0x0000ffff) | ((this.host.vcpuCount & 0xff) << 16) | ((this.id & 0xff) << 24)) >>> 0;
      r.ecx = ((r.ecx & ~(1 << 27)) | (native.ecx & (1 << 27))) >>> 0;
      if (!(this.apic.getApicBase() & 0x800n)) r.edx = (r.edx & ~CPUID_APIC_BIT) >>> 0;
    }
    return r;
  }

  /** The CPUID leaves pinvm can offer (KVM_GET_SUPPORTED_CPUID). */
  getSupportedCpuid(): CpuidEntry[] {
    const saved = this.cpuidTable;
    this.cpuidTable = null;
    const out: CpuidEntry[] = [];
    const ask = (leaf: number, subleaf: number): CpuidResult => {
      const r = this.cpuRawCpuid(leaf, subleaf);
      return this.supportedLeaf(leaf, subleaf, r);
    };
    try {
      const maxBasic = ask(0, 0).eax;
      for (let leaf = 0; leaf <= maxBasic; leaf++) {
        const subs = leaf === 4 || leaf === 7 || leaf === 0xb || leaf === 0xd ? [0, 1, 2] : [0];
        for (const s of subs) out.push({ function: leaf, index: s, ...ask(leaf, s) });
      }
      for (const l of this.host.pinning.kvmCpuidLeaves()) {
        out.push({ function: l.leaf, index: 0, eax: l.eax, ebx: l.ebx, ecx: l.ecx, edx: l.edx });
      }
      const maxExt = ask(0x80000000, 0).eax >>> 0;
      for (let leaf = 0x80000000; leaf <= maxExt; leaf++)
        out.push({ function: leaf, index: 0, ...ask(leaf, 0) });
    } finally {
      this.cpuidTable = saved;
    }
    return out;
  }

  private cpuRawCpuid(leaf: number, subleaf: number): CpuidResult {
    // The processor's own answer, without this hypervisor's changes.
    return cpuidNative(this.cpu, leaf, subleaf);
  }

  /**
   * Sets the CPUID table the guest sees (KVM_SET_CPUID2). Leaves not in the table read as
   * zeros; the APIC ID, OSXSAVE and APIC-enabled bits of leaf 1 still follow the vCPU state.
   */
  setCpuid(entries: readonly CpuidEntry[]): void {
    if (!Array.isArray(entries))
      throw new HvError("bad-argument", "setCpuid: expected an array of CPUID entries");
    const table = new Map<string, CpuidEntry>();
    entries.forEach((e, n) => {
      const what = `setCpuid[${n}]`;
      if (typeof e !== "object" || e === null)
        throw new HvError("bad-argument", `${what}: expected an object`);
      const entry: CpuidEntry = {
        function: int(`${what}.function`, e.function, 0, 0xffff_ffff),
        index: int(`${what}.index`, e.index, 0, 0xffff_ffff),
        eax: int(`${what}.eax`, e.eax, 0, 0xffff_ffff),
        ebx: int(`${what}.ebx`, e.ebx, 0, 0xffff_ffff),
        ecx: int(`${what}.ecx`, e.ecx, 0, 0xffff_ffff),
        edx: int(`${what}.edx`, e.edx, 0, 0xffff_ffff),
      };
      const key = cpuidKey(entry.function, entry.index);
      if (table.has(key))
        throw new HvError(
          "bad-argument",
          `${what}: leaf 0x${entry.function.toString(16)}.${entry.index} given twice`,
        );
      table.set(key, entry);
    });
    this.cpuidTable = table;
  }

  /** The signature loaded into EDX by RESET/INIT: CPUID.01H:EAX as the guest sees it. */
  private signature(): number {
    const e = this.cpuidTable?.get(cpuidKey(1, 0));
    return e ? e.eax : CPUID_SIGNATURE;
  }

  // ---------------------------------------------------------------- hypercalls

  private hypercall(): boolean {
    const cpu = this.cpu;
    const reg = (n: number): bigint => joinU64(cpu.lo[n], cpu.hi[n]);
    const result = handleHypercall(
      { rax: reg(0), rbx: reg(3), rcx: reg(1), rdx: reg(2), rsi: reg(6) },
      { cpl: cpu.cpl, longMode64: cpu.long64, vcpu: this.pinning },
    );
    // A Heki configure notification would be an exit in KVM (KVM_EXIT_HEKI_CONFIGURE, opt-in);
    // pinvm's VMM has no use for it, so the hypercall completes with the resume value.
    const rax = "rax" in result ? result.rax : result.raxOnResume;
    this.updateWriteExitMasks(); // a Heki lock may have added pins
    const [lo, hi] = splitU64(rax);
    cpu.lo[0] = lo;
    cpu.hi[0] = cpu.long64 ? hi : 0;
    return true;
  }

  // ---------------------------------------------------------------- interrupts and events

  /**
   * The VMM's i8259 output (KVM_INTERRUPT for a userspace PIC): while `pending`, the vCPU
   * takes an ExtINT interrupt when the APIC passes it (APIC disabled, or LVT LINT0 in ExtINT
   * mode and unmasked) and IF=1; `acknowledge` is the INTA cycle returning the vector.
   */
  setExtInt(pending: boolean, acknowledge?: () => number): void {
    if (acknowledge) this.extIntAcknowledge = acknowledge;
    this.apic.raiseLint(0, pending);
    this.apicChanged();
  }

  private acknowledgeInterrupt(): number {
    const apic = this.apic;
    apic.setTprFromCr8(this.cpu.cr8);
    if (apic.extIntPending()) {
      // ExtINT: the vector comes from the 8259's INTA cycle, not from the APIC (SDM 10.5.1).
      apic.acknowledgeExtInt();
      const v = this.extIntAcknowledge();
      this.refreshInterrupt();
      if (v >= 0) return v;
    }
    const v = apic.pendingVector() >= 0 ? apic.acknowledge() : -1;
    this.refreshInterrupt();
    return v;
  }

  /** Recomputes the CPU's INTR line from the APIC (fixed interrupts and ExtINT). */
  private refreshInterrupt(): void {
    this.cpu.intrPending = this.apic.extIntPending() || this.apic.pendingVector() >= 0;
  }

  /** Called after anything may have changed APIC state: picks up self-directed events. */
  private apicChanged(): void {
    this.cpu.cr8 = this.apic.cr8;
    this.refreshInterrupt();
    if (this.apic.hasEvents() && this.running) this.cpu.stopRequested = true;
  }

  /**
   * Raises an SMI on this vCPU (KVM_SMI), as a chipset does for an APM control-port write;
   * it is taken at the next instruction boundary (or after RSM if the vCPU is in SMM).
   */
  injectSmi(): void {
    this.cpu.smiPending = true;
    this.interruptRun();
  }

  /** Raises an NMI on this vCPU (KVM_NMI). */
  injectNmi(): void {
    this.cpu.nmiPending = true;
    this.interruptRun();
  }

  /** Another vCPU's IPI or a device message reached this vCPU's APIC. */
  kick(): void {
    this.apicChanged();
  }

  /** Takes INIT/SIPI/NMI/SMI latched in the APIC and the timer, at an instruction boundary. */
  private processEvents(): void {
    const apic = this.apic;
    this.apic.updateTimer();
    if (apic.takeSmi()) this.cpu.smiPending = true;
    if (apic.takeNmi()) this.cpu.nmiPending = true;
    if (apic.takeInit()) this.latchedInit = true;
    const sipi = apic.takeSipi();
    // INIT is latched while in SMM and taken after RSM (reset-init-state.md section 2).
    if (this.latchedInit && !this.cpu.inSmm) {
      this.latchedInit = false;
      this.applyReset("init");
    }
    if (sipi >= 0 && this.mpState === "init-received") this.sipiVector = sipi;
    if (this.sipiVector >= 0 && this.mpState === "init-received") this.startAtSipi();
    this.cpu.cr8 = apic.cr8;
    this.refreshInterrupt();
    // Pins can change from outside this vCPU (Heki's per-VM lock on another vCPU, SMM exit).
    this.updateWriteExitMasks();
  }

  /**
   * Delivers the exception queued by setVcpuEvents through the IDT (SDM Vol.3 6.12), as
   * KVM does on the next VM entry: CR2 first for a #PF with a payload, then the usual
   * delivery with the double-fault rules (a fault while delivering it may become #DF or a
   * triple fault). If a hook (an IDT or stack in MMIO) exits during the delivery, the
   * delivery was rolled back: the exception stays queued and the exit is returned.
   */
  private deliverPendingException(): VcpuExit | null {
    const pending = this.pendingException;
    if (pending === null) return null;
    const cpu = this.cpu;
    const cr2 = cpu.cr2;
    if (pending.cr2 !== undefined) cpu.cr2 = canonical("cr2", pending.cr2);
    try {
      deliverEvent(cpu, pending.vector, pending.errorCode ?? -1, "exception");
    } catch (e) {
      if (!(e instanceof InstructionExit)) throw e;
      cpu.cr2 = cr2;
      return (
        this.exitQueue.shift() ?? {
          kind: "internal-error",
          suberror: "emulation",
          detail: `injecting vector ${pending.vector}: ${e.reason}`,
        }
      );
    }
    this.pendingException = null;
    return null;
  }

  /** SIPI: CS.selector = vector << 8, CS.base = vector << 12, IP = 0 (SDM 8.4.3 / 10.6.1). */
  private startAtSipi(): void {
    const v = this.sipiVector;
    const cpu = this.cpu;
    cpu.segSel[SEG.CS] = v << 8;
    cpu.segBase[SEG.CS] = v << 12;
    cpu.rip = 0;
    cpu.halted = false;
    this.sipiVector = -1;
    this.mpState = "runnable";
    cpu.flushCodeCache();
  }

  // ---------------------------------------------------------------- run

  /** Instructions retired by this vCPU since it was created (never reset). */
  get instructionsRetired(): number {
    return this.retired;
  }

  /** The vCPU's local time in VM-clock nanoseconds. */
  get time(): number {
    return this.localTime;
  }

  /** The TSC value now. */
  get tsc(): number {
    return this.localTime + this.tscDelta;
  }

  private setTsc(value: number): void {
    this.tscDelta = value - this.localTime;
    this.syncTscOffset();
  }

  private syncTscOffset(): void {
    this.cpu.tscOffset = this.localTime + this.tscDelta - this.cpu.icount;
  }

  /**
   * VM-clock time of this vCPU's next timer event (its APIC timer), if one is armed; the
   * VMM uses it to sleep a halted machine until then.
   */
  nextEventTime(): number | undefined {
    const deadline = this.apic.nextTimerDeadline();
    if (deadline === undefined) return undefined;
    return Math.max(this.localTime, deadline - this.tscDelta);
  }

  /**
   * Run guest code until an exit, executing at most about `budget` instructions. Returns
   * why it stopped; `budget-exhausted` lets the VMM do device work between slices.
   */
  run(budget: number = DEFAULT_RUN_BUDGET): VcpuExit {
    int("run budget", budget, 1, Number.MAX_SAFE_INTEGER);
    if (this.running) throw new HvError("bad-state", `vcpu ${this.id}: run() called while already running`);
    const queued = this.exitQueue.shift();
    if (queued) return queued;
    if (this.pendingRead !== null && this.pendingRead.value === null) {
      throw new HvError(
        "bad-state",
        `vcpu ${this.id}: the ${this.pendingRead.kind} exit at 0x${this.pendingRead.where.toString(16)} needs completeRead(value) before run()`,
      );
    }
    if (this.stopPending) {
      this.stopPending = false;
      return { kind: "stopped" };
    }
    const cpu = this.cpu;
    this.localTime = Math.max(this.localTime, this.host.now());
    this.syncTscOffset();
    this.running = true;
    this.host.setRunning(this);
    try {
      let left = budget;
      for (;;) {
        const event = this.host.systemEvent;
        if (event !== null) return { kind: "system-event", event };
        this.processEvents();
        if (cpu.shutdownState) return { kind: "shutdown", reason: this.shutdownReason || "shutdown" };
        if (this.mpState === "uninitialized" || this.mpState === "init-received") return { kind: "hlt" };
        if (this.pendingException !== null) {
          const stop = this.deliverPendingException();
          if (stop !== null) return stop;
          if (cpu.shutdownState) return { kind: "shutdown", reason: this.shutdownReason || "shutdown" };
        }
        if (
          this.debug.breakpoints.size > 0 &&
          !this.resumeFromBreakpoint &&
          this.debug.breakpoints.has(cpu.rip)
        ) {
          this.resumeFromBreakpoint = true;
          return { kind: "debug", reason: "breakpoint", rip: BigInt.asUintN(64, BigInt(cpu.rip)) };
        }
        const stepping = this.debug.singleStep || this.debug.breakpoints.size > 0;
        let slice = stepping ? 1 : left;
        const deadline = this.apic.nextTimerDeadline();
        if (deadline !== undefined)
          slice = Math.max(1, Math.min(slice, deadline - (cpu.icount + cpu.tscOffset)));
        const startCount = cpu.icount;
        cpu.stopRequested = false;
        cpu.singleStep = stepping;
        const reason = cpu.run(slice);
        cpu.singleStep = false;
        const executed = cpu.icount - startCount;
        this.localTime += executed;
        this.retired += executed;
        left -= executed;
        this.tscDelta = cpu.icount + cpu.tscOffset - this.localTime;
        if (executed > 0) this.resumeFromBreakpoint = false;
        const exit = this.exitQueue.shift();
        if (exit) return exit;
        if (reason === "exit") {
          // Abandoned by something that queued no exit: report it rather than retry forever.
          return {
            kind: "internal-error",
            suberror: "emulation",
            detail: `instruction at 0x${cpu.instructionRip.toString(16)} abandoned: ${cpu.lastExit?.reason ?? "exit"}`,
          };
        }
        if (reason === "shutdown" || cpu.shutdownState) {
          return { kind: "shutdown", reason: this.shutdownReason || "shutdown" };
        }
        if (this.stopPending) {
          this.stopPending = false;
          return { kind: "stopped" };
        }
        if (reason === "halt") {
          this.processEvents();
          if (cpu.halted) return { kind: "hlt" };
          continue;
        }
        if (this.debug.singleStep && executed > 0) {
          return { kind: "debug", reason: "single-step", rip: BigInt.asUintN(64, BigInt(cpu.rip)) };
        }
        if (left <= 0) return { kind: "budget-exhausted" };
      }
    } finally {
      this.running = false;
      this.host.setRunning(null);
      this.syncTscOffset();
    }
  }

  /**
   * Make the current (or next) run() return `{ kind: "stopped" }` at the next instruction
   * boundary. Safe to call from a port-I/O handler while the vCPU runs.
   */
  requestStop(): void {
    this.stopPending = true;
    this.cpu.stopRequested = true;
  }

  /** Ends the current run() at the next instruction boundary without a `stopped` exit. */
  interruptRun(): void {
    if (this.running) this.cpu.stopRequested = true;
  }

  /** Sets or clears single-stepping and breakpoints (KVM_SET_GUEST_DEBUG). */
  setGuestDebug(debug: GuestDebug): void {
    const bps = new Set<number>();
    for (const b of debug.breakpoints ?? []) {
      const v = u64("breakpoint", b);
      bps.add(Number(BigInt.asIntN(64, v)));
    }
    this.debug = { singleStep: debug.singleStep === true, breakpoints: bps };
    this.resumeFromBreakpoint = false;
  }

  /** True while the vCPU is halted (HLT, waiting for an interrupt). */
  get halted(): boolean {
    return this.cpu.halted;
  }

  /** True when the vCPU can execute (not waiting for INIT/SIPI, not halted, not shut down). */
  get runnable(): boolean {
    return this.mpState === "runnable" && !this.cpu.halted && !this.cpu.shutdownState;
  }

  /** True when RFLAGS.IF is set (maskable interrupts enabled). */
  get interruptsEnabled(): boolean {
    return (this.cpu.getEflags() & FLAGS.IF) !== 0;
  }

  // ---------------------------------------------------------------- state API

  /** General-purpose registers, RIP and RFLAGS (KVM_GET_REGS). */
  getRegs(): Regs {
    return registers.getRegs(this.cpu);
  }

  /** Write some or all registers (KVM_SET_REGS; missing keys keep their value). */
  setRegs(regs: Partial<Regs>): void {
    registers.setRegs(this.cpu, regs);
  }

  /** Segment, descriptor-table and control registers (KVM_GET_SREGS). */
  getSregs(): Sregs {
    return registers.getSregs(this.cpu);
  }

  /**
   * Write some or all system registers (KVM_SET_SREGS). Not subject to CR pinning: the VMM
   * owns the vCPU and must be able to restore migrated or reset state (docs/cr-pinning.md).
   */
  setSregs(sregs: Partial<Sregs>): void {
    registers.setSregs(this.cpu, sregs);
    this.updateWriteExitMasks();
    this.apic.setTprFromCr8(this.cpu.cr8);
    this.refreshInterrupt();
  }

  /** x87 and SSE state (KVM_GET_FPU). */
  getFpu(): Fpu {
    return registers.getFpu(this.cpu);
  }

  /** Write the x87 and SSE state (KVM_SET_FPU). */
  setFpu(fpu: Fpu): void {
    registers.setFpu(this.cpu, fpu);
  }

  /** DR0-DR3, DR6, DR7 (KVM_GET_DEBUGREGS). */
  getDebugRegs(): DebugRegs {
    return registers.getDebugRegs(this.cpu);
  }

  /** Write DR0-DR3, DR6, DR7 (KVM_SET_DEBUGREGS). */
  setDebugRegs(regs: DebugRegs): void {
    registers.setDebugRegs(this.cpu, regs);
  }

  /** XCR0 (KVM_GET_XCRS). */
  getXcr0(): bigint {
    return registers.getXcr0(this.cpu);
  }

  /** Write XCR0 (KVM_SET_XCRS). */
  setXcr0(value: bigint): void {
    registers.setXcr0(this.cpu, value);
  }

  /** The local APIC's state (KVM_GET_LAPIC), a versioned plain object. */
  getLapic(): unknown {
    return this.apic.save();
  }

  /** Restores the local APIC (KVM_SET_LAPIC); validated, all or nothing. */
  setLapic(state: unknown): void {
    try {
      this.apic.load(state);
    } catch (e) {
      if (e instanceof HvError) throw e;
      throw new HvError("bad-state", `setLapic: ${(e as Error).message}`);
    }
    this.apicChanged();
  }

  /** The multiprocessing state (KVM_GET_MP_STATE). */
  getMpState(): MpState {
    if (this.mpState === "runnable" && this.cpu.halted) return "halted";
    if (this.mpState === "init-received" && this.sipiVector >= 0) return "sipi-received";
    return this.mpState;
  }

  /**
   * Sets the multiprocessing state (KVM_SET_MP_STATE). Registers are not touched; a vCPU put
   * in "sipi-received" starts at the SIPI vector given in the vCPU events. INIT-related
   * states are refused while INIT is blocked (in SMM), as KVM does.
   */
  setMpState(state: MpState): void {
    if (!MP_STATES.includes(state)) {
      throw new HvError(
        "bad-value",
        `mp state: expected one of ${MP_STATES.join(", ")}, got ${String(state)}`,
      );
    }
    if ((state === "init-received" || state === "sipi-received") && this.cpu.inSmm) {
      throw new HvError("bad-state", `mp state ${state}: INIT is blocked while the vCPU is in SMM`);
    }
    if (state === "sipi-received" && this.sipiVector < 0) {
      throw new HvError("bad-state", "mp state sipi-received: set a SIPI vector with setVcpuEvents first");
    }
    this.cpu.halted = state === "halted";
    // The VMM decided the vCPU's new state: a shutdown (triple fault) is over.
    this.cpu.shutdownState = false;
    this.mpState = state === "halted" ? "runnable" : state === "sipi-received" ? "init-received" : state;
  }

  /** Pending and blocked events (KVM_GET_VCPU_EVENTS). */
  getVcpuEvents(): VcpuEvents {
    const cpu = this.cpu;
    const pending = this.pendingException;
    return {
      exception: pending === null ? null : { ...pending },
      interruptShadow: cpu.interruptShadow,
      nmi: { pending: cpu.nmiPending, masked: cpu.nmiBlocked },
      smi: { smm: cpu.inSmm, pending: cpu.smiPending, latchedInit: this.latchedInit },
      sipiVector: this.sipiVector,
    };
  }

  /** Sets pending and blocked events (KVM_SET_VCPU_EVENTS); every field is required. */
  setVcpuEvents(events: VcpuEvents): void {
    const bool = (what: string, v: unknown): boolean => {
      if (typeof v !== "boolean") throw new HvError("bad-value", `${what}: expected a boolean`);
      return v;
    };
    if (typeof events !== "object" || events === null)
      throw new HvError("bad-argument", "setVcpuEvents: expected an object");
    const exception = checkPendingException(events.exception, "exception");
    const shadow = bool("interruptShadow", events.interruptShadow);
    const nmiPending = bool("nmi.pending", events.nmi?.pending);
    const nmiMasked = bool("nmi.masked", events.nmi?.masked);
    const smm = bool("smi.smm", events.smi?.smm);
    const smiPending = bool("smi.pending", events.smi?.pending);
    const latchedInit = bool("smi.latchedInit", events.smi?.latchedInit);
    const sipi = int("sipiVector", events.sipiVector, -1, 255);
    if (latchedInit && !smm)
      throw new HvError("bad-state", "smi.latchedInit: an INIT can only be latched in SMM");
    const cpu = this.cpu;
    cpu.interruptShadow = shadow;
    cpu.nmiPending = nmiPending;
    cpu.nmiBlocked = nmiMasked;
    cpu.smiPending = smiPending;
    // Leaving (or, when restoring saved state, entering) SMM only flips the SMM flag, as
    // KVM_SET_VCPU_EVENTS does; the VMM restores the matching registers itself.
    cpu.inSmm = smm;
    this.latchedInit = latchedInit;
    this.sipiVector = sipi;
    this.pendingException = exception;
  }

  // ---------------------------------------------------------------- reset

  /**
   * Applies one column of the power-up/RESET/INIT state table (src/x86/reset-state.ts) to
   * every piece of state this vCPU owns: registers and segment caches, CR0 (CD/NW kept on
   * INIT), EFER, DRs, x87/SSE and MSRs (kept on INIT), TSC (kept on INIT), the local APIC
   * (ID and IA32_APIC_BASE kept on INIT), SMBASE, PAT, the CR pins (per the VM's
   * pins-on-init option for INIT; cleared by power-on and RESET) and the mp state (the BSP
   * runs; an AP waits for a SIPI). This is the "full vCPU state reset" call proposed in the
   * 2019 review thread; KVM itself has only the INIT path.
   */
  reset(kind: VcpuResetKind): void {
    if (kind !== "power-on" && kind !== "reset" && kind !== "init") {
      throw new HvError("bad-value", `reset kind: expected power-on, reset or init, got ${String(kind)}`);
    }
    if (this.running) throw new HvError("bad-state", `vcpu ${this.id}: reset() while run() is executing`);
    this.applyReset(kind);
  }

  private applyReset(kind: VcpuResetKind): void {
    const cpuKind: ResetKind = kind === "power-on" ? "power-up" : kind;
    const hw = kind !== "init";
    const tsc = this.tsc;
    resetCpu(this.cpu, cpuKind, this.signature());
    this.apic.reset(cpuKind);
    this.pinning.reset(cpuKind);
    this.localTime = Math.max(this.localTime, this.host.now());
    this.tscDelta = hw ? -this.localTime : tsc - this.localTime;
    this.syncTscOffset();
    this.exitQueue.length = 0;
    this.pendingRead = null;
    this.latchedInit = false;
    this.sipiVector = -1;
    // An exception the VMM queued is dropped by INIT and RESET (KVM's kvm_vcpu_reset clears
    // the pending exception too).
    this.pendingException = null;
    this.shutdownReason = "";
    this.resumeFromBreakpoint = false;
    this.mpState = this.isBsp ? "runnable" : "init-received";
    this.cpu.cr8 = 0;
    this.refreshInterrupt();
    this.updateWriteExitMasks();
  }

  // ---------------------------------------------------------------- save / load

  /**
   * The complete vCPU — processor, local APIC, pins, mp state, time — as one versioned plain
   * object for snapshots and migration (bigints inside; see src/vmm/snapshot for encoding).
   */
  saveState(): VcpuSavedState {
    if (this.running) throw new HvError("bad-state", `vcpu ${this.id}: saveState() while run() is executing`);
    if (this.pendingRead !== null || this.exitQueue.length > 0) {
      throw new HvError("bad-state", `vcpu ${this.id}: finish the pending exit (run() again) before saving`);
    }
    return { version: 1, cpu: saveCpuState(this.cpu), hv: this.saveHvState() };
  }

  /** Restores what saveState returned; validated first, all or nothing (HvError). */
  loadState(state: unknown): void {
    const s = state as Partial<VcpuSavedState>;
    if (typeof s !== "object" || s === null || s.version !== 1) {
      throw new HvError("bad-state", "vCPU state: expected an object with version 1");
    }
    const before = this.saveHvState();
    this.loadHvState(s.hv);
    try {
      loadCpuState(this.cpu, s.cpu as CpuState);
    } catch (e) {
      this.loadHvState(before);
      if (e instanceof CpuStateError) throw new HvError("bad-state", e.message);
      throw e;
    }
    this.cpu.flushTlb(false);
    this.cpu.flushCodeCache();
    this.syncTscOffset();
    this.apicChanged();
    this.updateWriteExitMasks();
  }

  /** Everything hv keeps about this vCPU besides the processor and the APIC, for snapshots. */
  saveHvState(): VcpuHvState {
    return {
      version: 1,
      mpState: this.mpState,
      latchedInit: this.latchedInit,
      sipiVector: this.sipiVector,
      ...(this.pendingException !== null ? { pendingException: { ...this.pendingException } } : {}),
      localTime: this.localTime,
      tscDelta: this.tscDelta,
      retired: this.retired,
      cpuid: this.cpuidTable ? [...this.cpuidTable.values()] : null,
      pinning: this.pinning.save(),
      apic: this.apic.save(),
    };
  }

  /** Restores what saveHvState returned; validates everything first (HvError). */
  loadHvState(state: unknown): void {
    const s = state as Partial<VcpuHvState>;
    if (typeof s !== "object" || s === null || s.version !== 1) {
      throw new HvError("bad-state", "vCPU hv state: expected an object with version 1");
    }
    if (
      !MP_STATES.includes(s.mpState as MpState) ||
      s.mpState === "halted" ||
      s.mpState === "sipi-received"
    ) {
      throw new HvError("bad-state", `vCPU hv state: bad mpState ${String(s.mpState)}`);
    }
    const num = (what: string, v: unknown): number => {
      if (typeof v !== "number" || !Number.isFinite(v))
        throw new HvError("bad-state", `vCPU hv state: ${what} must be a number`);
      return v;
    };
    const sipi = int("sipiVector", s.sipiVector, -1, 255);
    const localTime = num("localTime", s.localTime);
    const tscDelta = num("tscDelta", s.tscDelta);
    const retired = num("retired", s.retired);
    if (typeof s.latchedInit !== "boolean") {
      throw new HvError("bad-state", "vCPU hv state: latchedInit must be a boolean");
    }
    let pendingException: PendingException | null;
    try {
      pendingException = checkPendingException(s.pendingException ?? null, "pendingException");
    } catch (e) {
      throw new HvError("bad-state", `vCPU hv state: ${(e as Error).message}`);
    }
    const savedCpuid = this.cpuidTable;
    const savedPins = this.pinning.save();
    const savedApic = this.apic.save();
    try {
      if (s.cpuid === null) this.cpuidTable = null;
      else this.setCpuid(s.cpuid as CpuidEntry[]);
      this.pinning.load(s.pinning);
      this.apic.load(s.apic);
    } catch (e) {
      this.cpuidTable = savedCpuid;
      this.pinning.load(savedPins);
      this.apic.load(savedApic);
      throw e instanceof HvError ? e : new HvError("bad-state", `vCPU hv state: ${(e as Error).message}`);
    }
    this.mpState = s.mpState as MpState;
    this.latchedInit = s.latchedInit;
    this.sipiVector = sipi;
    this.pendingException = pendingException;
    this.localTime = localTime;
    this.tscDelta = tscDelta;
    this.retired = retired;
    this.exitQueue.length = 0;
    this.pendingRead = null;
    this.syncTscOffset();
    this.apicChanged();
  }
}

/** A whole vCPU in a snapshot (Vcpu.saveState). */
export interface VcpuSavedState {
  version: 1;
  cpu: CpuState;
  hv: VcpuHvState;
}

/** Hypervisor-side vCPU state in a snapshot. */
export interface VcpuHvState {
  version: 1;
  mpState: MpState;
  latchedInit: boolean;
  sipiVector: number;
  /** An exception queued by setVcpuEvents and not yet delivered (absent: none). */
  pendingException?: PendingException;
  localTime: number;
  tscDelta: number;
  retired: number;
  cpuid: CpuidEntry[] | null;
  pinning: unknown;
  apic: unknown;
}

/** Vectors that push an error code (SDM Vol.3 6.13, Table 6-1). */
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21]);

/**
 * Validates an exception for setVcpuEvents / loadState: vector 0-31 but not 2 (an NMI is
 * queued through `nmi.pending`, as KVM_SET_VCPU_EVENTS requires), an error code exactly for
 * the vectors that push one (32 bits), `cr2` only for #PF (a 64-bit canonical address, as
 * KVM_SET_SREGS takes CR2). Returns a copy.
 */
function checkPendingException(value: unknown, what: string): PendingException | null {
  if (value === null) return null;
  if (typeof value !== "object") throw new HvError("bad-value", `${what}: expected null or an object`);
  const e = value as Partial<PendingException>;
  const vector = int(`${what}.vector`, e.vector, 0, 31);
  if (vector === 2)
    throw new HvError("bad-value", `${what}.vector: queue an NMI with nmi.pending, not vector 2`);
  let errorCode: number | null = null;
  if (ERROR_CODE_VECTORS.has(vector)) {
    errorCode = int(`${what}.errorCode`, e.errorCode, 0, 0xffff_ffff);
  } else if (e.errorCode !== null && e.errorCode !== undefined) {
    throw new HvError("bad-value", `${what}.errorCode: vector ${vector} pushes no error code; pass null`);
  }
  const out: PendingException = { vector, errorCode };
  if (e.cr2 !== undefined) {
    if (vector !== 14)
      throw new HvError("bad-value", `${what}.cr2: only a #PF (vector 14) carries a CR2 payload`);
    out.cr2 = u64(`${what}.cr2`, e.cr2);
    canonical(`${what}.cr2`, out.cr2);
  }
  return out;
}

function cpuidKey(leaf: number, subleaf: number): string {
  return `${leaf >>> 0}.${subleaf >>> 0}`;
}

/** Violations as the exits report them (re-exported for the VMM). */
export type { Violation };
