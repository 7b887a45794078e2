/**
 * Exchange-and-compare and accumulator conversions: XADD (0F C0/C1), CMPXCHG (0F B0/B1),
 * CMPXCHG8B/CMPXCHG16B (0F C7 /1), CBW/CWDE/CDQE (98), CWD/CDQ/CQO (99), SAHF (9E) and LAHF
 * (9F) (SDM Vol.2 "XADD", "CMPXCHG", "CMPXCHG8B/CMPXCHG16B", "CBW/CWDE/CDQE",
 * "CWD/CDQ/CQO", "SAHF", "LAHF"; flags per Vol.1 Appendix A).
 *
 * - LOCK is accepted on the memory forms of XADD, CMPXCHG and CMPXCHG8B/16B (OPF_LOCK); as a
 *   single-threaded interpreter every read-modify-write is already atomic.
 * - CMPXCHG and CMPXCHG8B/16B always write the memory destination (the old value back when
 *   the comparison fails), so a read-only page faults either way (SDM: "the destination
 *   operand is written back if the comparison fails"). With a register destination the
 *   destination is written only on success and the accumulator only on failure — so, for
 *   32-bit operands in 64-bit mode, only the written register has its upper half cleared.
 * - CMPXCHG16B needs REX.W and a 16-byte aligned operand (else #GP(0)); the register form of
 *   0F C7 /1 is #UD.
 * - LAHF/SAHF are valid in 64-bit mode: our CPUID reports CPUID.80000001H:ECX.LAHF-SAHF[0].
 */
import type { Cpu } from "../cpu.js";
import { Access } from "../cpu.js";
import type { Instr } from "../instr.js";
import { gp, ud } from "../fault.js";
import { group, op, Imm, OPF_BYTE, OPF_LOCK } from "../optable.js";
import { FLAGS } from "../../x86/eflags.js";
import { alu, AluOp, rmwLinear } from "./alu.js";

/** Read register r/m operand of `size` bytes (8-bit honours AH..BH); high half in cpu.rhi. */
function readRmReg(cpu: Cpu, i: Instr, size: number): number {
  return size === 1 ? cpu.getReg8(i.rm, i.rex) : cpu.getReg(i.rm, size);
}

/** Write register r/m operand of `size` bytes. */
function writeRmReg(cpu: Cpu, i: Instr, size: number, v: number, vh: number): void {
  if (size === 1) cpu.setReg8(i.rm, i.rex, v);
  else cpu.setReg(i.rm, size, v, vh);
}

/** XADD r/m, r: TEMP = SRC + DEST; SRC = DEST; DEST = TEMP; flags as ADD. */
function xadd(byte: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    const size = byte ? 1 : i.osize;
    const s = cpu.readRegOp(i, size);
    const sh = cpu.rhi;
    if (i.mod === 3) {
      const d = readRmReg(cpu, i, size);
      const dh = cpu.rhi;
      const r = alu(cpu, AluOp.Add, size, d, dh, s, sh);
      const rh = cpu.rhi;
      cpu.writeRegOp(i, size, d, dh);
      writeRmReg(cpu, i, size, r, rh);
      return;
    }
    const lin = rmwLinear(cpu, i, size);
    const d = cpu.linRead(lin, size);
    const dh = cpu.rhi;
    const r = alu(cpu, AluOp.Add, size, d, dh, s, sh);
    cpu.linWrite(lin, size, r, cpu.rhi);
    cpu.writeRegOp(i, size, d, dh);
  };
}

/** CMPXCHG r/m, r: compare the accumulator with DEST (flags as CMP acc, DEST), then exchange. */
function cmpxchg(byte: boolean) {
  return (cpu: Cpu, i: Instr): void => {
    const size = byte ? 1 : i.osize;
    const acc = cpu.getReg(0, size);
    const acch = size === 8 ? cpu.rhi : 0;
    let lin = 0;
    let d: number;
    if (i.mod === 3) d = readRmReg(cpu, i, size);
    else {
      lin = rmwLinear(cpu, i, size);
      d = cpu.linRead(lin, size);
    }
    const dh = size === 8 ? cpu.rhi : 0;
    alu(cpu, AluOp.Cmp, size, acc, acch, d, dh);
    if (acc === d && acch === dh) {
      const s = cpu.readRegOp(i, size);
      if (i.mod === 3) writeRmReg(cpu, i, size, s, cpu.rhi);
      else cpu.linWrite(lin, size, s, cpu.rhi);
      return;
    }
    if (i.mod !== 3) cpu.linWrite(lin, size, d, dh);
    cpu.setReg(0, size, d, dh);
  };
}

