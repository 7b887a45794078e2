/**
 * System-table and miscellaneous system instructions: LGDT/LIDT/SGDT/SIDT (0F 01 /2 /3 /0 /1),
 * LLDT/SLDT/LTR/STR (0F 00 /2 /0 /3 /1), INVLPG (0F 01 /7), WBINVD/INVD (0F 09 / 0F 08),
 * UD2 (0F 0B), and the register forms of group 0F 01: CLAC/STAC (CA/CB), XGETBV/XSETBV
 * (D0/D1), SWAPGS (F8), RDTSCP (F9), and the hypercalls VMCALL (C1) / VMMCALL (D9) (SDM
 * Vol.2 "LGDT/LIDT", "SGDT", "SIDT", "LLDT", "SLDT", "LTR", "STR", "INVLPG", "WBINVD",
 * "INVD", "UD", "CLAC", "STAC", "XGETBV", "XSETBV", "SWAPGS", "RDTSCP", "VMCALL"; AMD APM
 * Vol.3 "VMMCALL"; Vol.3 2.4 "Memory-Management Registers", 3.5, 7.2.2-7.2.4).
 *
 * VMCALL and VMMCALL behave as in a guest of a VMX/SVM hypervisor: at any CPL they go to
 * `hooks.hypercall` (the hypervisor checks the CPL, `cpu.cpl`); when it handles the call the
 * instruction completes (RIP moves past it), else #UD — what a bare processor without
 * VMX/SVM operation does.
 *
 * Absent (decode to #UD): MONITOR/MWAIT (0F 01 C8/C9; CPUID.1:ECX.MONITOR=0), the other VMX
 * and SVM register forms of 0F 01, INVPCID (66 0F 38 82; CPUID.7:EBX.INVPCID=0 — nothing is
 * registered at that opcode). VERR/VERW (0F 00 /4 /5) live with the far-transfer group.
 *
 * Choices: LGDT/LIDT in 64-bit mode raise #GP(0) when the loaded base is not canonical (as
 * KVM's emulator does; the SDM's exception list names only the operand address). SGDT/SIDT
 * check the whole destination for writability before storing anything.
 */
