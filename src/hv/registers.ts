/**
 * Host-side access to a processor's register state in the shapes of src/hv/state.ts (KVM's
 * KVM_GET/SET_REGS, _SREGS, _FPU, _DEBUGREGS, _XCRS). Setters validate the whole argument
 * and throw HvError before changing anything; they are the VMM's tools and are not subject
 * to guest-side policy such as CR pinning (see docs/cr-pinning.md).
 */
import type { Cpu } from "../cpu/cpu.js";
import { Float80 } from "../cpu/fpu/float80.js";
import { XCR0_SUPPORTED } from "../cpu/ops/msr-cpuid.js";
import { CR0, CR4, EFER, XCR0 } from "../x86/cr.js";
import { FLAGS } from "../x86/eflags.js";
import { ATTR, SEG } from "../x86/segment.js";
import {
  canonical,
  checkKeys,
  fromAddress,
  int,
  joinU64,
  low32,
  segmentFromCpu,
  segmentToCpu,
  splitU64,
  tableToCpu,
  u64,
  type CpuSegment,
} from "./convert.js";
import { HvError } from "./errors.js";
import {
  FPU_KEYS,
  GPR_NAMES,
  REGS_KEYS,
  SEGMENT_NAMES,
  SREGS_KEYS,
  type DebugRegs,
  type Fpu,
  type Regs,
  type Sregs,
} from "./state.js";