/** CMPXCHG8B m64 / CMPXCHG16B m128 (0F C7 /1; 16B with REX.W). Only ZF is affected. */
function cmpxchg8b16b(cpu: Cpu, i: Instr): void {
  if (i.mod === 3) ud();
  const wide = i.osize === 8;
  const n = wide ? 16 : 8;
  const lin = cpu.linear(i.seg, cpu.ea(i), n, true);
  if (wide && lin % 16 !== 0) gp(0);
  cpu.translate(lin, Access.Write);
  if ((lin & 0xfff) + n - 1 > 0xfff) cpu.translate(lin + n - 1, Access.Write);
  const lo = cpu.lo;
  const hi = cpu.hi;
  if (!wide) {
    const m0 = cpu.linRead(lin, 4);
    const m1 = cpu.linRead(lin + 4, 4);
    if (m0 === lo[0] >>> 0 && m1 === lo[2] >>> 0) {
      cpu.linWrite(lin, 8, lo[3], lo[1]);
      cpu.setFlagBits(FLAGS.ZF, FLAGS.ZF);
    } else {
      cpu.linWrite(lin, 8, m0, m1);
      cpu.setReg(0, 4, m0);
      cpu.setReg(2, 4, m1);
      cpu.setFlagBits(FLAGS.ZF, 0);
    }
    return;
  }
  const a0 = cpu.linRead(lin, 8);
  const a1 = cpu.rhi;
  const b0 = cpu.linRead(lin + 8, 8);
  const b1 = cpu.rhi;
  if (a0 === lo[0] >>> 0 && a1 === hi[0] >>> 0 && b0 === lo[2] >>> 0 && b1 === hi[2] >>> 0) {
    cpu.linWrite(lin, 8, lo[3], hi[3]);
    cpu.linWrite(lin + 8, 8, lo[1], hi[1]);
    cpu.setFlagBits(FLAGS.ZF, FLAGS.ZF);
  } else {
    cpu.linWrite(lin, 8, a0, a1);
    cpu.linWrite(lin + 8, 8, b0, b1);
    cpu.setReg(0, 8, a0, a1);
    cpu.setReg(2, 8, b0, b1);
    cpu.setFlagBits(FLAGS.ZF, 0);
  }
}

/** CBW / CWDE / CDQE (98): sign-extend the lower half of the accumulator into all of it. */
function cbw(cpu: Cpu, i: Instr): void {
  const lo = cpu.lo;
  if (i.osize === 2) cpu.setReg(0, 2, (lo[0] << 24) >> 24);
  else if (i.osize === 4) cpu.setReg(0, 4, (lo[0] << 16) >> 16);
  else cpu.hi[0] = lo[0] >> 31;
}

/** CWD / CDQ / CQO (99): fill rDX with the sign of rAX. */
function cwd(cpu: Cpu, i: Instr): void {
  const lo = cpu.lo;
  if (i.osize === 2) cpu.setReg(2, 2, (lo[0] << 16) >> 31);
  else if (i.osize === 4) cpu.setReg(2, 4, lo[0] >> 31);
  else {
    const s = cpu.hi[0] >> 31;
    cpu.setReg(2, 8, s, s);
  }
}

/** SAHF (9E): SF, ZF, AF, PF, CF ← AH bits 7, 6, 4, 2, 0. */
function sahf(cpu: Cpu): void {
  cpu.setFlagBits(0xd5, (cpu.lo[0] >> 8) & 0xd5);
}

/** LAHF (9F): AH ← SF:ZF:0:AF:0:PF:1:CF. */
function lahf(cpu: Cpu): void {
  cpu.setReg8(4, 0, (cpu.getEflags() & 0xd5) | 2);
}

op(0x1c0, "xadd", xadd(true), true, Imm.None, OPF_LOCK | OPF_BYTE);
op(0x1c1, "xadd", xadd(false), true, Imm.None, OPF_LOCK);
op(0x1b0, "cmpxchg", cmpxchg(true), true, Imm.None, OPF_LOCK | OPF_BYTE);
op(0x1b1, "cmpxchg", cmpxchg(false), true, Imm.None, OPF_LOCK);
group(0x1c7, 1, "cmpxchg8b", cmpxchg8b16b, Imm.None, OPF_LOCK);
op(0x98, "cbw", cbw, false);
op(0x99, "cwd", cwd, false);
op(0x9e, "sahf", sahf, false);
op(0x9f, "lahf", lahf, false);