import { Access, CANON_HIGH, CANON_LOW, type Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { op, group, Imm, OPF_TERMINAL } from "../optable.js";
import { CpuFault } from "../fault.js";
import { CR4, EFER, XCR0 } from "../../x86/cr.js";
import { FLAGS } from "../../x86/eflags.js";
import { MSR } from "../../x86/msr.js";
import { SEG, ATTR } from "../../x86/segment.js";
import {
  readDescriptor,
  readDescriptorHigh,
  descAttr,
  descBase,
  descLimit,
  loadNull,
  sysWrite32,
} from "../segmentation.js";
import { checkUmip } from "./control-regs.js";
import { XCR0_SUPPORTED } from "./msr-cpuid.js";

const TWO32 = 4294967296;

function gp(err = 0): never {
  throw new CpuFault(13, err);
}

function ud(): never {
  throw new CpuFault(6, -1);
}

/** #UD when a 66/F2/F3 prefix is present on an "NP" encoding (SDM Vol.2 3.1.1.1). */
function noPrefix(i: Instr): void {
  if (i.opsizePrefix || i.rep) ud();
}

/** Store a descriptor-table register (SGDT/SIDT): limit, then a 32-bit (64-bit in 64-bit mode) base. */
function storeTableRegister(cpu: Cpu, i: Instr, base: number, limit: number): void {
  checkUmip(cpu);
  const size = cpu.long64 ? 10 : 6;
  const lin = cpu.linear(i.seg, cpu.ea(i), size, true);
  cpu.translate(lin, Access.Write);
  cpu.translate(lin + size - 1, Access.Write);
  cpu.linWrite16(lin, limit & 0xffff);
  if (cpu.long64) cpu.linWrite64(lin + 2, base >>> 0, Math.floor(base / TWO32) | 0);
  else cpu.linWrite32(lin + 2, base >>> 0);
}

/**
 * Read the pseudo-descriptor of LGDT/LIDT: returns [base, limit]. 16-bit operand size keeps
 * a 24-bit base; 64-bit mode reads an 8-byte base that must be canonical.
 */
function loadTableRegister(cpu: Cpu, i: Instr): [number, number] {
  if (cpu.cpl !== 0) gp(0);
  const size = cpu.long64 ? 10 : 6;
  const lin = cpu.linear(i.seg, cpu.ea(i), size, false);
  const limit = cpu.linRead16(lin);
  let base: number;
  if (cpu.long64) {
    const lo = cpu.linRead64(lin + 2);
    base = (cpu.rhi | 0) * TWO32 + lo;
    if (base < CANON_LOW || base >= CANON_HIGH) gp(0);
  } else {
    base = cpu.linRead32(lin + 2);
    if (i.osize === 2) base &= 0xffffff;
  }
  return [base, limit];
}

/** VMCALL / VMMCALL: offered to hooks.hypercall; unhandled → #UD. */
function hypercall(cpu: Cpu): void {
  if (!(cpu.hooks.hypercall?.() ?? false)) ud();
}

// ---- group 0F 01 ----

group(
  0x101,
  0,
  "sgdt",
  (cpu, i) => {
    if (i.mod === 3) {
      if ((i.rm & 7) === 1)
        hypercall(cpu); // VMCALL (C1)
      else ud(); // VMLAUNCH/VMRESUME/VMXOFF/ENCLS: no VMX/SGX
      return;
    }
    storeTableRegister(cpu, i, cpu.gdtrBase, cpu.gdtrLimit);
  },
  Imm.None,
  OPF_TERMINAL,
);

group(
  0x101,
  1,
  "sidt",
  (cpu, i) => {
    if (i.mod !== 3) {
      storeTableRegister(cpu, i, cpu.idtrBase, cpu.idtrLimit);
      return;
    }
    const rm = i.rm & 7;
    if (rm !== 2 && rm !== 3) ud(); // MONITOR (C8), MWAIT (C9), ENCLS etc. are absent
    // CLAC (CA) / STAC (CB): #UD in V86 mode and at CPL > 0 (SDM Vol.2 CLAC/STAC).
    noPrefix(i);
    if (cpu.v86 || cpu.cpl > 0) ud();
    cpu.setFlagBits(FLAGS.AC, rm === 3 ? FLAGS.AC : 0);
    cpu.updateAccessMode();
  },
  Imm.None,
  OPF_TERMINAL,
);

group(
  0x101,
  2,
  "lgdt",
  (cpu, i) => {
    if (i.mod !== 3) {
      const [base, limit] = loadTableRegister(cpu, i);
      cpu.gdtrBase = base;
      cpu.gdtrLimit = limit;
      return;
    }
    const rm = i.rm & 7;
    if (rm === 0) xgetbv(cpu, i);
    else if (rm === 1) xsetbv(cpu, i);
    else ud(); // VMFUNC, XEND, XTEST, ENCLU
  },
  Imm.None,
  OPF_TERMINAL,
);

group(
  0x101,
  3,
  "lidt",
  (cpu, i) => {
    if (i.mod === 3) {
      if ((i.rm & 7) === 1)
        hypercall(cpu); // VMMCALL (D9)
      else ud(); // the other SVM instructions
      return;
    }
    const [base, limit] = loadTableRegister(cpu, i);
    cpu.idtrBase = base;
    cpu.idtrLimit = limit;
  },
  Imm.None,
  OPF_TERMINAL,
);

group(
  0x101,
  7,
  "invlpg",
  (cpu, i) => {
    if (i.mod !== 3) {
      // INVLPG m (SDM Vol.2 INVLPG): CPL 0; no segment-limit check; a non-canonical address is a NOP.
      if (cpu.cpl !== 0) gp(0);
      const off = cpu.ea(i);
      if (cpu.long64) {
        const lin = i.seg >= SEG.FS ? off + cpu.segBase[i.seg] : off;
        if (lin < CANON_LOW || lin >= CANON_HIGH) return;
        cpu.flushTlbPage(lin);
      } else {
        cpu.flushTlbPage((cpu.segBase[i.seg] + off) >>> 0);
      }
      return;
    }
    const rm = i.rm & 7;
    if (rm === 0) {
      // SWAPGS (SDM Vol.2 SWAPGS): 64-bit mode only, CPL 0.
      if (!cpu.long64) ud();
      if (cpu.cpl !== 0) gp(0);
      const t = cpu.segBase[SEG.GS];
      cpu.segBase[SEG.GS] = cpu.kernelGsBase;
      cpu.kernelGsBase = t;
    } else if (rm === 1) {
      // RDTSCP (SDM Vol.2 RDTSCP): CR4.TSD at CPL > 0 → #GP(0).
      if (cpu.cr4 & CR4.TSD && cpu.cpl > 0) gp(0);
      const lo = cpu.readTsc();
      const hi = cpu.rhi;
      const aux = cpu.msrs.get(MSR.IA32_TSC_AUX);
      cpu.setReg(0, 4, lo);
      cpu.setReg(2, 4, hi);
      cpu.setReg(1, 4, aux === undefined ? 0 : aux[0]);
    } else {
      ud(); // MONITORX/MWAITX/CLZERO/RDPRU
    }
  },
  Imm.None,
  OPF_TERMINAL,
);

/** XGETBV (0F 01 D0; SDM Vol.2 XGETBV): #UD unless CR4.OSXSAVE; ECX must be 0 (#GP(0)). */
function xgetbv(cpu: Cpu, i: Instr): void {
  if ((cpu.cr4 & CR4.OSXSAVE) === 0) ud();
  noPrefix(i);
  if (cpu.lo[1] !== 0) gp(0);
  cpu.setReg(0, 4, cpu.xcr0 >>> 0);
  cpu.setReg(2, 4, 0);
}

/**
 * XSETBV (0F 01 D1; SDM Vol.2 XSETBV, Vol.1 13.3): #UD unless CR4.OSXSAVE; CPL 0; ECX=0;
 * EDX:EAX may set only supported XCR0 bits, bit 0 must be 1, AVX (bit 2) needs SSE (bit 1);
 * else #GP(0). Offered to hooks.controlWrite("xcr0", ...) before it is committed.
 */
function xsetbv(cpu: Cpu, i: Instr): void {
  if ((cpu.cr4 & CR4.OSXSAVE) === 0) ud();
  noPrefix(i);
  if (cpu.cpl !== 0) gp(0);
  if (cpu.lo[1] !== 0) gp(0);
  const lo = cpu.lo[0] >>> 0;
  const hi = cpu.lo[2] >>> 0;
  if (hi !== 0 || lo & ~XCR0_SUPPORTED) gp(0);
  if ((lo & XCR0.X87) === 0) gp(0);
  if (lo & XCR0.AVX && (lo & XCR0.SSE) === 0) gp(0);
  if (!cpu.hooks.controlWrite("xcr0", cpu.xcr0 >>> 0, 0, lo, 0, "xsetbv")) gp(0);
  cpu.xcr0 = lo;
}

// ---- group 0F 00 ----

/** SLDT/STR are not recognized in real-address and virtual-8086 mode (#UD). */
function requireProtected(cpu: Cpu): void {
  if (!cpu.protectedMode || cpu.v86) ud();
}

/** SLDT/STR: store a selector; registers get it zero-extended, memory gets 16 bits. */
function storeSelector(cpu: Cpu, i: Instr, sel: number): void {
  requireProtected(cpu);
  checkUmip(cpu);
  if (i.mod !== 3) cpu.write(i.seg, cpu.ea(i), 2, sel & 0xffff);
  else cpu.setReg(i.rm, i.osize, sel & 0xffff, 0);
}

group(0x100, 0, "sldt", (cpu, i) => storeSelector(cpu, i, cpu.segSel[SEG.LDTR]), Imm.None, 0);
group(0x100, 1, "str", (cpu, i) => storeSelector(cpu, i, cpu.segSel[SEG.TR]), Imm.None, 0);

/**
 * Base of a system descriptor: in IA-32e mode descriptors are 16 bytes and bits 63:32 of the
 * base come from the second 8 bytes (SDM Vol.3 7.2.3, Figure 7-4); it must be canonical.
 * Returns the base; #GP(selector) when the second half is beyond the GDT limit.
 */
function systemBase(cpu: Cpu, sel: number, lowBase: number): number {
  if ((cpu.efer & EFER.LMA) === 0) return lowBase;
  const h = readDescriptorHigh(cpu, sel);
  if (h === null) gp(sel & 0xfffc);
  return (h | 0) * TWO32 + lowBase;
}

group(
  0x100,
  2,
  "lldt",
  (cpu, i) => {
    // LLDT (SDM Vol.2 LLDT).
    requireProtected(cpu);
    if (cpu.cpl !== 0) gp(0);
    const sel = cpu.readRM(i, 2);
    if ((sel & 0xfffc) === 0) {
      loadNull(cpu, SEG.LDTR, sel); // null selector: LDTR becomes unusable, no fault
      return;
    }
    const err = sel & 0xfffc;
    if (sel & 4) gp(err);
    const d = readDescriptor(cpu, sel);
    if (d === null) gp(err);
    const attr = descAttr(d);
    if ((attr & (ATTR.S | ATTR.TYPE_MASK)) !== 2) gp(err);
    const base = systemBase(cpu, sel, descBase(d));
    if ((attr & ATTR.P) === 0) throw new CpuFault(11, err);
    if (base < CANON_LOW || base >= CANON_HIGH) gp(err);
    cpu.segSel[SEG.LDTR] = sel;
    cpu.segBase[SEG.LDTR] = base;
    cpu.segLimit[SEG.LDTR] = descLimit(d);
    cpu.segAttr[SEG.LDTR] = attr;
    cpu.updateSegFlags(SEG.LDTR);
  },
  Imm.None,
  OPF_TERMINAL,
);

group(
  0x100,
  3,
  "ltr",
  (cpu, i) => {
    // LTR (SDM Vol.2 LTR; Vol.3 7.2.4): an available TSS (32-bit, or 16-bit outside IA-32e
    // mode), marked busy in the GDT.
    requireProtected(cpu);
    if (cpu.cpl !== 0) gp(0);
    const sel = cpu.readRM(i, 2);
    if ((sel & 0xfffc) === 0) gp(0);
    const err = sel & 0xfffc;
    if (sel & 4) gp(err);
    const d = readDescriptor(cpu, sel);
    if (d === null) gp(err);
    const attr = descAttr(d);
    const type = attr & (ATTR.S | ATTR.TYPE_MASK);
    const lma = (cpu.efer & EFER.LMA) !== 0;
    if (type !== 9 && (lma || type !== 1)) gp(err);
    const base = systemBase(cpu, sel, descBase(d));
    if ((attr & ATTR.P) === 0) throw new CpuFault(11, err);
    if (base < CANON_LOW || base >= CANON_HIGH) gp(err);
    const hi = d.hi | (2 << 8);
    sysWrite32(cpu, d.addr + 4, hi);
    cpu.segSel[SEG.TR] = sel;
    cpu.segBase[SEG.TR] = base;
    cpu.segLimit[SEG.TR] = descLimit(d);
    cpu.segAttr[SEG.TR] = attr | 2;
    cpu.updateSegFlags(SEG.TR);
  },
  Imm.None,
  OPF_TERMINAL,
);

// ---- cache control, UD2 ----

/** WBINVD/INVD: CPL 0 (#GP(0)); caches are not modelled, so nothing else happens. */
function cacheFlush(cpu: Cpu): void {
  if (cpu.cpl !== 0) gp(0);
}
op(0x108, "invd", cacheFlush, false, Imm.None, OPF_TERMINAL);
op(0x109, "wbinvd", cacheFlush, false, Imm.None, OPF_TERMINAL);
op(0x10b, "ud2", () => ud(), false, Imm.None, OPF_TERMINAL);
