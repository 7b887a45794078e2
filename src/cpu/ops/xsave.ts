/**
 * Group 15 (0F AE) and the XSAVE family: FXSAVE/FXRSTOR (SDM Vol.1 10.5, Vol.2 FXSAVE
 * Tables 3-43..3-45), LDMXCSR/STMXCSR, XSAVE/XRSTOR/XSAVEOPT (0F AE /4 /5 /6) and
 * XSAVEC/XSAVES/XRSTORS (0F C7 /4 /5 /3) for the x87 (XCR0 bit 0) and SSE (bit 1) state
 * components (SDM Vol.1 chapter 13 "Managing State Using the XSAVE Feature Set"), the fences
 * LFENCE/MFENCE/SFENCE and CLFLUSH/CLFLUSHOPT/CLWB (no caches are modelled: fences and
 * flushes only perform their checks). IA32_XSS is 0 (no supervisor components).
 */
import { Access, type Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { OPCODES, Imm, Mandatory, type OpDef } from "../optable.js";
import { CpuFault } from "../fault.js";
import { CR0, CR4 } from "../../x86/cr.js";
import { sseCheck } from "../sse/sse-util.js";
import { Float80 } from "../fpu/float80.js";

/** MXCSR_MASK reported by FXSAVE: every defined bit including DAZ (SDM Vol.1 11.6.6). */
export const MXCSR_MASK = 0xffff;

/** Size of the standard-format XSAVE area for x87+SSE: legacy region + header. */
export const XSAVE_AREA_SIZE = 576;

const gp0 = (): never => {
  throw new CpuFault(13, 0);
};
const ud = (): never => {
  throw new CpuFault(6, -1);
};

/** Tag of an x87 register from its contents (SDM Vol.1 8.1.7): 0 valid, 1 zero, 2 special. */
function tagOf(r: Float80): number {
  if (r.exp === 0x7fff) return 2;
  if (r.exp === 0) return r.hi === 0 && r.lo === 0 ? 1 : 2;
  return r.hi & 0x80000000 ? 0 : 2;
}

/** Abridged tag byte: bit i set when physical register i is not empty (SDM Vol.1 10.5.1.1). */
function abridgedTag(cpu: Cpu): number {
  let t = 0;
  for (let n = 0; n < 8; n++) if (((cpu.x87.ftw >> (2 * n)) & 3) !== 3) t |= 1 << n;
  return t;
}

const img = new Uint8Array(XSAVE_AREA_SIZE);
const view = new DataView(img.buffer);

/** Read `len` bytes at linear `lin` into img (all pages checked first). */
function readArea(cpu: Cpu, lin: number, len: number): void {
  cpu.translate(lin, Access.Read);
  cpu.translate(lin + len - 1, Access.Read);
  for (let k = 0; k < len; k++) img[k] = cpu.linRead8(lin + k);
}

/** Write img[from, to) to linear `lin`+from (pages of the whole area checked first). */
function writeRanges(cpu: Cpu, lin: number, len: number, ranges: [number, number][]): void {
  cpu.translate(lin, Access.Write);
  cpu.translate(lin + len - 1, Access.Write);
  for (const [a, b] of ranges) for (let k = a; k < b; k++) cpu.linWrite8(lin + k, img[k]);
}

/** Fill the x87 part of the legacy image (bytes 0-23 except MXCSR, and 32-159). */
function saveX87(cpu: Cpu, rexW: boolean): void {
  const x = cpu.x87;
  view.setUint16(0, x.fcw, true);
  view.setUint16(2, x.fsw, true);
  img[4] = abridgedTag(cpu);
  img[5] = 0;
  view.setUint16(6, x.fop & 0x7ff, true);
  if (rexW) {
    view.setUint32(8, x.fipLo, true);
    view.setUint32(12, x.fipHi, true);
    view.setUint32(16, x.fdpLo, true);
    view.setUint32(20, x.fdpHi, true);
  } else {
    view.setUint32(8, x.fipLo, true);
    view.setUint16(12, x.fcs, true);
    view.setUint16(14, 0, true);
    view.setUint32(16, x.fdpLo, true);
    view.setUint16(20, x.fds, true);
    view.setUint16(22, 0, true);
  }
  const top = (x.fsw >> 11) & 7;
  for (let n = 0; n < 8; n++) {
    const off = 32 + 16 * n;
    x.regs[(top + n) & 7].toBytes(img, off);
    for (let k = 10; k < 16; k++) img[off + k] = 0;
  }
}

/** Load the x87 state from the legacy image. */
function loadX87(cpu: Cpu, rexW: boolean): void {
  const x = cpu.x87;
  x.fcw = view.getUint16(0, true);
  x.fsw = view.getUint16(2, true);
  const tags = img[4];
  x.fop = view.getUint16(6, true) & 0x7ff;
  x.fipLo = view.getUint32(8, true);
  x.fdpLo = view.getUint32(16, true);
  if (rexW) {
    x.fipHi = view.getUint32(12, true);
    x.fdpHi = view.getUint32(20, true);
    x.fcs = x.fds = 0;
  } else {
    x.fipHi = x.fdpHi = 0;
    x.fcs = view.getUint16(12, true);
    x.fds = view.getUint16(20, true);
  }
  const top = (x.fsw >> 11) & 7;
  for (let n = 0; n < 8; n++) {
    const r = Float80.fromBytes(img, 32 + 16 * n);
    x.regs[(top + n) & 7].copy(r);
  }
  let ftw = 0;
  for (let p = 0; p < 8; p++) ftw |= ((tags >> p) & 1 ? tagOf(x.regs[p]) : 3) << (2 * p);
  x.ftw = ftw;
}

/** Initial x87 configuration (SDM Vol.1 13.6: FCW 037FH, FSW 0, all tags empty, pointers 0). */
function initX87(cpu: Cpu): void {
  const x = cpu.x87;
  x.fcw = 0x037f;
  x.fsw = 0;
  x.ftw = 0xffff;
  x.fop = 0;
  x.fipLo = x.fipHi = x.fcs = 0;
  x.fdpLo = x.fdpHi = x.fds = 0;
  for (const r of x.regs) r.set(0, 0, 0, 0);
}

function xmmCount(cpu: Cpu): number {
  return cpu.long64 ? 16 : 8;
}

function saveXmm(cpu: Cpu): void {
  const b = cpu.sse.bytes;
  const n = xmmCount(cpu) * 16;
  for (let k = 0; k < n; k++) img[160 + k] = b[k];
}

function loadXmm(cpu: Cpu): void {
  const b = cpu.sse.bytes;
  const n = xmmCount(cpu) * 16;
  for (let k = 0; k < n; k++) b[k] = img[160 + k];
}

function saveMxcsr(cpu: Cpu): void {
  view.setUint32(24, cpu.sse.mxcsr, true);
  view.setUint32(28, MXCSR_MASK, true);
}

/** XINUSE (SDM Vol.1 13.6): bit 0 x87 not in its initial configuration, bit 1 likewise for SSE. */
export function xinuse(cpu: Cpu): number {
  const x = cpu.x87;
  let r = 0;
  if (
    x.fcw !== 0x037f ||
    x.fsw !== 0 ||
    x.ftw !== 0xffff ||
    x.fop !== 0 ||
    x.fipLo ||
    x.fipHi ||
    x.fdpLo ||
    x.fdpHi ||
    x.fcs ||
    x.fds
  )
    r |= 1;
  else for (const reg of x.regs) if (reg.exp || reg.hi || reg.lo || reg.sign) r |= 1;
  const xm = cpu.sse.xmm;
  if (cpu.sse.mxcsr !== 0x1f80) r |= 2;
  else for (let k = 0; k < 64; k++) if (xm[k] !== 0) r |= 2;
  return r;
}

// ------------------------------------------------------------------ FXSAVE / FXRSTOR

function fxCheck(cpu: Cpu, i: Instr): number {
  if (i.mod === 3) ud();
  if (cpu.cr0 & (CR0.EM | CR0.TS)) throw new CpuFault(7, -1);
  const lin = cpu.linear(i.seg, cpu.ea(i), 512, false);
  if (lin & 15) gp0();
  return lin;
}

/** FXSAVE m512 (0F AE /0; REX.W: 64-bit FIP/FDP format). */
function fxsave(cpu: Cpu, i: Instr): void {
  const lin = fxCheck(cpu, i);
  cpu.linear(i.seg, cpu.ea(i), 512, true);
  readArea(cpu, lin, 512);
  saveX87(cpu, (i.rex & 8) !== 0);
  saveMxcsr(cpu);
  saveXmm(cpu);
  writeRanges(cpu, lin, 512, [[0, 160 + xmmCount(cpu) * 16]]);
}

/** FXRSTOR m512 (0F AE /1): MXCSR reserved bits → #GP(0). */
function fxrstor(cpu: Cpu, i: Instr): void {
  const lin = fxCheck(cpu, i);
  readArea(cpu, lin, 512);
  const mx = view.getUint32(24, true);
  if (mx & ~MXCSR_MASK) gp0();
  loadX87(cpu, (i.rex & 8) !== 0);
  cpu.sse.mxcsr = mx;
  loadXmm(cpu);
}

/** LDMXCSR m32 (0F AE /2). */
function ldmxcsr(cpu: Cpu, i: Instr): void {
  if (i.mod === 3) ud();
  sseCheck(cpu);
  const v = cpu.read(i.seg, cpu.ea(i), 4);
  if (v & ~MXCSR_MASK) gp0();
  cpu.sse.mxcsr = v;
}

/** STMXCSR m32 (0F AE /3). */
function stmxcsr(cpu: Cpu, i: Instr): void {
  if (i.mod === 3) ud();
  sseCheck(cpu);
  cpu.write(i.seg, cpu.ea(i), 4, cpu.sse.mxcsr >>> 0);
}

// ------------------------------------------------------------------ XSAVE family

const enum XKind {
  Xsave = 0,
  Xsaveopt = 1,
  Xsavec = 2,
  Xsaves = 3,
}

function xCheck(cpu: Cpu, i: Instr, supervisor: boolean): number {
  if (i.mod === 3 || !(cpu.cr4 & CR4.OSXSAVE)) ud();
  if (cpu.cr0 & CR0.TS) throw new CpuFault(7, -1);
  if (supervisor && cpu.cpl !== 0) gp0();
  const lin = cpu.linear(i.seg, cpu.ea(i), XSAVE_AREA_SIZE, false);
  if (lin & 63) gp0();
  return lin;
}

/** XSAVE / XSAVEOPT / XSAVEC / XSAVES mem (RFBM = XCR0 & EDX:EAX; EDX bits 62:32 name no component). */
function xsaveOp(kind: XKind) {
  return (cpu: Cpu, i: Instr): void => {
    const lin = xCheck(cpu, i, kind === XKind.Xsaves);
    cpu.linear(i.seg, cpu.ea(i), XSAVE_AREA_SIZE, true);
    const rfbm = cpu.xcr0 & cpu.lo[0] & 3;
    const inuse = xinuse(cpu);
    const w = (i.rex & 8) !== 0;
    readArea(cpu, lin, XSAVE_AREA_SIZE);
    const ranges: [number, number][] = [];
    const compact = kind === XKind.Xsavec || kind === XKind.Xsaves;
    const skipInit = kind !== XKind.Xsave; // XSAVEOPT/XSAVEC/XSAVES may omit components in their initial configuration
    if (rfbm & 1 && !(skipInit && !(inuse & 1))) {
      saveX87(cpu, w);
      ranges.push([0, 24], [32, 160]);
    }
    if (rfbm & 2) {
      saveMxcsr(cpu);
      ranges.push([24, 32]);
      if (!(skipInit && !(inuse & 2))) {
        saveXmm(cpu);
        ranges.push([160, 160 + xmmCount(cpu) * 16]);
      }
    }
    const oldBv = view.getUint32(512, true);
    if (compact) {
      view.setUint32(512, rfbm & inuse, true);
      view.setUint32(516, 0, true);
      view.setUint32(520, rfbm, true);
      view.setUint32(524, 0x80000000, true);
      for (let k = 528; k < 576; k++) img[k] = 0;
      ranges.push([512, 576]);
    } else {
      view.setUint32(512, ((oldBv & ~rfbm) | (rfbm & inuse)) >>> 0, true);
      ranges.push([512, 520]);
    }
    writeRanges(cpu, lin, XSAVE_AREA_SIZE, ranges);
  };
}

/** XRSTOR / XRSTORS mem (SDM Vol.1 13.8 / 13.12; header checks → #GP(0)). */
function xrstorOp(supervisor: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    const lin = xCheck(cpu, i, supervisor);
    readArea(cpu, lin, XSAVE_AREA_SIZE);
    const rfbm = cpu.xcr0 & cpu.lo[0] & 3;
    const bvLo = view.getUint32(512, true);
    const bvHi = view.getUint32(516, true);
    const cLo = view.getUint32(520, true);
    const cHi = view.getUint32(524, true);
    const compact = (cHi & 0x80000000) !== 0;
    for (let k = 528; k < 576; k++) if (img[k] !== 0) gp0();
    if (bvHi !== 0) gp0();
    if (compact) {
      if (cHi !== 0x80000000 || cLo & ~cpu.xcr0 || bvLo & ~cLo) gp0();
    } else {
      if (supervisor || cLo !== 0 || cHi !== 0 || bvLo & ~cpu.xcr0) gp0();
    }
    const mxFromMem = compact ? (rfbm & 2) !== 0 && (bvLo & 2) !== 0 : (rfbm & 2) !== 0;
    const mx = view.getUint32(24, true);
    if (mxFromMem && mx & ~MXCSR_MASK) gp0();
    const w = (i.rex & 8) !== 0;
    if (rfbm & 1) {
      if (bvLo & 1) loadX87(cpu, w);
      else initX87(cpu);
    }
    if (rfbm & 2) {
      if (bvLo & 2) loadXmm(cpu);
      else cpu.sse.xmm.fill(0, 0, xmmCount(cpu) * 4);
      if (mxFromMem) cpu.sse.mxcsr = mx;
      else if (compact) cpu.sse.mxcsr = 0x1f80;
    }
  };
}

