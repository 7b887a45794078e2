/**
 * Inline forms of SSE/SSE2 instructions for the block compiler (jit/compile.ts): the data
 * movement (MOVAPS/MOVUPS/MOVAPD/MOVUPD/MOVDQA/MOVDQU, MOVSS/MOVSD, MOVQ, MOVD/MOVQ to and
 * from general registers), the 128-bit logic (AND/ANDN/OR/XOR PS/PD, PAND/PANDN/POR/PXOR),
 * UNPCKLPD/UNPCKHPD, the double arithmetic ADD/SUB/MUL/DIV/SQRT in SD and PD forms,
 * COMISD/UCOMISD, CVTSI2SD and CVTTSD2SI.
 *
 * Each form is recognized by its handler: `i.exec` must be the handler the opcode table holds
 * for the opcode under the instruction's mandatory prefix, so a form is only inlined where the
 * decoder chose exactly that instruction. The emitted code has the handler's semantics under
 * the compiler's contract (inlined code cannot fault): the SSE availability check of
 * sse-util.ts sseCheck (CR0.EM/TS, CR4.OSFXSR), the 16-byte alignment rule of the aligned
 * forms, and every case the inline form does not cover (TLB miss, MMIO, NaN/denormal
 * operands, rounding modes other than nearest, unmasked PE: runtime.ts sd/pd/cvttsd2si) bail
 * out before the instruction, so the interpreter executes it and raises whatever it raises.
 * XMM registers are accessed in `cpu.sse.xmm` (`XI`, int32 dwords) and `cpu.sse.f64` (`XF`);
 * data is moved as int32 dwords so that NaN bit patterns survive, and doubles are only read
 * for arithmetic (a NaN operand bails out before anything is written).
 */
import type { Gen } from "./compile.js";
import type { Instr } from "../instr.js";
import { OPCODES } from "../optable.js";

/** Mandatory-prefix selectors (optable.ts Mandatory). */
const NONE = 0;
const P66 = 1;
const PF3 = 2;
const PF2 = 3;

/** FpOp values (softfp.ts; a const enum there). */
const OP_BY_OPCODE: Record<number, number> = { 0x158: 0, 0x15c: 1, 0x159: 2, 0x15e: 3, 0x151: 4 };

/** 2^-1022, the smallest normal double. */
const MIN64 = "2.2250738585072014e-308";

/** The mandatory-prefix selector whose table entry is `i`'s handler, or -1. */
function form(i: Instr): number {
  const p = OPCODES[i.opcode]?.prefixed;
  if (p === undefined) return -1;
  for (let s = 0; s < 4; s++) if (p[s]?.exec === i.exec) return s;
  return -1;
}

/** Emit the SSE availability check (once per block until a handler call resets it). */
function check(g: Gen): void {
  if (g.sseChecked) return;
  g.flush();
  g.emit(`if ((cpu.cr0 & 12) !== 0 || (cpu.cr4 & 512) === 0) ${g.bail()}`);
  g.sseChecked = true;
}

/**
 * Fast-path memory access of `size` bytes for the ModRM operand: emits the test (bailing out
 * when it fails; `align` adds the 16-byte alignment rule) and returns true when `pa` then
 * holds the physical address; false when the addressing form is not handled inline.
 */
function access(g: Gen, i: Instr, size: number, write: boolean, align: boolean): boolean {
  const L = g.memLinear(i, size, write);
  if (L === null) return false;
  g.emit(`if (!(${align ? `(${L} & 15) === 0 && ` : ""}${g.fastCond(L, size, write)})) ${g.bail()}`);
  return true;
}

/** Statements copying dwords [from, to) of a 128-bit source (expressions) into XMM `r`. */
function setDwords(r: number, src: string[]): string {
  return src.map((v, k) => `XI[${r * 4 + k}] = ${v};`).join(" ");
}

/**
 * The four dwords of the 128-bit source operand as new locals (register or memory, with the
 * alignment rule when `align`), or null when the form is not handled inline.
 */
function src128(g: Gen, i: Instr, align: boolean): string[] | null {
  const t = [g.tmp("v"), g.tmp("v"), g.tmp("v"), g.tmp("v")];
  if (i.mod === 3) {
    g.emit(t.map((v, k) => `${v} = XI[${i.rm * 4 + k}];`).join(" "));
    return t;
  }
  if (!access(g, i, 16, false, align)) return null;
  g.emit(t.map((v, k) => `${v} = dv.getInt32(pa${k === 0 ? "" : ` + ${4 * k}`}, true);`).join(" "));
  return t;
}

/** The low double of the r/m source as an expression in a new local, or null. */
function srcF64(g: Gen, i: Instr): string | null {
  const y = g.tmp("y");
  if (i.mod === 3) {
    g.emit(`${y} = XF[${i.rm * 2}];`);
    return y;
  }
  if (!access(g, i, 8, false, false)) return null;
  g.emit(`${y} = dv.getFloat64(pa, true);`);
  return y;
}

