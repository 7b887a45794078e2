/**
 * Near control transfers: JMP, Jcc, CALL, RET, LOOP/LOOPcc, JCXZ/JECXZ/JRCXZ, SETcc, CMOVcc
 * (SDM Vol.2 "Jcc", "JMP", "CALL", "RET", "LOOP/LOOPcc", "SETcc", "CMOVcc").
 */
import type { Cpu } from "../cpu.js";
import type { Instr } from "../instr.js";
import { op, group, Imm, OPF_TERMINAL, OPF_D64, OPF_F64 } from "../optable.js";
import { testCondition } from "../flags.js";

/** Operand size of a near branch: 64 in 64-bit mode (Intel ignores 66h), else osize. */
function branchSize(cpu: Cpu, i: Instr): number {
  return cpu.long64 ? 8 : i.osize;
}

/** Jump relative to the next instruction. */
function jumpRel(cpu: Cpu, i: Instr): void {
  cpu.branch(cpu.nextRip + i.imm, branchSize(cpu, i));
}

op(0xeb, "jmp", jumpRel, false, Imm.Jb, OPF_TERMINAL | OPF_F64);
op(0xe9, "jmp", jumpRel, false, Imm.Jz, OPF_TERMINAL | OPF_F64);
for (let cc = 0; cc < 16; cc++) {
  const jcc = (cpu: Cpu, i: Instr): void => {
    if (testCondition(cpu, cc)) jumpRel(cpu, i);
  };
  op(0x70 + cc, "jcc", jcc, false, Imm.Jb, OPF_TERMINAL | OPF_F64);
  op(0x180 + cc, "jcc", jcc, false, Imm.Jz, OPF_TERMINAL | OPF_F64);
  op(0x190 + cc, "setcc", (cpu, i) => cpu.writeRM(i, 1, testCondition(cpu, cc) ? 1 : 0), true);
  op(
    0x140 + cc,
    "cmovcc",
    (cpu, i) => {
      const v = cpu.readRM(i, i.osize);
      const vh = cpu.rhi;
      if (testCondition(cpu, cc)) cpu.writeRegOp(i, i.osize, v, vh);
      else if (i.osize === 4) cpu.hi[i.reg] = 0; // 32-bit CMOV zero-extends even when false
    },
    true,
  );
}

/** Push the return address (next RIP) with the branch operand size. */
function pushReturn(cpu: Cpu, size: number): void {
  const r = cpu.nextRip;
  if (size === 8) cpu.push(8, r >>> 0, Math.floor(r / 4294967296) | 0);
  else cpu.push(size, size === 2 ? r & 0xffff : r >>> 0);
}

op(
  0xe8,
  "call",
  (cpu, i) => {
    const size = branchSize(cpu, i);
    const target = cpu.nextRip + i.imm;
    const save = cpu.nextRip;
    cpu.branch(target, size); // checks before the push
    const t = cpu.nextRip;
    cpu.nextRip = save;
    pushReturn(cpu, size);
    cpu.nextRip = t;
  },
  false,
  Imm.Jz,
  OPF_TERMINAL | OPF_F64,
);

/** Read an indirect near target from r/m. */
function indirectTarget(cpu: Cpu, i: Instr, size: number): number {
  const v = cpu.readRM(i, size);
  if (size === 8) return (cpu.rhi | 0) * 4294967296 + v;
  return v;
}
group(
  0xff,
  2,
  "call",
  (cpu, i) => {
    const size = branchSize(cpu, i);
    const target = indirectTarget(cpu, i, size);
    const save = cpu.nextRip;
    cpu.branch(target, size);
    const t = cpu.nextRip;
    cpu.nextRip = save;
    pushReturn(cpu, size);
    cpu.nextRip = t;
  },
  Imm.None,
  OPF_TERMINAL | OPF_F64,
);
group(
  0xff,
  4,
  "jmp",
  (cpu, i) => {
    const size = branchSize(cpu, i);
    cpu.branch(indirectTarget(cpu, i, size), size);
  },
  Imm.None,
  OPF_TERMINAL | OPF_F64,
);

/** RET near [imm16] (SDM Vol.2 RET). */
function retNear(cpu: Cpu, i: Instr, release: number): void {
  const size = cpu.long64 ? (i.opsizePrefix && !(i.rex & 8) ? 8 : 8) : i.osize;
  const sp = cpu.getSP();
  const v = cpu.read(2, sp, size);
  const target = size === 8 ? (cpu.rhi | 0) * 4294967296 + v : v;
  cpu.branch(target, size);
  cpu.setSP(cpu.spOffset(size + release));
}
op(0xc3, "ret", (cpu, i) => retNear(cpu, i, 0), false, Imm.None, OPF_TERMINAL | OPF_D64);
op(0xc2, "ret", (cpu, i) => retNear(cpu, i, i.imm), false, Imm.Iw, OPF_TERMINAL | OPF_D64);

/** Count register for LOOP/JCXZ per address size. */
function countReg(cpu: Cpu, i: Instr): number {
  if (i.asize === 8) return cpu.reg64(1);
  if (i.asize === 4) return cpu.lo[1] >>> 0;
  return cpu.lo[1] & 0xffff;
}
function decCount(cpu: Cpu, i: Instr): boolean {
  if (i.asize === 8) {
    const l = (cpu.lo[1] - 1) | 0;
    if (cpu.lo[1] === 0) cpu.hi[1] = (cpu.hi[1] - 1) | 0;
    cpu.lo[1] = l;
    return (l | cpu.hi[1]) !== 0;
  }
  if (i.asize === 4) {
    cpu.lo[1] = (cpu.lo[1] - 1) | 0;
    if (cpu.long64) cpu.hi[1] = 0;
    return cpu.lo[1] !== 0;
  }
  const c = ((cpu.lo[1] & 0xffff) - 1) & 0xffff;
  cpu.lo[1] = (cpu.lo[1] & ~0xffff) | c;
  return c !== 0;
}
op(
  0xe2,
  "loop",
  (cpu, i) => {
    if (decCount(cpu, i)) jumpRel(cpu, i);
  },
  false,
  Imm.Jb,
  OPF_TERMINAL | OPF_F64,
);
op(
  0xe1,
  "loope",
  (cpu, i) => {
    if (decCount(cpu, i) && testCondition(cpu, 4)) jumpRel(cpu, i);
  },
  false,
  Imm.Jb,
  OPF_TERMINAL | OPF_F64,
);
op(
  0xe0,
  "loopne",
  (cpu, i) => {
    if (decCount(cpu, i) && testCondition(cpu, 5)) jumpRel(cpu, i);
  },
  false,
  Imm.Jb,
  OPF_TERMINAL | OPF_F64,
);
op(
  0xe3,
  "jcxz",
  (cpu, i) => {
    if (countReg(cpu, i) === 0) jumpRel(cpu, i);
  },
  false,
  Imm.Jb,
  OPF_TERMINAL | OPF_F64,
);
