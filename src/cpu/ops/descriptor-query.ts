/**
 * Descriptor queries: LAR (0F 02), LSL (0F 03), VERR (0F 00 /4) and VERW (0F 00 /5)
 * (SDM Vol.2 "LAR—Load Access Rights Byte" with its table of valid segment and gate types,
 * "LSL—Load Segment Limit", "VERR/VERW—Verify a Segment for Reading or Writing").
 * They report through ZF and never fault on a bad selector; #UD in real-address and
 * virtual-8086 mode. Descriptor-table reads are implicit supervisor accesses (#PF possible).
 */
import type { Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { op, group, Imm } from "../optable.js";
import { CpuFault } from "../fault.js";
import { readDescriptor, descAttr, descLimit, type Descriptor } from "../segmentation.js";
import { FLAGS } from "../../x86/eflags.js";
import { ATTR } from "../../x86/segment.js";
import { EFER } from "../../x86/cr.js";

/** System types LAR accepts in legacy mode: 16-bit TSS, LDT, busy 16-bit TSS, call gates, task gate, 32-bit TSS. */
const LAR_LEGACY = new Set([1, 2, 3, 4, 5, 9, 11, 12]);
/** System types LAR accepts in IA-32e mode: LDT, 64-bit TSS (available/busy), 64-bit call gate. */
const LAR_IA32E = new Set([2, 9, 11, 12]);
/** System types LSL accepts in legacy mode (segments with a limit). */
const LSL_LEGACY = new Set([1, 2, 3, 9, 11]);
/** System types LSL accepts in IA-32e mode. */
const LSL_IA32E = new Set([2, 9, 11]);

/** Read the 16-bit selector operand (register low word or memory word). */
function selectorOperand(cpu: Cpu, i: Instr): number {
  if (!cpu.protectedMode || cpu.v86) throw new CpuFault(6, -1);
  return cpu.readRM(i, 2) & 0xffff;
}

/**
 * Look up `sel` for LAR/LSL: returns the descriptor when it is visible at the current CPL
 * and its type is in `systemTypes` (code and data segments are always valid), else null.
 */
function visibleDescriptor(cpu: Cpu, sel: number, systemTypes: Set<number>): Descriptor | null {
  if ((sel & 0xfffc) === 0) return null;
  const d = readDescriptor(cpu, sel);
  if (d === null) return null;
  const a = descAttr(d);
  const dpl = (a >> ATTR.DPL_SHIFT) & 3;
  if ((a & ATTR.S) === 0 && !systemTypes.has(a & 0xf)) return null;
  const conformingCode = (a & (ATTR.S | ATTR.CODE | ATTR.EC)) === (ATTR.S | ATTR.CODE | ATTR.EC);
  if (!conformingCode && (dpl < cpu.cpl || dpl < (sel & 3))) return null;
  return d;
}

function setZF(cpu: Cpu, on: boolean): void {
  cpu.setFlagBits(FLAGS.ZF, on ? FLAGS.ZF : 0);
}

function ia32e(cpu: Cpu): boolean {
  return (cpu.efer & EFER.LMA) !== 0;
}

/** LAR r, r/m16: access rights (descriptor dword 1 masked by FF00h / 00F0FF00h) or ZF=0. */
export function lar(cpu: Cpu, i: Instr): void {
  const sel = selectorOperand(cpu, i);
  const d = visibleDescriptor(cpu, sel, ia32e(cpu) ? LAR_IA32E : LAR_LEGACY);
  if (d === null) {
    setZF(cpu, false);
    return;
  }
  // Bits 19:16 of the 32-bit result are undefined by the SDM ("00FxFF00H"); pinvm returns 0
  // there, like QEMU.
  if (i.osize === 2) cpu.setReg(i.reg, 2, d.hi & 0xff00);
  else cpu.setReg(i.reg, 4, (d.hi & 0x00f0ff00) >>> 0);
  setZF(cpu, true);
}

/** LSL r, r/m16: the byte-granular segment limit (scaled by G) or ZF=0. */
export function lsl(cpu: Cpu, i: Instr): void {
  const sel = selectorOperand(cpu, i);
  const d = visibleDescriptor(cpu, sel, ia32e(cpu) ? LSL_IA32E : LSL_LEGACY);
  if (d === null) {
    setZF(cpu, false);
    return;
  }
  const limit = descLimit(d);
  if (i.osize === 2) cpu.setReg(i.reg, 2, limit & 0xffff);
  else cpu.setReg(i.reg, 4, limit >>> 0);
  setZF(cpu, true);
}

/** VERR / VERW: ZF=1 when the segment is readable / writable at the current CPL and the selector's RPL. */
function verify(cpu: Cpu, i: Instr, write: boolean): void {
  const sel = selectorOperand(cpu, i);
  let ok = false;
  if ((sel & 0xfffc) !== 0) {
    const d = readDescriptor(cpu, sel);
    if (d !== null) {
      const a = descAttr(d);
      const dpl = (a >> ATTR.DPL_SHIFT) & 3;
      const priv = dpl >= cpu.cpl && dpl >= (sel & 3);
      if ((a & ATTR.S) !== 0) {
        if (write) ok = (a & (ATTR.CODE | ATTR.RW)) === ATTR.RW && priv;
        else if ((a & ATTR.CODE) === 0) ok = priv;
        else if ((a & ATTR.RW) !== 0) ok = (a & ATTR.EC) !== 0 || priv; // conforming: no privilege check
      }
    }
  }
  setZF(cpu, ok);
}

op(0x102, "lar", lar, true, Imm.None, 0);
op(0x103, "lsl", lsl, true, Imm.None, 0);
group(0x100, 4, "verr", (cpu, i) => verify(cpu, i, false), Imm.None, 0);
group(0x100, 5, "verw", (cpu, i) => verify(cpu, i, true), Imm.None, 0);
