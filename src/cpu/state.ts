/**
 * The processor state as one plain, versioned, JSON-serialisable object — read whole for
 * get-regs/sregs/msrs and snapshots, written whole with validation (a corrupt snapshot is
 * refused with a clear error and leaves the CPU untouched).
 *
 * Versions: 2 added the system-management-mode state (smbase, inSmm, smiPending,
 * nmiBlockedAtSmi). A version-1 object is still accepted and loads as "not in SMM, SMBASE
 * 30000H, no SMI pending" (the values a processor that never saw an SMI has).
 */
import type { Cpu } from "./cpu.js";
import { Float80 } from "./fpu/float80.js";

/** Version of the CpuState layout. */
export const CPU_STATE_VERSION = 2;

/** SMBASE assumed for a version-1 state (the RESET value, SDM Vol.3 34.11). */
const V1_SMBASE = 0x30000;

/** One segment register. */
export interface SegmentState {
  selector: number;
  base: number;
  limit: number;
  attr: number;
}

/** The whole architectural state of one processor. */
export interface CpuState {
  version: number;
  /** RAX..R15 as [lo, hi] unsigned 32-bit halves. */
  gprs: [number, number][];
  rip: number;
  rflags: number;
  /** ES CS SS DS FS GS LDTR TR. */
  segments: SegmentState[];
  gdtr: { base: number; limit: number };
  idtr: { base: number; limit: number };
  cr0: number;
  cr2: number;
  cr3: [number, number];
  cr4: number;
  cr8: number;
  efer: number;
  xcr0: number;
  dr: [number, number][];
  cpl: number;
  kernelGsBase: number;
  tscOffset: number;
  icount: number;
  msrs: [number, number, number][];
  halted: boolean;
  shutdown: boolean;
  interruptShadow: boolean;
  nmiBlocked: boolean;
  /** SMBASE (unsigned 32-bit). Version 2. */
  smbase: number;
  /** In system-management mode. Version 2. */
  inSmm: boolean;
  /** An SMI is pending. Version 2. */
  smiPending: boolean;
  /** NMI blocking when the SMI was taken (RSM restores it). Version 2. */
  nmiBlockedAtSmi: boolean;
  x87: {
    regs: string[];
    fcw: number;
    fsw: number;
    ftw: number;
    fop: number;
    fip: [number, number, number];
    fdp: [number, number, number];
  };
  sse: { xmm: number[]; mxcsr: number };
}

/** Thrown by loadCpuState for malformed input. */
export class CpuStateError extends Error {
  /** Create with a message naming the bad field. */
  constructor(message: string) {
    super(message);
    this.name = "CpuStateError";
  }
}

/** Read the whole state. */
export function saveCpuState(cpu: Cpu): CpuState {
  const segs: SegmentState[] = [];
  for (let s = 0; s < 8; s++) {
    segs.push({
      selector: cpu.segSel[s],
      base: cpu.segBase[s],
      limit: cpu.segLimit[s],
      attr: cpu.segAttr[s],
    });
  }
  const gprs: [number, number][] = [];
  for (let r = 0; r < 16; r++) gprs.push([cpu.lo[r] >>> 0, cpu.hi[r] >>> 0]);
  const dr: [number, number][] = [];
  for (let r = 0; r < 8; r++) dr.push([cpu.drLo[r] >>> 0, cpu.drHi[r] >>> 0]);
  const x = cpu.x87;
  return {
    version: CPU_STATE_VERSION,
    gprs,
    rip: cpu.rip,
    rflags: cpu.getEflags(),
    segments: segs,
    gdtr: { base: cpu.gdtrBase, limit: cpu.gdtrLimit },
    idtr: { base: cpu.idtrBase, limit: cpu.idtrLimit },
    cr0: cpu.cr0 >>> 0,
    cr2: cpu.cr2,
    cr3: [cpu.cr3 >>> 0, cpu.cr3Hi >>> 0],
    cr4: cpu.cr4 >>> 0,
    cr8: cpu.cr8,
    efer: cpu.efer >>> 0,
    xcr0: cpu.xcr0 >>> 0,
    dr,
    cpl: cpu.cpl,
    kernelGsBase: cpu.kernelGsBase,
    tscOffset: cpu.tscOffset,
    icount: cpu.icount,
    msrs: [...cpu.msrs.entries()].map(([k, v]) => [k, v[0] >>> 0, v[1] >>> 0]),
    halted: cpu.halted,
    shutdown: cpu.shutdownState,
    interruptShadow: cpu.interruptShadow,
    nmiBlocked: cpu.nmiBlocked,
    smbase: cpu.smbase >>> 0,
    inSmm: cpu.inSmm,
    smiPending: cpu.smiPending,
    nmiBlockedAtSmi: cpu.nmiBlockedAtSmi,
    x87: {
      regs: x.regs.map((r) => r.toHex()),
      fcw: x.fcw,
      fsw: x.fsw,
      ftw: x.ftw,
      fop: x.fop,
      fip: [x.fipLo >>> 0, x.fipHi >>> 0, x.fcs],
      fdp: [x.fdpLo >>> 0, x.fdpHi >>> 0, x.fds],
    },
    sse: { xmm: [...cpu.sse.xmm].map((v) => v >>> 0), mxcsr: cpu.sse.mxcsr },
  };
}