// ------------------------------------------------------------------ fences and flushes

/** LFENCE/MFENCE/SFENCE (register forms of /5 /6 /7): ordering only. */
const fence = (): void => {};

/** CLFLUSH / CLFLUSHOPT / CLWB m8: checks the access like a byte read; no caches to flush. */
function clflush(cpu: Cpu, i: Instr): void {
  const lin = cpu.linear(i.seg, cpu.ea(i), 1, false);
  cpu.translate(lin, Access.Read);
}

// ------------------------------------------------------------------ registration

type H = (cpu: Cpu, i: Instr) => void;

/** Member `reg` of a group selected after the mandatory prefix (keeps other engineers' entries). */
function addMember(
  opcode: number,
  prefixes: number[],
  reg: number,
  name: string,
  mem: H | undefined,
  regForm: H | undefined,
): void {
  const exec: H = (cpu, i) => {
    const h = i.mod === 3 ? regForm : mem;
    if (h === undefined) throw new CpuFault(6, -1);
    h(cpu, i);
  };
  const member: OpDef = { exec, modrm: true, imm: Imm.None, flags: 0, name };
  let d = OPCODES[opcode];
  if (d === undefined) {
    d = {
      modrm: true,
      imm: Imm.None,
      flags: 0,
      group: new Array(8).fill(undefined),
      name: `grp${opcode.toString(16)}`,
    };
    OPCODES[opcode] = d;
  }
  if (d.prefixed !== undefined) {
    for (const p of prefixes) {
      let g = d.prefixed[p];
      if (g === undefined || g.group === undefined) {
        g = {
          modrm: true,
          imm: Imm.None,
          flags: 0,
          group: new Array(8).fill(undefined),
          name: `grp${opcode.toString(16)}`,
        };
        d.prefixed[p] = g;
      }
      g.group![reg] = member;
    }
    return;
  }
  if (d.group === undefined) {
    d = {
      modrm: true,
      imm: Imm.None,
      flags: 0,
      group: new Array(8).fill(undefined),
      name: `grp${opcode.toString(16)}`,
    };
    OPCODES[opcode] = d;
  }
  d.group![reg] = member;
}

const N = [Mandatory.None];
addMember(0x1ae, N, 0, "fxsave", fxsave, undefined);
addMember(0x1ae, N, 1, "fxrstor", fxrstor, undefined);
addMember(0x1ae, N, 2, "ldmxcsr", ldmxcsr, undefined);
addMember(0x1ae, N, 3, "stmxcsr", stmxcsr, undefined);
addMember(0x1ae, N, 4, "xsave", xsaveOp(XKind.Xsave), undefined);
addMember(0x1ae, N, 5, "xrstor", xrstorOp(false), fence);
addMember(0x1ae, N, 6, "xsaveopt", xsaveOp(XKind.Xsaveopt), fence);
addMember(0x1ae, N, 7, "clflush", clflush, fence);
addMember(0x1ae, [Mandatory.P66], 6, "clwb", clflush, undefined);
addMember(0x1ae, [Mandatory.P66], 7, "clflushopt", clflush, undefined);
addMember(0x1c7, N, 3, "xrstors", xrstorOp(true), undefined);
addMember(0x1c7, N, 4, "xsavec", xsaveOp(XKind.Xsavec), undefined);
addMember(0x1c7, N, 5, "xsaves", xsaveOp(XKind.Xsaves), undefined);