/** General-purpose registers, RIP and RFLAGS (KVM_GET_REGS). */
export function getRegs(cpu: Cpu): Regs {
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
export function setRegs(cpu: Cpu, regs: Partial<Regs>): void {
  checkKeys("setRegs", regs, REGS_KEYS);
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
export function getSregs(cpu: Cpu): Sregs {
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
export function setSregs(cpu: Cpu, sregs: Partial<Sregs>): void {
  checkKeys("setSregs", sregs, SREGS_KEYS);
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
    if (!(efer & EFER.LMA)) throw new HvError("bad-state", "long mode (EFER.LME and CR0.PG) needs EFER.LMA");
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

/** x87 and SSE state (KVM_GET_FPU). */
export function getFpu(cpu: Cpu): Fpu {
  const x = cpu.x87;
  const top = (x.fsw >> 11) & 7;
  const st: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) st.push(hexToBytes(x.regs[(top + i) & 7].toHex()));
  const xmm: Uint8Array[] = [];
  for (let r = 0; r < 16; r++) xmm.push(cpu.sse.bytes.slice(r * 16, r * 16 + 16));
  return {
    fcw: x.fcw & 0xffff,
    fsw: x.fsw & 0xffff,
    ftw: x.ftw & 0xffff,
    fop: x.fop & 0x7ff,
    fip: joinU64(x.fipLo, x.fipHi),
    fcs: x.fcs & 0xffff,
    fdp: joinU64(x.fdpLo, x.fdpHi),
    fds: x.fds & 0xffff,
    st,
    xmm,
    mxcsr: cpu.sse.mxcsr >>> 0,
  };
}

/** MXCSR bits that exist (SDM Vol.1 10.2.3; DAZ included, MXCSR_MASK FFFFH). */
const MXCSR_VALID = 0xffff;

/** Write the x87 and SSE state (KVM_SET_FPU); every field is required. */
export function setFpu(cpu: Cpu, fpu: Fpu): void {
  checkKeys("setFpu", fpu, FPU_KEYS);
  for (const key of FPU_KEYS) {
    if (fpu[key] === undefined) throw new HvError("bad-argument", `setFpu: ${key} missing`);
  }
  const fcw = int("fcw", fpu.fcw, 0, 0xffff);
  const fsw = int("fsw", fpu.fsw, 0, 0xffff);
  const ftw = int("ftw", fpu.ftw, 0, 0xffff);
  const fop = int("fop", fpu.fop, 0, 0x7ff);
  const [fipLo, fipHi] = splitU64(u64("fip", fpu.fip));
  const [fdpLo, fdpHi] = splitU64(u64("fdp", fpu.fdp));
  const fcs = int("fcs", fpu.fcs, 0, 0xffff);
  const fds = int("fds", fpu.fds, 0, 0xffff);
  const mxcsr = int("mxcsr", fpu.mxcsr, 0, 0xffff_ffff);
  if (mxcsr & ~MXCSR_VALID) {
    throw new HvError("bad-value", `mxcsr: 0x${mxcsr.toString(16)} sets reserved bits (MXCSR_MASK FFFFH)`);
  }
  const bytes = (what: string, v: unknown, count: number, len: number): Uint8Array[] => {
    if (!Array.isArray(v) || v.length !== count) {
      throw new HvError("bad-value", `${what}: expected ${count} Uint8Arrays of ${len} bytes`);
    }
    return v.map((b: unknown, n) => {
      if (!(b instanceof Uint8Array) || b.length !== len) {
        throw new HvError("bad-value", `${what}[${n}]: expected a Uint8Array of ${len} bytes`);
      }
      return b;
    });
  };
  const st = bytes("st", fpu.st, 8, 10);
  const xmm = bytes("xmm", fpu.xmm, 16, 16);
  const x = cpu.x87;
  const top = (fsw >> 11) & 7;
  for (let i = 0; i < 8; i++) x.regs[(top + i) & 7].copy(Float80.fromHex(bytesToHex(st[i])));
  x.fcw = fcw;
  x.fsw = fsw;
  x.ftw = ftw;
  x.fop = fop;
  x.fipLo = fipLo;
  x.fipHi = fipHi;
  x.fcs = fcs;
  x.fdpLo = fdpLo;
  x.fdpHi = fdpHi;
  x.fds = fds;
  for (let r = 0; r < 16; r++) cpu.sse.bytes.set(xmm[r], r * 16);
  cpu.sse.mxcsr = mxcsr;
}

/** 10 little-endian bytes from Float80's 20-hex-digit big-endian form. */
function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(10);
  for (let i = 0; i < 10; i++) out[i] = parseInt(hex.slice(18 - 2 * i, 20 - 2 * i), 16);
  return out;
}

/** Float80's 20-hex-digit big-endian form of 10 little-endian bytes. */
function bytesToHex(b: Uint8Array): string {
  let s = "";
  for (let i = 9; i >= 0; i--) s += b[i].toString(16).padStart(2, "0");
  return s;
}

/** DR0-DR3, DR6 and DR7 (KVM_GET_DEBUGREGS). */
export function getDebugRegs(cpu: Cpu): DebugRegs {
  const dr = (n: number): bigint => joinU64(cpu.drLo[n], cpu.drHi[n]);
  return { db: [dr(0), dr(1), dr(2), dr(3)], dr6: dr(6), dr7: dr(7) };
}

/** Write DR0-DR3, DR6, DR7 (KVM_SET_DEBUGREGS): DR6/DR7 bits 63:32 must be 0 (SDM 17.2). */
export function setDebugRegs(cpu: Cpu, regs: DebugRegs): void {
  checkKeys("setDebugRegs", regs, ["db", "dr6", "dr7"]);
  if (!Array.isArray(regs.db) || regs.db.length !== 4) {
    throw new HvError("bad-value", "db: expected 4 bigints (DR0-DR3)");
  }
  const db = regs.db.map((v, n) => splitU64(u64(`db[${n}]`, v)));
  const dr6 = low32("dr6", u64("dr6", regs.dr6));
  const dr7 = low32("dr7", u64("dr7", regs.dr7));
  db.forEach(([lo, hi], n) => {
    cpu.drLo[n] = lo;
    cpu.drHi[n] = hi;
  });
  cpu.drLo[6] = dr6;
  cpu.drHi[6] = 0;
  cpu.drLo[7] = dr7;
  cpu.drHi[7] = 0;
}

/** XCR0 (KVM_GET_XCRS). */
export function getXcr0(cpu: Cpu): bigint {
  return BigInt(cpu.xcr0 >>> 0);
}

/** Write XCR0 (KVM_SET_XCRS): x87 must be set, SSE/AVX rules as XSETBV (SDM Vol.1 13.3). */
export function setXcr0(cpu: Cpu, value: bigint): void {
  const v = low32("xcr0", u64("xcr0", value));
  if (!(v & XCR0.X87) || v & ~XCR0_SUPPORTED) {
    throw new HvError(
      "bad-value",
      `xcr0: 0x${v.toString(16)} is not a valid XCR0 for this CPU (supported 0x${XCR0_SUPPORTED.toString(16)}, x87 required)`,
    );
  }
  cpu.xcr0 = v;
}