function u32(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new CpuStateError(`CPU state: ${what} must be an unsigned 32-bit integer`);
  }
  return v;
}

function num(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isFinite(v))
    throw new CpuStateError(`CPU state: ${what} must be a number`);
  return v;
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== "boolean") throw new CpuStateError(`CPU state: ${what} must be true or false`);
  return v;
}

function arr<T>(v: unknown, len: number, what: string): T[] {
  if (!Array.isArray(v) || v.length !== len)
    throw new CpuStateError(`CPU state: ${what} must be an array of ${len}`);
  return v as T[];
}

/** Validate `s` completely, then write it into `cpu`. Throws CpuStateError before any change. */
export function loadCpuState(cpu: Cpu, s: CpuState): void {
  if (typeof s !== "object" || s === null) throw new CpuStateError("CPU state: not an object");
  if (s.version !== CPU_STATE_VERSION && s.version !== 1) {
    throw new CpuStateError(
      `CPU state: version ${String(s.version)} is not supported (expected ${CPU_STATE_VERSION})`,
    );
  }
  const gprs = arr<[number, number]>(s.gprs, 16, "gprs").map((g, n) => [
    u32(g?.[0], `gprs[${n}].lo`),
    u32(g?.[1], `gprs[${n}].hi`),
  ]);
  const segs = arr<SegmentState>(s.segments, 8, "segments").map((g, n) => ({
    selector: u32(g?.selector, `segments[${n}].selector`) & 0xffff,
    base: num(g?.base, `segments[${n}].base`),
    limit: u32(g?.limit, `segments[${n}].limit`),
    attr: u32(g?.attr, `segments[${n}].attr`) & 0xf0ff,
  }));
  const dr = arr<[number, number]>(s.dr, 8, "dr").map((g, n) => [
    u32(g?.[0], `dr[${n}].lo`),
    u32(g?.[1], `dr[${n}].hi`),
  ]);
  const cr3 = arr<number>(s.cr3, 2, "cr3");
  const x87regs = arr<string>(s.x87?.regs, 8, "x87.regs").map((h, n) => {
    if (typeof h !== "string" || !/^[0-9a-fA-F]{20}$/.test(h))
      throw new CpuStateError(`CPU state: x87.regs[${n}] must be 20 hex digits`);
    return Float80.fromHex(h);
  });
  const xmm = arr<number>(s.sse?.xmm, 64, "sse.xmm").map((v, n) => u32(v, `sse.xmm[${n}]`));
  const msrs = (Array.isArray(s.msrs) ? s.msrs : []).map((m, n) => {
    const t = arr<number>(m, 3, `msrs[${n}]`);
    return [u32(t[0], `msrs[${n}].index`), u32(t[1], `msrs[${n}].lo`), u32(t[2], `msrs[${n}].hi`)];
  });
  const rip = num(s.rip, "rip");
  const rflags = u32(s.rflags, "rflags");
  const cpl = u32(s.cpl, "cpl");
  if (cpl > 3) throw new CpuStateError("CPU state: cpl must be 0-3");
  const fields = {
    cr0: u32(s.cr0, "cr0"),
    cr4: u32(s.cr4, "cr4"),
    efer: u32(s.efer, "efer"),
    xcr0: u32(s.xcr0, "xcr0"),
    cr8: u32(s.cr8, "cr8"),
    cr2: num(s.cr2, "cr2"),
    gdtrBase: num(s.gdtr?.base, "gdtr.base"),
    gdtrLimit: u32(s.gdtr?.limit, "gdtr.limit"),
    idtrBase: num(s.idtr?.base, "idtr.base"),
    idtrLimit: u32(s.idtr?.limit, "idtr.limit"),
    kernelGsBase: num(s.kernelGsBase, "kernelGsBase"),
    tscOffset: num(s.tscOffset, "tscOffset"),
    icount: num(s.icount, "icount"),
    fcw: u32(s.x87?.fcw, "x87.fcw"),
    fsw: u32(s.x87?.fsw, "x87.fsw"),
    ftw: u32(s.x87?.ftw, "x87.ftw"),
    fop: u32(s.x87?.fop, "x87.fop"),
    fip: arr<number>(s.x87?.fip, 3, "x87.fip").map((v, n) => u32(v, `x87.fip[${n}]`)),
    fdp: arr<number>(s.x87?.fdp, 3, "x87.fdp").map((v, n) => u32(v, `x87.fdp[${n}]`)),
    mxcsr: u32(s.sse?.mxcsr, "sse.mxcsr"),
  };
  const v1 = s.version === 1;
  const smm = {
    smbase: v1 ? V1_SMBASE : u32(s.smbase, "smbase"),
    inSmm: v1 ? false : bool(s.inSmm, "inSmm"),
    smiPending: v1 ? false : bool(s.smiPending, "smiPending"),
    nmiBlockedAtSmi: v1 ? false : bool(s.nmiBlockedAtSmi, "nmiBlockedAtSmi"),
  };
  // Everything validated: commit.
  for (let r = 0; r < 16; r++) {
    cpu.lo[r] = gprs[r][0];
    cpu.hi[r] = gprs[r][1];
  }
  for (let n = 0; n < 8; n++) {
    cpu.segSel[n] = segs[n].selector;
    cpu.segBase[n] = segs[n].base;
    cpu.segLimit[n] = segs[n].limit;
    cpu.segAttr[n] = segs[n].attr;
    cpu.drLo[n] = dr[n][0];
    cpu.drHi[n] = dr[n][1];
  }
  cpu.rip = rip;
  cpu.cr0 = fields.cr0 | 0;
  cpu.cr2 = fields.cr2;
  cpu.cr3 = u32(cr3[0], "cr3.lo");
  cpu.cr3Hi = u32(cr3[1], "cr3.hi");
  cpu.cr4 = fields.cr4;
  cpu.cr8 = fields.cr8;
  cpu.efer = fields.efer;
  cpu.xcr0 = fields.xcr0;
  cpu.gdtrBase = fields.gdtrBase;
  cpu.gdtrLimit = fields.gdtrLimit;
  cpu.idtrBase = fields.idtrBase;
  cpu.idtrLimit = fields.idtrLimit;
  cpu.kernelGsBase = fields.kernelGsBase;
  cpu.tscOffset = fields.tscOffset;
  cpu.icount = fields.icount;
  cpu.msrs.clear();
  for (const [k, lo, hi] of msrs) cpu.msrs.set(k, [lo, hi]);
  cpu.halted = !!s.halted;
  cpu.shutdownState = !!s.shutdown;
  cpu.interruptShadow = !!s.interruptShadow;
  cpu.nmiBlocked = !!s.nmiBlocked;
  cpu.smbase = smm.smbase;
  cpu.inSmm = smm.inSmm;
  cpu.smiPending = smm.smiPending;
  cpu.nmiBlockedAtSmi = smm.nmiBlockedAtSmi;
  const x = cpu.x87;
  for (let n = 0; n < 8; n++) x.regs[n].copy(x87regs[n]);
  x.fcw = fields.fcw;
  x.fsw = fields.fsw;
  x.ftw = fields.ftw;
  x.fop = fields.fop;
  [x.fipLo, x.fipHi, x.fcs] = fields.fip;
  [x.fdpLo, x.fdpHi, x.fds] = fields.fdp;
  cpu.sse.xmm.set(xmm);
  cpu.sse.mxcsr = fields.mxcsr;
  cpu.lazyMask = 0;
  cpu.eflags = (rflags & 0x3f7fd5) | 2;
  cpu.cpl = cpl;
  cpu.updateMode();
  cpu.cpl = cpl;
  cpu.updateAccessMode();
  cpu.flushTlb(false);
  cpu.flushCodeCache();
}