/** Emit the inline form of an SSE instruction; false when it must go through its handler. */
export function genSse(g: Gen, i: Instr): boolean {
  const opc = i.opcode;
  if (opc < 0x110 || opc > 0x1ff) return false;
  const f = form(i);
  if (f < 0) return false;
  const mem = i.mod !== 3;
  const d = i.reg;
  switch (opc) {
    case 0x110:
    case 0x128:
    case 0x16f: {
      // MOVUPS/MOVUPD/MOVAPS/MOVAPD/MOVDQA/MOVDQU load; MOVSS/MOVSD load (0x110 F3/F2).
      if (opc === 0x16f && f !== P66 && f !== PF3) return false;
      check(g);
      if (opc === 0x110 && f >= PF3) {
        const n = f === PF3 ? 1 : 2;
        if (!mem) {
          g.emit(
            setDwords(
              d,
              Array.from({ length: n }, (_, k) => `XI[${i.rm * 4 + k}]`),
            ),
          );
          return true;
        }
        if (!access(g, i, n * 4, false, false)) return false;
        const v = Array.from({ length: n }, (_, k) => `dv.getInt32(pa${k === 0 ? "" : " + 4"}, true)`);
        g.emit(setDwords(d, [...v, ...Array.from({ length: 4 - n }, () => "0")]));
        return true;
      }
      const align = opc === 0x128 || (opc === 0x16f && f === P66);
      const s = src128(g, i, align);
      if (s === null) return false;
      g.emit(setDwords(d, s));
      return true;
    }
    case 0x111:
    case 0x129:
    case 0x17f: {
      // Stores of the above.
      if (opc === 0x17f && f !== P66 && f !== PF3) return false;
      check(g);
      const n = opc === 0x111 && f >= PF3 ? (f === PF3 ? 1 : 2) : 4;
      if (!mem) {
        g.emit(
          setDwords(
            i.rm,
            Array.from({ length: n }, (_, k) => `XI[${d * 4 + k}]`),
          ),
        );
        return true;
      }
      const align = opc === 0x129 || (opc === 0x17f && f === P66);
      if (!access(g, i, n * 4, true, align)) return false;
      g.emit(
        Array.from(
          { length: n },
          (_, k) => `dv.setInt32(pa${k === 0 ? "" : ` + ${4 * k}`}, XI[${d * 4 + k}], true);`,
        ).join(" "),
      );
      return true;
    }
    case 0x17e: {
      if (f === PF3) {
        // MOVQ xmm, xmm/m64: zero-extends.
        check(g);
        if (!mem) {
          g.emit(setDwords(d, [`XI[${i.rm * 4}]`, `XI[${i.rm * 4 + 1}]`, "0", "0"]));
          return true;
        }
        if (!access(g, i, 8, false, false)) return false;
        g.emit(setDwords(d, ["dv.getInt32(pa, true)", "dv.getInt32(pa + 4, true)", "0", "0"]));
        return true;
      }
      if (f !== P66 || mem) return false;
      // MOVD r32, xmm / MOVQ r64, xmm.
      check(g);
      const w = (i.rex & 8) !== 0;
      g.emit(`lo[${i.rm}] = XI[${d * 4}]; hi[${i.rm}] = ${w ? `XI[${d * 4 + 1}]` : "0"};`);
      return true;
    }
    case 0x16e: {
      // MOVD xmm, r32 / MOVQ xmm, r64: zero-extends.
      if (f !== P66 || mem) return false;
      check(g);
      const w = (i.rex & 8) !== 0;
      g.emit(setDwords(d, [`lo[${i.rm}]`, w ? `hi[${i.rm}]` : "0", "0", "0"]));
      return true;
    }
    case 0x1d6: {
      // MOVQ xmm/m64, xmm: a register destination is zero-extended.
      if (f !== P66) return false;
      check(g);
      if (!mem) {
        const t = [g.tmp("v"), g.tmp("v")];
        g.emit(`${t[0]} = XI[${d * 4}]; ${t[1]} = XI[${d * 4 + 1}];`);
        g.emit(setDwords(i.rm, [t[0], t[1], "0", "0"]));
        return true;
      }
      if (!access(g, i, 8, true, false)) return false;
      g.emit(`dv.setInt32(pa, XI[${d * 4}], true); dv.setInt32(pa + 4, XI[${d * 4 + 1}], true);`);
      return true;
    }
    case 0x154:
    case 0x155:
    case 0x156:
    case 0x157:
    case 0x1db:
    case 0x1df:
    case 0x1eb:
    case 0x1ef: {
      // AND/ANDN/OR/XOR PS/PD and PAND/PANDN/POR/PXOR (66 only for the integer forms).
      if (opc >= 0x1db ? f !== P66 : f !== NONE && f !== P66) return false;
      const kind = opc < 0x1db ? opc - 0x154 : opc === 0x1db ? 0 : opc === 0x1df ? 1 : opc === 0x1eb ? 2 : 3;
      check(g);
      if (!mem && i.rm === d && (kind === 1 || kind === 3)) {
        // PXOR/XORPS x, x and ANDN x, x: zero (the idiom).
        g.emit(setDwords(d, ["0", "0", "0", "0"]));
        return true;
      }
      const s = src128(g, i, true);
      if (s === null) return false;
      const o = ["&", "&", "|", "^"][kind];
      g.emit(
        setDwords(
          d,
          s.map((v, k) => `${kind === 1 ? "~" : ""}XI[${d * 4 + k}] ${o} ${v}`),
        ),
      );
      return true;
    }
    case 0x114:
    case 0x115: {
      // UNPCKLPD / UNPCKHPD.
      if (f !== P66) return false;
      check(g);
      const s = src128(g, i, true);
      if (s === null) return false;
      const h = opc === 0x115 ? 2 : 0;
      const a = [g.tmp("v"), g.tmp("v")];
      g.emit(`${a[0]} = XI[${d * 4 + h}]; ${a[1]} = XI[${d * 4 + h + 1}];`);
      g.emit(setDwords(d, [a[0], a[1], s[h], s[h + 1]]));
      return true;
    }
    case 0x151:
    case 0x158:
    case 0x159:
    case 0x15c:
    case 0x15e: {
      // Through runtime.ts sd/pd (MXCSR and operand checks there; false: bail out).
      const op = OP_BY_OPCODE[opc];
      const pd = f === P66;
      if (f !== PF2 && !pd) return false;
      check(g);
      if (!mem) g.emit(`if (!X.${pd ? "pd" : "sd"}(XS, ${op}, ${d * 2}, XF, ${i.rm * 2})) ${g.bail()}`);
      else {
        if (!access(g, i, pd ? 16 : 8, false, pd)) return false;
        g.emit(`if (!X.${pd ? "pdm" : "sdm"}(XS, ${op}, ${d * 2}, dv, pa)) ${g.bail()}`);
      }
      return true;
    }
    case 0x12e:
    case 0x12f: {
      // UCOMISD / COMISD: ZF,PF,CF from the comparison, OF,SF,AF cleared. NaN (IE rules) and
      // denormal (DE/DAZ) operands are left to the handler.
      if (f !== P66) return false;
      check(g);
      const c = g.tmp("v");
      if (!mem) g.emit(`${c} = X.comisd(XS, ${d * 2}, XF, ${i.rm * 2});`);
      else {
        if (!access(g, i, 8, false, false)) return false;
        g.emit(`${c} = X.comisdm(XS, ${d * 2}, dv, pa);`);
      }
      g.emit(`if (${c} < 0) ${g.bail()}`);
      const e = g.eflagsUpdate(0x8d5, c);
      g.setFlags(`fe = ${e}; fm = 0;`);
      g.flags = { kind: "eager", size: 4, a: "0", b: "0", r: e, ah: "0", bh: "0", rh: "0" };
      return true;
    }
    case 0x12a: {
      // CVTSI2SD xmm, r/m32|64: exact below 2^53 (larger 64-bit sources round: handler).
      if (f !== PF2) return false;
      check(g);
      const w = (i.rex & 8) !== 0;
      let vl: string;
      let vh = "0";
      if (!mem) {
        vl = `lo[${i.rm}]`;
        vh = `hi[${i.rm}]`;
      } else {
        const L = g.memLinear(i, w ? 8 : 4, false);
        if (L === null) return false;
        [vl, vh] = g.load(L, w ? 8 : 4);
      }
      if (w) {
        g.emit(`if (${vh} < -2097152 || ${vh} >= 2097152) ${g.bail()}`);
        g.emit(`XF[${d * 2}] = ${vh} * 4294967296 + (${vl} >>> 0);`);
      } else g.emit(`XF[${d * 2}] = ${vl};`);
      return true;
    }
    case 0x12c: {
      // CVTTSD2SI r32|64, xmm/m64.
      // Normal or zero sources whose truncation fits (64-bit: below 2^53); PE when inexact.
      if (f !== PF2) return false;
      check(g);
      const y = srcF64(g, i);
      if (y === null) return false;
      const w = (i.rex & 8) !== 0;
      const t = g.tmp("y");
      const range = w ? `Math.abs(${y}) < 9007199254740992` : `${t} >= -2147483648 && ${t} <= 2147483647`;
      g.emit(`${t} = Math.trunc(${y});`);
      g.emit(`if (!((Math.abs(${y}) >= ${MIN64} || ${y} === 0) && ${range})) ${g.bail()}`);
      // Inexact: PE, or #XM when PM is unmasked (the handler raises it).
      g.emit(`if (${t} !== ${y}) { if ((XS.mxcsr & 4096) === 0) ${g.bail()} XS.mxcsr |= 32; }`);
      g.emit(`lo[${d}] = ${t} | 0; hi[${d}] = ${w ? `Math.floor(${t} / 4294967296) | 0` : "0"};`);
      return true;
    }
    default:
      return false;
  }
}
