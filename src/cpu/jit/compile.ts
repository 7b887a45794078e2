/**
 * Block compiler (the second execution tier): turns a hot decoded block into one JavaScript
 * function built with `new Function`. Simple instruction forms (register ALU/MOV/LEA/shift,
 * loads and stores through 64-bit addressing, Jcc/JMP) are emitted inline; every other
 * instruction calls its decoded handler exactly as the interpreter loop in cpu.ts does.
 *
 * Exactness contract (the compiled function behaves as the interpreter loop would):
 * - inlined instructions cannot fault: a memory operand takes the inline path only when the
 *   address is canonical, the access hits the TLB with the needed permission (exactly
 *   cpu.translate's test), stays in one page and is plain RAM (for a write, also a page
 *   without decoded code), so it cannot fault, call a hook or modify code. In any other case
 *   the function *bails out* before the instruction: the instructions before it retire,
 *   `cpu.bailBlock`/`cpu.bailIdx` name it and the run loop interprets it and the rest of its
 *   block (so faults, #PF, MMIO, code writes and TLB fills happen in the interpreter, at the
 *   same instruction boundaries). A taken branch out of the function checks the target as
 *   cpu.branch does (64-bit: canonical) or bails out to let the interpreter branch;
 * - handler calls get `cpu.rip` / `cpu.nextRip` set as in the interpreter and the local `k`
 *   its index, so a CpuFault (or a hook's InstructionExit, hooks.ts) leaves RIP and the
 *   retired-instruction count as the interpreter does (the catch adds the instructions
 *   retired so far to `cpu.icount` and rethrows); after a handler the function is left when
 *   `blockInvalidated` (self-modifying code) or `stopRequested` is set, or when a
 *   non-terminal handler moved `nextRip`;
 * - guest registers and the flags live in JS locals inside the function (cacheRegisters,
 *   FLAG_LOCALS): loaded on entry, stored back to cpu.lo/cpu.hi and the cpu flag fields on
 *   every way out and around every handler call (and the flags before testCondition/getCF
 *   and the IMUL helpers). Lazy flags are recorded exactly as the handlers record them
 *   (operands may be in int32 form; flags.ts normalizes), and a Jcc/SETcc/CMOVcc/ADC/SBB that
 *   follows a flag-setting instruction of the same block evaluates its condition directly
 *   from that instruction's operands; flag assignments nobody can observe are elided, also
 *   across a transfer to a region block that writes every status flag before anything can
 *   observe them (Gen.entryFlagsLive); 64-bit IMUL computes its CF/OF only where they are
 *   stored;
 * - a block whose terminal branch targets its own start loops inside the function while the
 *   checks the run loop makes between blocks (instruction budget, pending SMI/NMI/INTR, stop,
 *   code invalidation, chain epoch, halt/shutdown/interrupt shadow) allow it, tested by the
 *   transfer itself (LOOP_OK). Only the budget is tested on every transfer; the rest can only
 *   change through a handler call, so it is tested (runtime.loopOk) on the first transfer
 *   and on the first after a handler.
 *
 * Paths whose use depends on run-time state rather than on the guest's code (bail-outs,
 * exits) only assign locals and leave through the common end of the function, which makes
 * the stores: V8 deoptimizes optimized code that reaches an operation it has no type
 * feedback for, and a TLB miss in a fresh processor would otherwise do that every time.
 *
 * The function updates `cpu.icount` itself and leaves `cpu.rip` at the next instruction.
 *
 * Regions: in 64-bit mode the function covers the loop of blocks around the hot block
 * (findRegion), as a `switch (pc)` over them; a branch to a region block continues inside
 * the function under the same checks as the self-loop above. See docs/cpu-core.md.
 */
import type { Cpu } from "../cpu.js";
import type { Block } from "../decoder.js";
import type { Handler, Instr } from "../instr.js";
import { testCondition } from "../flags.js";
import { OPCODES } from "../optable.js";
import { TLB_SIZE } from "../mmu.js";
import * as runtime from "./runtime.js";
import { genSse } from "./sse.js";

/** A compiled block: runs the block (possibly several times) from `cpu.rip`. */
export type JitFn = (cpu: Cpu) => void;

/** 2^47: canonical addresses lie in [-CANON, CANON). */
const CANON = 140737488355328;
/** CF|PF|AF|ZF|SF|OF. */
const STATUS = 0x8d5;
/** PF|ZF|SF (the lazily recorded part of a shift's flags). */
const SZP = 0xc4;

/** LazyOp values (flags.ts; a const enum there, repeated as numbers for code generation). */
const L_ADD = 0;
const L_ADC = 1;
const L_SUB = 2;
const L_SBB = 3;
const L_LOGIC = 4;
const L_INC = 5;
const L_DEC = 6;

/** What the generator knows statically about the flags (the last flag write in the block). */
export interface FlagState {
  /**
   * add/sub: full arithmetic; logic: CF=OF=0; szp: only ZF/SF known (shift, inc/dec);
   * eager: every status flag is in the EFLAGS value held by local `r` (COMISD).
   */
  kind: "add" | "sub" | "logic" | "szp" | "eager";
  size: number;
  /** JS locals holding operands and result (int32 form for size 4/8, masked for 1/2). */
  a: string;
  b: string;
  r: string;
  ah: string;
  bh: string;
  rh: string;
}

/** Expression for the unsigned 32-bit value of int32 expression `x` (folded for literals). */
function u32(x: string): string {
  const m = /^\(?(-?\d+)\)?$/.exec(x);
  return m ? String(Number(m[1]) >>> 0) : `(${x} >>> 0)`;
}

/** Literal for generated code. */
function lit(n: number): string {
  return n < 0 ? `(${n})` : String(n);
}

/** Code generator for one block (also used by jit/sse.ts). */
export class Gen {
  readonly out: string[] = [];
  private nv = 0;
  flags: FlagState | null = null;
  /**
   * Flag-recording stores not yet emitted. A later full flag write makes them dead; they are
   * emitted before anything that could observe them (a possible fault, a handler call, a
   * dynamic flag read, leaving the block).
   */
  pending: string | null = null;
  /** Instruction index, offset and end offset of the instruction being generated. */
  idx = 0;
  off = 0;
  end = 0;
  /** Number of instructions in the block. */
  readonly count: number;
  /** The SSE availability check has been emitted since the block's start or last handler call. */
  sseChecked = false;
  /**
   * For a memory-operand local made by memLinear: a local holding the low 32 bits of the
   * address as an int32 (computed in int32 arithmetic, wrapping), from which fastCond takes
   * the page offset and TLB index without converting the double.
   */
  readonly low32 = new Map<string, string>();
  /** Every status flag has been written (lazily, all of STATUS) since the block's start. */
  flagsWritten = false;
  /**
   * Code of this block may observe the flags it was entered with: something that reads the
   * flag locals (a dynamic condition, a handler call, an exit or bail-out, which stores them)
   * was emitted before the block wrote every status flag. When false, a transfer into the
   * block from another region block need not assign its own pending flags.
   */
  entryFlagsLive = false;

  /**
   * @param base offset of the block's first byte from the function's entry RIP `r0`
   * @param hbase index of the block's first instruction in the handler/instruction arrays
   * @param ns prefix making this block's local names unique in the function
   * @param targets region blocks by offset from `r0` (case number), for direct transfers
   * @param vars the function's locals (shared by the blocks of a region)
   * @param bidx index of this block in the region (for bail-outs)
   */
  constructor(
    readonly block: Block,
    readonly mode64: boolean,
    readonly base = 0,
    readonly hbase = 0,
    readonly ns = "",
    readonly targets: ReadonlyMap<number, number> = new Map([[0, 0]]),
    readonly vars: string[] = [],
    readonly bidx = 0,
  ) {
    this.count = block.instrs.length;
  }

  /** A fresh local variable. */
  tmp(p = "t"): string {
    const n = `${p}${this.ns}${this.nv++}`;
    this.vars.push(n);
    return n;
  }

  /** Expression for the address `off` bytes from the start of this block. */
  at(off: number): string {
    const d = this.base + off;
    return d === 0 ? "r0" : d < 0 ? `r0 - ${-d}` : `r0 + ${d}`;
  }

  /**
   * Code that continues at `off` bytes from this block's start after `n` instructions of it:
   * a jump to the region block there when there is one and the run loop's between-block
   * checks (LOOP_OK) allow it, else a way out of the function to that address; null when no
   * region block starts there. The pending flag assignments are made on the way out; on the
   * jump they are wrapped in a FLAGS_TO marker, which genRegion removes when the target block
   * overwrites every status flag before anything can observe them (Gen.entryFlagsLive).
   */
  transfer(off: number, n: number): string | null {
    const c = this.targets.get(this.base + off);
    if (c === undefined) return null;
    const p = this.pending ?? "";
    const keep = p === "" ? "" : `/*F${c}{*/${p}/*}*/`;
    return `done += ${n}; if (${LOOP_OK}) { ${keep}pc = ${c}; continue; } { ${p}xo = ${this.base + off}; xn = 0; break x; }`;
  }

  emit(s: string): void {
    if (!this.flagsWritten && !this.entryFlagsLive && readsFlags(s)) this.entryFlagsLive = true;
    this.out.push(s);
  }

  /** Declarations of all locals used. */
  decls(): string {
    return this.vars.length === 0 ? "" : `let ${this.vars.map((v) => `${v} = 0`).join(", ")};`;
  }

  /**
   * Leave the function with RIP `off` bytes from this block's start after `n` instructions of
   * this iteration (the pending flag assignments are made on this path and stay pending on
   * the other). Only local assignments: the common end of the function stores them.
   */
  exit(off: number, n: number): string {
    return `{ ${this.pending ?? ""}xo = ${this.base + off}; xn = ${n}; break x; }`;
  }

  /**
   * Leave the function before the current instruction and have the run loop interpret it and
   * the rest of its block (cpu.bailBlock/bailIdx): used where the inline form does not cover
   * the case at hand (a memory access off the fast path, a branch target to check). The
   * instructions before it retire; the pending flag assignments are made on this path.
   */
  bail(): string {
    return `{ ${this.pending ?? ""}xb = ${this.bidx}; xk = ${this.idx}; xo = ${this.base + this.off}; xn = ${this.idx}; break x; }`;
  }

  /** Emit the pending flag assignments (to the flag locals). */
  flush(): void {
    if (this.pending !== null) this.emit(this.pending);
    this.pending = null;
  }

  /** Replace the pending flag assignments (the previous ones are dead). */
  setFlags(code: string): void {
    this.pending = code;
  }

  /**
   * Linear address of the ModRM memory operand for an access of `size` bytes into a new
   * local (64-bit mode, 64-bit address size only). Not checked for canonical form here: the
   * fast path (fastCond) only matches TLB entries, which only canonical addresses fill, so
   * a non-canonical address (or one too large for a double to hold exactly, which is not
   * canonical either) bails out and faults in the interpreter, as cpu.linear would.
   * Returns null when the form is not handled inline.
   */
  memLinear(i: Instr, size: number, write: boolean): string | null {
    if (!this.mode64 || i.asize !== 8 || i.mod === 3) return null;
    const L = this.tmp("m");
    const disp = i.disp | 0;
    if (i.ripRel) {
      this.emit(`${L} = ${this.at(this.end + disp)};`);
    } else if (i.index < 0 && i.base < 0) {
      this.emit(`${L} = ${disp};`);
    } else if (i.index < 0) {
      // base + disp32: exact whenever the sum is canonical (otherwise it faults either way).
      const w = this.tmp("w");
      this.emit(
        `${L} = hi[${i.base}] * 4294967296 + (lo[${i.base}] >>> 0) + ${lit(disp)}; ${w} = (lo[${i.base}] + ${lit(disp)}) | 0;`,
      );
      this.low32.set(L, w);
    } else {
      // The signed 64-bit sum in a double, without the wrap-around modulo 2^64: where the
      // wrap would matter the double lies at 2^64 - 2^47 or more from the true address, so
      // the true address is canonical only if the double is not, and the fast path's tag
      // test (which only canonical addresses pass) sends it to the interpreter.
      const s = 1 << i.scale;
      const bl = i.base >= 0 ? `(lo[${i.base}] >>> 0) + ` : "";
      const bh = i.base >= 0 ? `hi[${i.base}] + ` : "";
      this.emit(
        `${L} = (${bh}hi[${i.index}] * ${s}) * 4294967296 + (${bl}(lo[${i.index}] >>> 0) * ${s} + ${lit(disp)});`,
      );
      const w = this.tmp("w");
      const b = i.base >= 0 ? `lo[${i.base}] + ` : "";
      this.emit(`${w} = (${b}(lo[${i.index}] << ${i.scale}) + ${lit(disp)}) | 0;`);
      this.low32.set(L, w);
    }
    if (i.seg >= 4) {
      // FS/GS: cpu.linear adds the base and makes the canonical check (may fault).
      this.low32.delete(L);
      this.flush();
      this.emit(
        `${SYNC_FLAGS} k = ${this.idx}; cpu.rip = ${this.at(this.off)}; ${L} = cpu.linear(${i.seg}, ${L}, ${size}, ${write});`,
      );
    }
    return L;
  }

  /**
   * Condition for the inline fast path of an access of `size` bytes at linear `L`: the fast
   * tag beside the TLB entry (cpu.jitReadTag/jitWriteTag; the page's linear address plus the
   * access mode, so one comparison of doubles: the page offset `po` and the TLB index come
   * from ToInt32/ToUint32 of `L`, exact modulo 2^32 for any double) says the page is mapped
   * with the permission for the access in the current access mode (`am`, as cpu.translate checks it)
   * and is plain RAM (for a write also without decoded code), and the access stays in the
   * page. Sets `pa` to the physical address (from cpu.tlbPhys32: integer arithmetic).
   */
  fastCond(L: string, size: number, write: boolean): string {
    const w = this.low32.get(L) ?? L;
    return (
      `(po = ${w} & 4095, ix = (${w} >>> 12) & ${TLB_SIZE - 1}, ${write ? "jw" : "jr"}[ix] === ${L} - po + am) && ` +
      `po <= ${4096 - size} && ((pa = (tP[ix] + po) >>> 0), true)`
    );
  }

  /** Load `size` bytes at linear `L` into new locals [lo, hi] (hi "0" below 8 bytes). */
  load(L: string, size: number): [string, string] {
    const v = this.tmp("v");
    this.emit(`if (!(${this.fastCond(L, size, false)})) ${this.bail()}`);
    if (size === 8) {
      const vh = this.tmp("v");
      this.emit(`${v} = dv.getInt32(pa, true); ${vh} = dv.getInt32(pa + 4, true);`);
      return [v, vh];
    }
    const fast = size === 4 ? "dv.getInt32(pa, true)" : size === 2 ? "dv.getUint16(pa, true)" : "u8[pa]";
    this.emit(`${v} = ${fast};`);
    return [v, "0"];
  }

  /** Store `size` bytes. */
  store(L: string, size: number, v: string, vh: string): void {
    this.emit(`if (!(${this.fastCond(L, size, true)})) ${this.bail()}`);
    if (size === 8) this.emit(`dv.setInt32(pa, ${v}, true); dv.setInt32(pa + 4, ${vh}, true);`);
    else if (size === 4) this.emit(`dv.setInt32(pa, ${v}, true);`);
    else if (size === 2) this.emit(`dv.setUint16(pa, ${v}, true);`);
    else this.emit(`u8[pa] = ${v};`);
  }

  /** Expression reading an 8-bit register (AH..BH without REX). */
  reg8(r: number, rex: number): string {
    if (rex === 0 && r >= 4 && r < 8) return `((lo[${r - 4}] >> 8) & 255)`;
    return `(lo[${r}] & 255)`;
  }

  /** Statement writing an 8-bit register from expression `v` (0..255). */
  setReg8(r: number, rex: number, v: string): string {
    if (rex === 0 && r >= 4 && r < 8) return `lo[${r - 4}] = (lo[${r - 4}] & -65281) | (${v} << 8);`;
    return `lo[${r}] = (lo[${r}] & -256) | ${v};`;
  }

  /**
   * A new local holding EFLAGS (the `fe` local) with the bits of `mask` replaced by `bits`,
   * computed now (so that a later exit path only copies it). Pending flag assignments that
   * change `fe` are made first, so the value is exactly what the stores in order would give —
   * unless `mask` is every status flag: compiled code changes no other bit of `fe`, so the
   * value does not depend on them, and the instruction writes every status flag.
   */
  eflagsUpdate(mask: number, bits: string): string {
    if (mask === STATUS) this.flagsWritten = true;
    else if (this.pending !== null && this.pending.includes("fe =")) this.flush();
    const e = this.tmp("e");
    this.emit(`${e} = (fe & ${~mask}) | ${bits};`);
    return e;
  }

  /** Record lazy flags (in the flag locals, stored to the cpu fields by SYNC_FLAGS). */
  lazy(op: number, size: number, a: string, b: string, r: string, mask: number): void {
    if (mask === STATUS) this.flagsWritten = true;
    let s = `fo = ${op}; fs = ${size}; `;
    if (op !== L_LOGIC) s += `fa = ${a}; fb = ${b}; `;
    this.setFlags(`${s}fr = ${r}; fm = ${mask};`);
  }

  /** Record 64-bit lazy flags. */
  lazy64(
    op: number,
    a: string,
    ah: string,
    b: string,
    bh: string,
    r: string,
    rh: string,
    mask: number,
  ): void {
    if (mask === STATUS) this.flagsWritten = true;
    let s = `fo = ${op}; fs = 8; `;
    if (op !== L_LOGIC) s += `fa = ${a}; fah = ${ah}; fb = ${b}; fbh = ${bh}; `;
    this.setFlags(`${s}fr = ${r}; frh = ${rh}; fm = ${mask};`);
  }

  /** Expression for CF (0/1): static when known, else from the cpu. */
  carry(): string {
    const f = this.flags;
    if (f !== null && f.kind === "eager") return `(${f.r} & 1)`;
    if (f !== null && f.size >= 4) {
      if (f.kind === "logic") return "0";
      const c = this.cond(2);
      if (c !== null) return `((${c}) ? 1 : 0)`;
    }
    this.flush();
    this.emit(SYNC_FLAGS);
    return "cpu.getCF()";
  }

  /**
   * Condition `cc` as a JS boolean expression from the static flag state, or null when it
   * must be evaluated from the cpu state.
   */
  cond(cc: number): string | null {
    const f = this.flags;
    if (f === null) return null;
    const neg = (cc & 1) !== 0;
    const c = cc >> 1;
    let e: string | null = null;
    const { a, b, r, ah, bh, rh } = f;
    if (f.kind === "eager") {
      const lt = `(((${r} >> 7) ^ (${r} >> 11)) & 1) !== 0`;
      e = [
        `((${r} & 2048) !== 0)`,
        `((${r} & 1) !== 0)`,
        `((${r} & 64) !== 0)`,
        `((${r} & 65) !== 0)`,
        `((${r} & 128) !== 0)`,
        `((${r} & 4) !== 0)`,
        `(${lt})`,
        `((${r} & 64) !== 0 || ${lt})`,
      ][c];
    } else if (f.size === 8) {
      const z = `((${r} | ${rh}) === 0)`;
      const s = `(${rh} < 0)`;
      if (f.kind === "sub") {
        const ult = `(${ah} !== ${bh} ? (${ah} >>> 0) < (${bh} >>> 0) : (${a} >>> 0) < (${b} >>> 0))`;
        const slt = `(${ah} !== ${bh} ? ${ah} < ${bh} : (${a} >>> 0) < (${b} >>> 0))`;
        const eq = `(${a} === ${b} && ${ah} === ${bh})`;
        e = [
          `(((${ah} ^ ${bh}) & (${ah} ^ ${rh})) < 0)`,
          ult,
          eq,
          `(${ult} || ${eq})`,
          s,
          null,
          slt,
          `(${slt} || ${eq})`,
        ][c];
      } else if (f.kind === "add") {
        const cf = `(${rh} !== ${ah} ? (${rh} >>> 0) < (${ah} >>> 0) : (${r} >>> 0) < (${a} >>> 0))`;
        const of = `(((${ah} ^ ${rh}) & (${bh} ^ ${rh})) < 0)`;
        e = [of, cf, z, `(${cf} || ${z})`, s, null, `(${s} !== ${of})`, `(${z} || ${s} !== ${of})`][c];
      } else if (f.kind === "logic") {
        e = ["false", "false", z, z, s, null, s, `(${z} || ${s})`][c];
      } else {
        e = c === 2 ? z : c === 4 ? s : null;
      }
    } else if (f.size === 4) {
      const z = `(${r} === 0)`;
      const s = `(${r} < 0)`;
      if (f.kind === "sub") {
        e = [
          `(((${a} ^ ${b}) & (${a} ^ ${r})) < 0)`,
          `((${a} >>> 0) < (${b} >>> 0))`,
          z,
          `((${a} >>> 0) <= (${b} >>> 0))`,
          s,
          null,
          `(${a} < ${b})`,
          `(${a} <= ${b})`,
        ][c];
      } else if (f.kind === "add") {
        const cf = `((${r} >>> 0) < (${a} >>> 0))`;
        const of = `(((${a} ^ ${r}) & (${b} ^ ${r})) < 0)`;
        e = [of, cf, z, `(${cf} || ${z})`, s, null, `(${s} !== ${of})`, `(${z} || ${s} !== ${of})`][c];
      } else if (f.kind === "logic") {
        e = ["false", "false", z, z, s, null, s, `(${r} <= 0)`][c];
      } else {
        e = c === 2 ? z : c === 4 ? s : null;
      }
    } else {
      // 8/16-bit: values are masked and unsigned.
      const sign = f.size === 1 ? 0x80 : 0x8000;
      const z = `(${r} === 0)`;
      const s = `((${r} & ${sign}) !== 0)`;
      if (f.kind === "sub") e = [null, `(${a} < ${b})`, z, `(${a} <= ${b})`, s, null, null, null][c];
      else if (f.kind === "logic") e = ["false", "false", z, z, s, null, null, null][c];
      else e = c === 2 ? z : c === 4 ? s : null;
    }
    if (e === null) return null;
    return neg ? `!${e}` : e;
  }

  /** Condition expression: static if possible, else testCondition. */
  condExpr(cc: number): string {
    const c = this.cond(cc);
    if (c !== null) return c;
    this.flush();
    this.emit(SYNC_FLAGS);
    return `T(cpu, ${cc})`;
  }

  /**
   * ALU operation `op` (AluOp order) at `size` on int32-form operands; writes the result via
   * `write` (null for CMP) and records the flags.
   */
  alu(
    op: number,
    size: number,
    a: string,
    ah: string,
    b: string,
    bh: string,
    write: ((r: string, rh: string) => string) | null,
  ): void {
    const r = this.tmp("r");
    let rh = "0";
    let kind: FlagState["kind"];
    if (size === 8) {
      rh = this.tmp("r");
      const t = this.tmp("s");
      switch (op) {
        case 0:
        case 2: {
          const cin = op === 2 ? this.tmp("c") : "";
          if (op === 2) this.emit(`${cin} = ${this.carry()};`);
          // ADD in int32 arithmetic: the carry out of the low half is (r < a) unsigned.
          if (op === 0)
            this.emit(
              `${r} = (${a} + ${b}) | 0; ${rh} = (${ah}${bh === "0" ? "" : ` + ${bh}`} + ((${r} >>> 0) < ${u32(a)} ? 1 : 0)) | 0;`,
            );
          else
            this.emit(
              `${t} = ${u32(a)} + ${u32(b)} + ${cin}; ${r} = ${t} | 0; ${rh} = (${ah}${bh === "0" ? "" : ` + ${bh}`} + (${t} > 4294967295 ? 1 : 0)) | 0;`,
            );
          this.lazy64(op === 2 ? L_ADC : L_ADD, a, ah, b, bh, r, rh, STATUS);
          if (op === 2) this.pending = `fc = ${cin}; ${this.pending}`;
          kind = "add";
          break;
        }
        case 3:
        case 5:
        case 7: {
          const cin = op === 3 ? this.tmp("c") : "";
          if (op === 3) this.emit(`${cin} = ${this.carry()};`);
          // SUB/CMP in int32 arithmetic: the borrow out of the low half is (a < b) unsigned.
          if (op !== 3)
            this.emit(
              `${r} = (${a} - ${b}) | 0; ${rh} = (${ah}${bh === "0" ? "" : ` - ${bh}`} - (${u32(a)} < ${u32(b)} ? 1 : 0)) | 0;`,
            );
          else
            this.emit(
              `${t} = ${u32(a)} - ${u32(b)} - ${cin}; ${r} = ${t} | 0; ${rh} = (${ah}${bh === "0" ? "" : ` - ${bh}`} - (${t} < 0 ? 1 : 0)) | 0;`,
            );
          this.lazy64(op === 3 ? L_SBB : L_SUB, a, ah, b, bh, r, rh, STATUS);
          if (op === 3) this.pending = `fc = ${cin}; ${this.pending}`;
          kind = "sub";
          break;
        }
        default: {
          const o = op === 1 ? "|" : op === 4 ? "&" : "^";
          this.emit(`${r} = ${a} ${o} ${b}; ${rh} = ${ah} ${o} ${bh};`);
          this.lazy64(L_LOGIC, "0", "0", "0", "0", r, rh, STATUS);
          kind = "logic";
        }
      }
    } else {
      const m = size === 4 ? "| 0" : `& ${size === 1 ? 0xff : 0xffff}`;
      switch (op) {
        case 0:
        case 2: {
          const cin = op === 2 ? this.tmp("c") : "";
          if (op === 2) this.emit(`${cin} = ${this.carry()};`);
          this.emit(`${r} = (${a} + ${b}${op === 2 ? ` + ${cin}` : ""}) ${m};`);
          this.lazy(op === 2 ? L_ADC : L_ADD, size, a, b, r, STATUS);
          if (op === 2) this.pending = `fc = ${cin}; ${this.pending}`;
          kind = "add";
          break;
        }
        case 3:
        case 5:
        case 7: {
          const cin = op === 3 ? this.tmp("c") : "";
          if (op === 3) this.emit(`${cin} = ${this.carry()};`);
          this.emit(`${r} = (${a} - ${b}${op === 3 ? ` - ${cin}` : ""}) ${m};`);
          this.lazy(op === 3 ? L_SBB : L_SUB, size, a, b, r, STATUS);
          if (op === 3) this.pending = `fc = ${cin}; ${this.pending}`;
          kind = "sub";
          break;
        }
        default: {
          const o = op === 1 ? "|" : op === 4 ? "&" : "^";
          this.emit(`${r} = ${a} ${o} ${b};`);
          this.lazy(L_LOGIC, size, "0", "0", r, STATUS);
          kind = "logic";
        }
      }
    }
    if (write !== null && op !== 7) this.emit(write(r, rh));
    // ADC/SBB results are not tracked (their carry-in makes the static conditions wrong).
    this.flags = op === 2 || op === 3 ? null : { kind, size, a, b, r, ah, bh, rh };
  }

  /** Snapshot register `n` (low half, and high half for 8 bytes) into locals. */
  readReg(n: number, size: number): [string, string] {
    const a = this.tmp("a");
    if (size === 8) {
      const ah = this.tmp("a");
      this.emit(`${a} = lo[${n}]; ${ah} = hi[${n}];`);
      return [a, ah];
    }
    this.emit(`${a} = lo[${n}];`);
    return [a, "0"];
  }

  /** Writer of a 4/8-byte register result. */
  regWriter(n: number, size: number): (r: string, rh: string) => string {
    return size === 8
      ? (r, rh) => `lo[${n}] = ${r}; hi[${n}] = ${rh};`
      : (r) => `lo[${n}] = ${r}; hi[${n}] = 0;`;
  }

  /** Immediate as [low int32, high int32] literals for a 4/8-byte operation. */
  imm(i: Instr, size: number): [string, string] {
    const v = i.imm | 0;
    return [lit(v), size === 8 ? (i.imm < 0 ? "(-1)" : "0") : "0"];
  }
}

/** Shift by a constant (SHL/SHR/SAR, ModRM.reg 4/5/6/7) of a 4/8-byte register. */
function genShift(g: Gen, i: Instr, kind: number, count: number): boolean {
  const size = i.osize;
  const d = i.rm;
  if (size === 4) {
    const c = count & 0x1f;
    if (c === 0) {
      g.emit(`hi[${d}] = 0;`);
      return true;
    }
    const a = g.tmp("a");
    const r = g.tmp("r");
    const cf = g.tmp("c");
    g.emit(`${a} = lo[${d}];`);
    let of: string;
    if (kind === 4 || kind === 6) {
      g.emit(`${r} = ${a} << ${c}; ${cf} = (${a} >>> ${32 - c}) & 1;`);
      of = `((${r} >>> 31) ^ ${cf})`;
    } else if (kind === 5) {
      g.emit(`${r} = ${a} >>> ${c}; ${cf} = (${a} >>> ${c - 1}) & 1;`);
      of = `(${a} >>> 31)`;
    } else {
      g.emit(`${r} = ${a} >> ${c}; ${cf} = (${a} >> ${c - 1}) & 1;`);
      of = "0";
    }
    g.emit(`lo[${d}] = ${r}; hi[${d}] = 0;`);
    const e = g.eflagsUpdate(STATUS, `${cf} | (${of} << 11)`);
    g.setFlags(`fe = ${e}; fo = ${L_LOGIC}; fs = 4; fr = ${r}; fm = ${SZP};`);
    g.flags = { kind: "szp", size: 4, a: "0", b: "0", r: `(${r} | 0)`, ah: "0", bh: "0", rh: "0" };
    return true;
  }
  if (size !== 8) return false;
  const c = count & 0x3f;
  if (c === 0) return true;
  const [a, ah] = g.readReg(d, 8);
  const r = g.tmp("r");
  const rh = g.tmp("r");
  const cf = g.tmp("c");
  let of: string;
  if (kind === 4 || kind === 6) {
    if (c < 32)
      g.emit(
        `${r} = ${a} << ${c}; ${rh} = (${ah} << ${c}) | (${a} >>> ${32 - c}); ${cf} = (${ah} >>> ${32 - c}) & 1;`,
      );
    else if (c === 32) g.emit(`${r} = 0; ${rh} = ${a}; ${cf} = ${ah} & 1;`);
    else g.emit(`${r} = 0; ${rh} = ${a} << ${c - 32}; ${cf} = (${a} >>> ${64 - c}) & 1;`);
    of = `((${rh} >>> 31) ^ ${cf})`;
  } else if (kind === 5) {
    if (c < 32)
      g.emit(
        `${r} = (${a} >>> ${c}) | (${ah} << ${32 - c}); ${rh} = ${ah} >>> ${c}; ${cf} = (${a} >>> ${c - 1}) & 1;`,
      );
    else if (c === 32) g.emit(`${r} = ${ah}; ${rh} = 0; ${cf} = (${a} >>> 31) & 1;`);
    else g.emit(`${r} = ${ah} >>> ${c - 32}; ${rh} = 0; ${cf} = (${ah} >>> ${c - 33}) & 1;`);
    of = `(${ah} >>> 31)`;
  } else {
    if (c < 32)
      g.emit(
        `${r} = (${a} >>> ${c}) | (${ah} << ${32 - c}); ${rh} = ${ah} >> ${c}; ${cf} = (${a} >>> ${c - 1}) & 1;`,
      );
    else if (c === 32) g.emit(`${r} = ${ah}; ${rh} = ${ah} >> 31; ${cf} = (${a} >>> 31) & 1;`);
    else g.emit(`${r} = ${ah} >> ${c - 32}; ${rh} = ${ah} >> 31; ${cf} = (${ah} >>> ${c - 33}) & 1;`);
    of = "0";
  }
  g.emit(`${r} = ${r} | 0; ${rh} = ${rh} | 0; lo[${d}] = ${r}; hi[${d}] = ${rh};`);
  const e = g.eflagsUpdate(STATUS, `${cf} | (${of} << 11)`);
  g.setFlags(`fe = ${e}; fo = ${L_LOGIC}; fs = 8; fr = ${r}; frh = ${rh}; fm = ${SZP};`);
  g.flags = { kind: "szp", size: 8, a: "0", b: "0", r, ah: "0", bh: "0", rh };
  return true;
}

/**
 * ROL/ROR/SHL/SHR/SAL/SAR (ModRM.reg 0, 1, 4-7) of a 4/8-byte register by the count in
 * expression `count` (CL, or a constant for the rotates), as ops/shift.ts shift32/shift64:
 * a masked count of 0 changes nothing but the upper half of a 32-bit destination; shifts
 * record CF/OF eagerly and SF/ZF/PF lazily; rotates change only CF and OF (the other flags
 * are materialized first, as setFlagBits does).
 */
function genShiftVar(g: Gen, i: Instr, kind: number, count: string): boolean {
  const size = i.osize;
  const d = i.rm;
  g.flush();
  g.flags = null;
  const c = g.tmp("n");
  const a = g.tmp("a");
  const r = g.tmp("r");
  const cf = g.tmp("c");
  const of = g.tmp("o");
  g.emit(`${c} = ${count} & ${size === 8 ? 63 : 31};`);
  let body: string;
  let rh = "0";
  if (size === 4) {
    g.emit(`${a} = lo[${d}];`);
    const ops: Record<number, string> = {
      0: `${r} = (${a} << ${c}) | (${a} >>> (32 - ${c})); ${cf} = ${r} & 1; ${of} = ((${r} >>> 31) & 1) ^ ${cf};`,
      1: `${r} = (${a} >>> ${c}) | (${a} << (32 - ${c})); ${cf} = (${r} >>> 31) & 1; ${of} = ${cf} ^ ((${r} >>> 30) & 1);`,
      4: `${r} = ${a} << ${c}; ${cf} = (${a} >>> (32 - ${c})) & 1; ${of} = ((${r} >>> 31) & 1) ^ ${cf};`,
      5: `${r} = ${a} >>> ${c}; ${cf} = (${a} >>> (${c} - 1)) & 1; ${of} = (${a} >>> 31) & 1;`,
      7: `${r} = ${a} >> ${c}; ${cf} = (${a} >> (${c} - 1)) & 1; ${of} = 0;`,
    };
    body = `${ops[kind === 6 ? 4 : kind]} lo[${d}] = ${r}; hi[${d}] = 0;`;
  } else {
    const ah = g.tmp("a");
    rh = g.tmp("r");
    const e = g.tmp("n");
    g.emit(`${a} = lo[${d}]; ${ah} = hi[${d}];`);
    // [c < 32, c == 32, c > 32 (e = c - 32)] forms, then CF and OF.
    const ops: Record<number, [string, string, string, string]> = {
      0: [
        `${r} = (${a} << ${c}) | (${ah} >>> (32 - ${c})); ${rh} = (${ah} << ${c}) | (${a} >>> (32 - ${c}));`,
        `${r} = ${ah}; ${rh} = ${a};`,
        `${r} = (${ah} << ${e}) | (${a} >>> (32 - ${e})); ${rh} = (${a} << ${e}) | (${ah} >>> (32 - ${e}));`,
        `${cf} = ${r} & 1; ${of} = ((${rh} >>> 31) & 1) ^ ${cf};`,
      ],
      1: [
        `${r} = (${a} >>> ${c}) | (${ah} << (32 - ${c})); ${rh} = (${ah} >>> ${c}) | (${a} << (32 - ${c}));`,
        `${r} = ${ah}; ${rh} = ${a};`,
        `${r} = (${ah} >>> ${e}) | (${a} << (32 - ${e})); ${rh} = (${a} >>> ${e}) | (${ah} << (32 - ${e}));`,
        `${cf} = (${rh} >>> 31) & 1; ${of} = ${cf} ^ ((${rh} >>> 30) & 1);`,
      ],
      4: [
        `${r} = ${a} << ${c}; ${rh} = (${ah} << ${c}) | (${a} >>> (32 - ${c})); ${cf} = (${ah} >>> (32 - ${c})) & 1;`,
        `${r} = 0; ${rh} = ${a}; ${cf} = ${ah} & 1;`,
        `${r} = 0; ${rh} = ${a} << ${e}; ${cf} = (${a} >>> (32 - ${e})) & 1;`,
        `${of} = ((${rh} >>> 31) & 1) ^ ${cf};`,
      ],
      5: [
        `${r} = (${a} >>> ${c}) | (${ah} << (32 - ${c})); ${rh} = ${ah} >>> ${c}; ${cf} = (${a} >>> (${c} - 1)) & 1;`,
        `${r} = ${ah}; ${rh} = 0; ${cf} = (${a} >>> 31) & 1;`,
        `${r} = ${ah} >>> ${e}; ${rh} = 0; ${cf} = (${ah} >>> (${e} - 1)) & 1;`,
        `${of} = (${ah} >>> 31) & 1;`,
      ],
      7: [
        `${r} = (${a} >>> ${c}) | (${ah} << (32 - ${c})); ${rh} = ${ah} >> ${c}; ${cf} = (${a} >>> (${c} - 1)) & 1;`,
        `${r} = ${ah}; ${rh} = ${ah} >> 31; ${cf} = (${a} >>> 31) & 1;`,
        `${r} = ${ah} >> ${e}; ${rh} = ${ah} >> 31; ${cf} = (${ah} >> (${e} - 1)) & 1;`,
        `${of} = 0;`,
      ],
    };
    const [lt, eq, gt, fl] = ops[kind === 6 ? 4 : kind];
    body =
      `if (${c} < 32) { ${lt} } else if (${c} === 32) { ${eq} } else { ${e} = ${c} - 32; ${gt} } ${fl} ` +
      `lo[${d}] = ${r}; hi[${d}] = ${rh};`;
  }
  const flags =
    kind < 2
      ? `fe = (fe & -2050) | ${cf} | (${of} << 11); fm &= -2050;`
      : `fe = (fe & ${~STATUS}) | ${cf} | (${of} << 11); fo = ${L_LOGIC}; fs = ${size}; fr = ${r} | 0; ` +
        (size === 8 ? `frh = ${rh} | 0; ` : "") +
        `fm = ${SZP};`;
  g.emit(`if (${c} !== 0) { ${body} ${flags} }${size === 4 ? ` else hi[${d}] = 0;` : ""}`);
  return true;
}

/** Source operand of an `op reg, r/m`-style instruction (register or inline load). */
function rmSource(g: Gen, i: Instr, size: number): [string, string] | null {
  if (i.mod === 3) return g.readReg(i.rm, size);
  const L = g.memLinear(i, size, false);
  if (L === null) return null;
  return g.load(L, size);
}

/**
 * Emit the inline form of a non-terminal instruction; returns false when the instruction
 * must go through its handler.
 */
function genInline(g: Gen, i: Instr): boolean {
  if (i.lock) return false;
  const opc = i.opcode;
  const os = i.osize;
  const wide = os === 4 || os === 8;
  const mem = i.mod !== 3;

  // ALU 00-3D: forms 1 (r/m, r), 3 (r, r/m), 5 (eAX, imm).
  if (opc < 0x40 && (opc & 7) <= 5) {
    const op = opc >> 3;
    const form = opc & 7;
    if (!wide) return false;
    if (form === 1) {
      if (mem && op !== 7) return false;
      const [b, bh] = g.readReg(i.reg, os);
      const src = rmSource(g, i, os);
      if (src === null) return false;
      g.alu(op, os, src[0], src[1], b, bh, mem ? null : g.regWriter(i.rm, os));
      return true;
    }
    if (form === 3) {
      const src = rmSource(g, i, os);
      if (src === null) return false;
      const [a, ah] = g.readReg(i.reg, os);
      g.alu(op, os, a, ah, src[0], src[1], g.regWriter(i.reg, os));
      return true;
    }
    if (form === 5) {
      const [a, ah] = g.readReg(0, os);
      const [b, bh] = g.imm(i, os);
      g.alu(op, os, a, ah, b, bh, g.regWriter(0, os));
      return true;
    }
    return false;
  }

  switch (opc) {
    case 0x80: {
      // CMP r/m8, imm8 (memory form).
      if ((i.reg & 7) !== 7 || !mem) return false;
      const L = g.memLinear(i, 1, false);
      if (L === null) return false;
      const [a] = g.load(L, 1);
      g.alu(7, 1, a, "0", String(i.imm & 0xff), "0", null);
      return true;
    }
    case 0x81:
    case 0x83: {
      const op = i.reg & 7;
      if (!wide || (mem && op !== 7)) return false;
      const src = rmSource(g, i, os);
      if (src === null) return false;
      const [b, bh] = g.imm(i, os);
      g.alu(op, os, src[0], src[1], b, bh, mem ? null : g.regWriter(i.rm, os));
      return true;
    }
    case 0x84: {
      if (mem) return false;
      const a = g.tmp("a");
      const b = g.tmp("b");
      g.emit(`${a} = ${g.reg8(i.rm, i.rex)}; ${b} = ${g.reg8(i.reg, i.rex)};`);
      g.alu(4, 1, a, "0", b, "0", null);
      return true;
    }
    case 0x85: {
      if (!wide) return false;
      const [b, bh] = g.readReg(i.reg, os);
      const src = rmSource(g, i, os);
      if (src === null) return false;
      g.alu(4, os, src[0], src[1], b, bh, null);
      return true;
    }
    case 0xa9: {
      if (!wide) return false;
      const [a, ah] = g.readReg(0, os);
      const [b, bh] = g.imm(i, os);
      g.alu(4, os, a, ah, b, bh, null);
      return true;
    }
    case 0xf7: {
      const sub = i.reg & 7;
      if (!wide || mem) return false;
      if (sub === 0 || sub === 1) {
        const [a, ah] = g.readReg(i.rm, os);
        const [b, bh] = g.imm(i, os);
        g.alu(4, os, a, ah, b, bh, null);
        return true;
      }
      if (sub === 2) {
        if (os === 8) g.emit(`lo[${i.rm}] = ~lo[${i.rm}]; hi[${i.rm}] = ~hi[${i.rm}];`);
        else g.emit(`lo[${i.rm}] = ~lo[${i.rm}]; hi[${i.rm}] = 0;`);
        return true;
      }
      if (sub === 3) {
        const [a, ah] = g.readReg(i.rm, os);
        g.alu(5, os, "0", "0", a, os === 8 ? ah : "0", g.regWriter(i.rm, os));
        return true;
      }
      if (sub === 6) {
        // DIV r32/r64 when it cannot raise #DE and the divisor is below 2^32 (runtime.ts
        // divq/divd); anything else is left to the handler. The flags are not changed (the
        // handler leaves them as they were; the SDM leaves them undefined).
        const d = i.rm;
        if (os === 8) {
          g.emit(
            `if (!(hi[${d}] === 0 && lo[${d}] !== 0 && hi[2] === 0 && (lo[2] >>> 0) < (lo[${d}] >>> 0))) ${g.bail()}`,
          );
          g.emit(
            `lo[0] = X.divq(lo[2], hi[0], lo[0], lo[${d}]); hi[0] = X.DQ.hi; lo[2] = X.DQ.rem; hi[2] = 0;`,
          );
        } else {
          g.emit(`if (!(lo[${d}] !== 0 && (lo[2] >>> 0) < (lo[${d}] >>> 0))) ${g.bail()}`);
          g.emit(`lo[0] = X.divd(lo[2], lo[0], lo[${d}]); hi[0] = 0; lo[2] = X.DQ.rem; hi[2] = 0;`);
        }
        return true;
      }
      return false;
    }
    case 0xff: {
      const sub = i.reg & 7;
      if (!wide || mem || sub > 1) return false;
      const [a, ah] = g.readReg(i.rm, os);
      const r = g.tmp("r");
      const cf = g.tmp("c");
      g.emit(`${cf} = ${g.carry()};`);
      if (os === 8) {
        const rh = g.tmp("r");
        if (sub === 0) g.emit(`${r} = (${a} + 1) | 0; ${rh} = (${ah} + (${r} === 0 ? 1 : 0)) | 0;`);
        else g.emit(`${r} = (${a} - 1) | 0; ${rh} = (${ah} - (${a} === 0 ? 1 : 0)) | 0;`);
        const e = g.eflagsUpdate(1, cf);
        g.lazy64(sub === 0 ? L_INC : L_DEC, a, ah, "1", "0", r, rh, STATUS & ~1);
        g.pending = `fe = ${e}; ${g.pending}`;
        g.emit(`lo[${i.rm}] = ${r}; hi[${i.rm}] = ${rh};`);
        g.flags = { kind: "szp", size: 8, a, b: "1", r, ah, bh: "0", rh };
      } else {
        g.emit(`${r} = (${a} ${sub === 0 ? "+" : "-"} 1) | 0;`);
        const e = g.eflagsUpdate(1, cf);
        g.lazy(sub === 0 ? L_INC : L_DEC, 4, a, "1", r, STATUS & ~1);
        g.pending = `fe = ${e}; ${g.pending}`;
        g.emit(`lo[${i.rm}] = ${r}; hi[${i.rm}] = 0;`);
        g.flags = { kind: "szp", size: 4, a, b: "1", r, ah: "0", bh: "0", rh: "0" };
      }
      return true;
    }
    case 0x89:
    case 0x8b: {
      if (!wide) return false;
      const toReg = opc === 0x8b;
      if (!mem) {
        const d = toReg ? i.reg : i.rm;
        const s = toReg ? i.rm : i.reg;
        g.emit(os === 8 ? `lo[${d}] = lo[${s}]; hi[${d}] = hi[${s}];` : `lo[${d}] = lo[${s}]; hi[${d}] = 0;`);
        return true;
      }
      const L = g.memLinear(i, os, !toReg);
      if (L === null) return false;
      if (toReg) {
        const [v, vh] = g.load(L, os);
        g.emit(`lo[${i.reg}] = ${v}; hi[${i.reg}] = ${os === 8 ? vh : "0"};`);
      } else {
        g.store(L, os, `lo[${i.reg}]`, `hi[${i.reg}]`);
      }
      return true;
    }
    case 0x88: {
      if (!mem) {
        g.emit(g.setReg8(i.rm, i.rex, g.reg8(i.reg, i.rex)));
        return true;
      }
      const L = g.memLinear(i, 1, true);
      if (L === null) return false;
      g.store(L, 1, g.reg8(i.reg, i.rex), "0");
      return true;
    }
    case 0xc6: {
      if ((i.reg & 7) !== 0) return false;
      if (!mem) {
        g.emit(g.setReg8(i.rm, i.rex, String(i.imm & 0xff)));
        return true;
      }
      const L = g.memLinear(i, 1, true);
      if (L === null) return false;
      g.store(L, 1, String(i.imm & 0xff), "0");
      return true;
    }
    case 0xc7: {
      if ((i.reg & 7) !== 0 || !wide) return false;
      const [v, vh] = g.imm(i, os);
      if (!mem) {
        g.emit(`lo[${i.rm}] = ${v}; hi[${i.rm}] = ${vh};`);
        return true;
      }
      const L = g.memLinear(i, os, true);
      if (L === null) return false;
      g.store(L, os, v, vh);
      return true;
    }
    case 0x8d: {
      if (mem === false || !wide || i.asize !== 8) return false;
      if (i.ripRel) {
        if (os === 8) {
          const t = g.tmp("e");
          g.emit(
            `${t} = ${g.at(g.end + (i.disp | 0))}; lo[${i.reg}] = ${t} | 0; hi[${i.reg}] = Math.floor(${t} / 4294967296) | 0;`,
          );
        } else g.emit(`lo[${i.reg}] = (${g.at(g.end + (i.disp | 0))}) | 0; hi[${i.reg}] = 0;`);
        return true;
      }
      const disp = i.disp | 0;
      const s = 1 << i.scale;
      if (os === 4) {
        let e = lit(disp);
        if (i.base >= 0) e += ` + lo[${i.base}]`;
        if (i.index >= 0) e += ` + lo[${i.index}] * ${s}`;
        g.emit(`lo[${i.reg}] = (${e}) | 0; hi[${i.reg}] = 0;`);
        return true;
      }
      const l = g.tmp("l");
      const h = g.tmp("h");
      let le = lit(disp);
      let he = "0";
      if (i.base >= 0) {
        le += ` + (lo[${i.base}] >>> 0)`;
        he += ` + hi[${i.base}]`;
      }
      if (i.index >= 0) {
        le += ` + (lo[${i.index}] >>> 0) * ${s}`;
        he += ` + hi[${i.index}] * ${s}`;
      }
      g.emit(`${l} = ${le}; ${h} = ${he};`);
      g.emit(`lo[${i.reg}] = ${l} | 0; hi[${i.reg}] = (${h} + Math.floor(${l} / 4294967296)) | 0;`);
      return true;
    }
    case 0x1b6:
    case 0x1b7:
    case 0x1be:
    case 0x1bf: {
      if (!wide) return false;
      const byte = opc === 0x1b6 || opc === 0x1be;
      const sx = opc >= 0x1be;
      let v: string;
      if (!mem) {
        v = g.tmp("v");
        g.emit(`${v} = ${byte ? g.reg8(i.rm, i.rex) : `(lo[${i.rm}] & 65535)`};`);
      } else {
        const L = g.memLinear(i, byte ? 1 : 2, false);
        if (L === null) return false;
        v = g.load(L, byte ? 1 : 2)[0];
      }
      if (sx) {
        const sh = byte ? 24 : 16;
        g.emit(`${v} = (${v} << ${sh}) >> ${sh};`);
        g.emit(`lo[${i.reg}] = ${v}; hi[${i.reg}] = ${os === 8 ? `${v} >> 31` : "0"};`);
      } else g.emit(`lo[${i.reg}] = ${v}; hi[${i.reg}] = 0;`);
      return true;
    }
    case 0x63: {
      if (!g.mode64 || !wide) return false;
      const src = rmSource(g, i, 4);
      if (src === null) return false;
      g.emit(`lo[${i.reg}] = ${src[0]}; hi[${i.reg}] = ${os === 8 ? `${src[0]} >> 31` : "0"};`);
      return true;
    }
    case 0xc1:
    case 0xd1: {
      const kind = i.reg & 7;
      if (mem || !wide || kind === 2 || kind === 3) return false;
      if (kind < 2) return genShiftVar(g, i, kind, String(opc === 0xd1 ? 1 : i.imm & 0xff));
      return genShift(g, i, kind, opc === 0xd1 ? 1 : i.imm);
    }
    case 0xd3: {
      const kind = i.reg & 7;
      if (mem || !wide || kind === 2 || kind === 3) return false;
      return genShiftVar(g, i, kind, "(lo[1] & 255)");
    }
    default:
      break;
  }
  if (opc === 0x1af && wide) {
    // IMUL r, r/m (as runtime.ts imul64v/imul32v): CF=OF=1 when the signed product does not
    // fit, SF/ZF/PF lazily from the result (LazyOp.Logic), AF=0. 64-bit products inline below,
    // their CF/OF through runtime.ts imul64of; 32-bit ones inline (the double product of two
    // int32 equals the int32 result exactly when the true product fits in 32 bits, and lies
    // outside int32 otherwise).
    const src = rmSource(g, i, os);
    if (src === null) return false;
    const r = g.tmp("r");
    const rh = os === 8 ? g.tmp("r") : "0";
    if (os === 8) {
      // The low 64 bits of the product inline (exact: every double below is an integer
      // under 2^53); CF/OF only on the paths that store the flags (runtime.ts imul64of).
      const [a, ah] = g.readReg(i.reg, 8);
      const [b, bh] = src;
      const p = g.tmp("p");
      const q = g.tmp("p");
      g.emit(
        `${p} = (${a} >>> 0) * (${b} & 65535); ${q} = (${a} >>> 0) * (${b} >>> 16); ` +
          `${r} = Math.imul(${a}, ${b}); ${rh} = (Math.floor((Math.floor(${p} / 65536) + ${q}) / 65536) + ` +
          `Math.imul(${a}, ${bh}) + Math.imul(${ah}, ${b})) | 0;`,
      );
      g.emit(`lo[${i.reg}] = ${r}; hi[${i.reg}] = ${rh};`);
      if (g.pending !== null && g.pending.includes("fe =")) g.flush();
      g.setFlags(
        `fe = (fe & ${~STATUS}) | X.imul64of(${a}, ${ah}, ${b}, ${bh}); fo = ${L_LOGIC}; fs = 8; fr = ${r}; frh = ${rh}; fm = ${SZP};`,
      );
      g.flags = { kind: "szp", size: os, a: "0", b: "0", r, ah: "0", bh: "0", rh };
      return true;
    }
    const of = g.tmp("o");
    const a = g.tmp("a");
    g.emit(
      `${a} = lo[${i.reg}]; ${r} = Math.imul(${a}, ${src[0]}); ${of} = ${a} * ${src[0]} !== ${r} ? 2049 : 0;`,
    );
    g.emit(`lo[${i.reg}] = ${r}; hi[${i.reg}] = 0;`);
    const e = g.eflagsUpdate(STATUS, of);
    g.setFlags(`fe = ${e}; fo = ${L_LOGIC}; fs = ${os}; fr = ${r}; fm = ${SZP};`);
    g.flags = { kind: "szp", size: os, a: "0", b: "0", r, ah: "0", bh: "0", rh };
    return true;
  }
  if ((opc === 0x98 || opc === 0x99) && wide && i.exec === OPCODES[opc]?.exec) {
    // CWDE/CDQE (98): sign-extend AX/EAX into EAX/RAX; CDQ/CQO (99): EDX/RDX = sign of EAX/RAX.
    if (opc === 0x98) g.emit(os === 8 ? `hi[0] = lo[0] >> 31;` : `lo[0] = (lo[0] << 16) >> 16; hi[0] = 0;`);
    else g.emit(os === 8 ? `lo[2] = hi[0] >> 31; hi[2] = hi[0] >> 31;` : `lo[2] = lo[0] >> 31; hi[2] = 0;`);
    return true;
  }
  if (opc >= 0xb8 && opc <= 0xbf) {
    if (!wide) return false;
    const r = (opc & 7) | ((i.rex & 1) << 3);
    g.emit(`lo[${r}] = ${lit(i.imm | 0)}; hi[${r}] = ${os === 8 ? lit(i.immHi | 0) : "0"};`);
    return true;
  }
  if (opc >= 0x140 && opc <= 0x14f) {
    if (!wide) return false;
    const src = rmSource(g, i, os);
    if (src === null) return false;
    const c = g.condExpr(opc & 15);
    if (os === 8) g.emit(`if (${c}) { lo[${i.reg}] = ${src[0]}; hi[${i.reg}] = ${src[1]}; }`);
    else g.emit(`if (${c}) lo[${i.reg}] = ${src[0]}; hi[${i.reg}] = 0;`);
    return true;
  }
  if (opc >= 0x190 && opc <= 0x19f) {
    if (mem) return false;
    g.emit(g.setReg8(i.rm, i.rex, `((${g.condExpr(opc & 15)}) ? 1 : 0)`));
    return true;
  }
  if (opc >= 0x118 && opc <= 0x11f && i.exec === OPCODES[0x11f]?.exec) return true;
  return genSse(g, i);
}

/**
 * Checks the run loop makes between blocks, made by a transfer (Gen.transfer) before it
 * moves to another region block after instructions have retired: the instruction
 * budget (`lim` = cpu.runEnd - cpu.icount), and the rest (X.loopOk: pending
 * SMI/NMI/INTR, stop, code invalidation, chain epoch, halt/shutdown/interrupt shadow). That
 * state only changes through a handler call (hooks, MMIO and code writes are only reached
 * from handlers: inline memory accesses leave the function for anything but plain RAM),
 * which sets the local `sl` and zeroes `lim`, so the one comparison `done < lim` fails and
 * the full check runs (also on the first transfer: `sl` starts at 1 and `lim` at 0); it
 * re-reads the budget and clears `sl`. With `sl` clear, a failed comparison means the
 * budget is spent.
 */
const LOOP_OK =
  "(done < lim || (sl !== 0 && (sl = 0, lim = cpu.runEnd - cpu.icount, done < lim && X.loopOk(cpu, ep))))";

/** The flag assignments a transfer makes on its jump to region block $1 (Gen.transfer). */
const FLAGS_TO = /\/\*F(\d+)\{\*\/(.*?)\/\*\}\*\//g;

/** A read of a flag local: the name, not as the target of an assignment. */
const FLAG_READ = /\b(?:fo|fs|fa|fah|fb|fbh|fr|frh|fm|fc|fe)\b(?!\s*=[^=])/;

/**
 * True when generated code `s` may observe the flag locals: reads one, leaves the function
 * (`break x`: the common end stores them), or calls a handler that may throw with the flags
 * still in the locals (`fy = 1`: the catch stores them).
 */
function readsFlags(s: string): boolean {
  return s.includes("break x") || s.includes("fy = 1") || FLAG_READ.test(s);
}

/** Generate the body of the loop for the block. */
function genBody(g: Gen): void {
  const instrs = g.block.instrs;
  const n = instrs.length;
  let off = 0;
  for (let idx = 0; idx < n; idx++) {
    const i = instrs[idx];
    g.idx = idx;
    g.off = off;
    g.end = off + i.len;
    const last = idx === n - 1;
    const opc = i.opcode;
    const isJcc = (opc >= 0x70 && opc <= 0x7f) || (opc >= 0x180 && opc <= 0x18f);
    const isJmp = opc === 0xeb || opc === 0xe9;
    if (last && (isJcc || isJmp) && i.exec === OPCODES[opc]?.exec) {
      const target = g.end + i.imm;
      const bsize = g.mode64 ? 8 : i.osize;
      // The condition first: evaluating it from the cpu state emits the pending flags.
      const c = isJmp ? "" : g.condExpr(opc & 15);
      let taken = g.mode64 || bsize === 4 ? g.transfer(target, n) : null;
      if (taken === null) {
        // Out of the function: in 64-bit mode after cpu.branch's canonical check (a target
        // that fails it is left to the interpreter, which raises the #GP); in other modes the
        // interpreter runs the branch (CS limit, operand-size masks).
        taken = g.mode64
          ? `if (${g.at(target)} < ${-CANON} || ${g.at(target)} >= ${CANON}) ${g.bail()} ` + g.exit(target, n)
          : g.bail();
      }
      if (isJmp) {
        g.emit(taken);
      } else {
        g.emit(`if (${c}) { ${taken} }`);
        g.emit((g.mode64 ? g.transfer(g.end, n) : null) ?? g.exit(g.end, n));
      }
      return;
    }
    if (!last && genInline(g, i)) {
      off = g.end;
      continue;
    }
    if (last && !(i.flags & 1) && genInline(g, i)) {
      g.flush();
      g.emit(g.exit(g.end, n));
      return;
    }
    // Handler call, as in the interpreter loop.
    g.flush();
    const h = g.hbase + idx;
    const regs = handlerRegs(i);
    if (regs === null) {
      g.emit(
        `k = ${idx}; cpu.rip = ${g.at(off)}; cpu.nextRip = ${g.at(g.end)}; ${SYNC_FLAGS} ${WRITE_BACK}rv = 0; ` +
          `H[${h}](cpu, I[${h}]); rv = 1; ${RELOAD}${LOAD_FLAGS} sl = 1; lim = 0; am = cpu.accessMode; nr = cpu.nextRip;`,
      );
    } else {
      // Only the ModRM registers are written back and reloaded; the flags only when the
      // instruction writes them (else the catch stores them if the handler throws: `fy`).
      const fl = SSE_FLAG_WRITERS.has(i.opcode);
      g.emit(
        `k = ${idx}; cpu.rip = ${g.at(off)}; cpu.nextRip = ${g.at(g.end)}; ` +
          `${regs.map((r) => `/*WB${r}*/`).join("")}` +
          `${fl ? SYNC_FLAGS : "fy = 1;"} H[${h}](cpu, I[${h}]); ${fl ? "" : "fy = 0;"} ` +
          `${regs.map((r) => `/*RL${r}*/`).join("")}${fl ? LOAD_FLAGS : ""} sl = 1; lim = 0; nr = cpu.nextRip;`,
      );
    }
    g.flags = null;
    g.sseChecked = false;
    if (last) {
      g.emit(
        `done += ${n}; if (nr === ${g.at(0)} && ${LOOP_OK}) { pc = ${g.targets.get(g.base)}; continue; } ` +
          `xo = nr - r0; xn = 0; break x;`,
      );
      return;
    }
    g.emit(
      `if (nr !== ${g.at(g.end)} || cpu.blockInvalidated || cpu.stopRequested) { xo = nr - r0; xn = ${idx + 1}; break x; }`,
    );
    off = g.end;
  }
}

/**
 * Opcodes whose handlers use no general register but the ModRM ones (reg, rm, base, index)
 * and neither read EFLAGS nor change the privilege/AC state: the SSE/MMX/SSSE3/SSE4 maps
 * (0F 10-1F, 28-2F, 50-7F, C2-C6, D0-FE but MASKMOVQ/MASKMOVDQU, 0F 38 xx, 0F 3A xx but
 * PCMPESTRx/PCMPISTRx). A call of such a handler writes back and reloads only those
 * registers, and stores/reloads the flags only for the instructions that set them
 * (SSE_FLAG_WRITERS). Returns the registers, or null for any other instruction.
 */
function handlerRegs(i: Instr): number[] | null {
  const o = i.opcode;
  const known =
    (o >= 0x110 && o <= 0x11f) ||
    (o >= 0x128 && o <= 0x12f) ||
    (o >= 0x150 && o <= 0x17f) ||
    (o >= 0x1c2 && o <= 0x1c6) ||
    (o >= 0x1d0 && o <= 0x1fe && o !== 0x1f7) ||
    (o >= 0x200 && o <= 0x2ff) ||
    (o >= 0x300 && o <= 0x3ff && !(o >= 0x360 && o <= 0x363));
  if (!known) return null;
  const regs = new Set<number>([i.reg & 15]);
  if (i.mod === 3) regs.add(i.rm & 15);
  if (i.base >= 0) regs.add(i.base);
  if (i.index >= 0) regs.add(i.index);
  // Byte registers AH..BH (no REX) live in registers 0-3.
  if (i.rex === 0) for (const r of [...regs]) if (r >= 4 && r < 8) regs.add(r - 4);
  return [...regs];
}

/** COMISS/COMISD/UCOMISS/UCOMISD (0F 2E/2F) and PTEST (0F 38 17) set flags. */
const SSE_FLAG_WRITERS = new Set([0x12e, 0x12f, 0x217]);

/** Number of blocks compiled (diagnostics). */
export let compiledBlocks = 0;
/** Number of functions compiled that cover more than one block (diagnostics). */
export let compiledRegions = 0;

/** Makes the function of a compiled block from its handlers, instructions and helpers. */
type Factory = (
  h: Handler[],
  i: Instr[],
  t: typeof testCondition,
  x: typeof runtime,
  /** Case (region block) the function starts in. */
  e: number,
  /** Offset of that block from the region's entry block. */
  d: number,
  /** The region's blocks and a final null (cpu.bailBlock after a bail-out from block n / none). */
  b: (Block | null)[],
) => JitFn;

/**
 * Factories by generated source. Identical blocks (the same code decoded again, in this or
 * another processor) reuse one factory, so their functions share V8's feedback and optimized
 * code instead of warming up from scratch.
 */
const factories = new Map<string, Factory>();
/**
 * Profiling aid: when `sources` is a map, every new generated function is named
 * `jit-<physical address of its entry, hex>.js` (a sourceURL, so CPU profiles attribute time
 * and lines to it) and its source is kept in the map under that name.
 */
export const jitProfiling: { sources: Map<string, string> | null } = { sources: null };

/** Bound on the factory cache (cleared when full). */
const MAX_FACTORIES = 20000;

/** Most blocks in one region function. */
const MAX_REGION_BLOCKS = 8;
/** Most instructions in one region function (bounds V8's optimization time). */
const MAX_REGION_INSTRS = 160;
/** Most blocks looked at when searching for a region. */
const MAX_REGION_SEARCH = 24;

/** True when `i` is a JMP/Jcc rel with the standard handler (a static branch target). */
function isStaticBranch(i: Instr): boolean {
  const opc = i.opcode;
  const br = (opc >= 0x70 && opc <= 0x7f) || (opc >= 0x180 && opc <= 0x18f) || opc === 0xeb || opc === 0xe9;
  return br && i.exec === OPCODES[opc]?.exec;
}

/**
 * The region compiled with `entry` (first): in 64-bit mode, the loop around it — the cached,
 * not yet compiled blocks of the entry's physical page that are reached from the entry and
 * lead back to it through the static targets (taken and fall-through) of terminal JMP/Jcc
 * instructions, within the size bounds. Leaving out the blocks off the loop keeps the
 * function small and its paths warm (V8 compiles it sooner and deoptimizes it less). Same
 * page means the linear address of each is the entry's plus the difference of their
 * physical addresses; the function only moves between them while the chain epoch is
 * unchanged (as block chaining does).
 */
function findRegion(cpu: Cpu, entry: Block): Block[] {
  if (!cpu.long64 || !entry.cacheable) return [entry];
  const p0 = entry.instrs[0].phys;
  const page = Math.floor(p0 / 4096);
  const map = cpu.codeCache.get(page);
  if (map === undefined) return [entry];
  // Forward search (breadth first), recording the edges.
  const found = [entry];
  const succ: number[][] = [];
  for (let n = 0; n < found.length; n++) {
    succ.push([]);
    const last = found[n].instrs[found[n].instrs.length - 1];
    if (!isStaticBranch(last)) continue;
    const next = last.phys + last.len;
    const opc = last.opcode;
    for (const t of opc === 0xeb || opc === 0xe9 ? [next + last.imm] : [next + last.imm, next]) {
      if (Math.floor(t / 4096) !== page) continue;
      const b = map.get(((t & 0xfff) << 2) | 3);
      if (b === undefined || !b.cacheable || (b !== entry && b.jit !== null)) continue;
      let k = found.indexOf(b);
      if (k < 0) {
        if (found.length >= MAX_REGION_SEARCH) continue;
        k = found.push(b) - 1;
      }
      succ[n].push(k);
    }
  }
  // Keep the blocks that lead back to the entry.
  const loops = found.map((_, n) => n === 0);
  for (let changed = true; changed;) {
    changed = false;
    for (let n = 1; n < found.length; n++)
      if (!loops[n] && succ[n].some((k) => loops[k])) loops[n] = changed = true;
  }
  const region = [entry];
  let instrs = entry.instrs.length;
  for (let n = 1; n < found.length && region.length < MAX_REGION_BLOCKS; n++) {
    if (!loops[n] || instrs + found[n].instrs.length > MAX_REGION_INSTRS) continue;
    instrs += found[n].instrs.length;
    region.push(found[n]);
  }
  return region;
}

/** Generated source and arrays of a region function. */
interface RegionCode {
  src: string;
  handlers: Handler[];
  instrs: Instr[];
  /** Offset of each block's start from the entry block's. */
  offsets: number[];
}

/**
 * An expression that is an int32 already: a small literal, another register's local, or a
 * temporary of a kind that only ever holds int32 values (tmp prefixes a: register snapshot,
 * r: result, v: loaded value, c: carry bit, o: overflow bit, n: count).
 */
const INT32_ATOM = /^(?:\(?-?\d{1,9}\)?|[lh][oi]\[\d+\]|[arvcon](?:_\d+_)?\d+)$/;

/** The flag locals, as [local, cpu field]. */
const FLAG_LOCALS: [string, string][] = [
  ["fo", "lfOp"],
  ["fs", "lfSize"],
  ["fa", "lfA"],
  ["fah", "lfAh"],
  ["fb", "lfB"],
  ["fbh", "lfBh"],
  ["fr", "lfR"],
  ["frh", "lfRh"],
  ["fm", "lazyMask"],
  ["fc", "lfCin"],
  ["fe", "eflags"],
];
/**
 * Store the flag locals into the cpu fields. Compiled code keeps EFLAGS and the lazy-flag
 * record in locals (loaded on entry) and stores them at the end of the function and before
 * anything that reads them from the cpu: a handler call, testCondition/getCF, the IMUL
 * helpers, a call that may fault.
 */
const SYNC_FLAGS = FLAG_LOCALS.map(([l, f]) => `cpu.${f} = ${l};`).join(" ");
/** Load the flag locals from the cpu fields (after a handler or helper may have set them). */
const LOAD_FLAGS = FLAG_LOCALS.map(([l, f]) => `${l} = cpu.${f};`).join(" ");

/** Placeholder for the write-back of the cached registers to cpu.lo/cpu.hi (cacheRegisters). */
const WRITE_BACK = "/*WB*/";
/** Placeholder for the reload of the cached registers from cpu.lo/cpu.hi (cacheRegisters). */
const RELOAD = "/*RL*/";

/**
 * Keep the guest registers the generated `code` uses in JS locals (`R<n>` low half, `Q<n>`
 * high half, int32) instead of cpu.lo/cpu.hi: every `lo[n]`/`hi[n]` with a literal index
 * becomes the local (assignments are truncated to int32 as the Int32Array store did). The
 * locals are loaded on entry; they are written back on every way out of the function — the
 * returns become `break x` to the common end, which writes back, and the catch writes back
 * unless a handler was running (`rv` = 0: the handler may have changed registers itself, e.g.
 * a REP string instruction's completed iterations before an exit) — and around every handler
 * call (written back before, reloaded after). Between those points cpu.lo/cpu.hi may be out
 * of date: only a handler call or leaving the function makes them visible, which is what the
 * interpreter's state amounts to at those points. The comment markers WB<n> and RL<n> write
 * back or reload one register (handler calls that touch only some, handlerRegs). Inline
 * memory accesses never reach a hook (anything but plain RAM bails out to the interpreter);
 * a hook reached during a handler call that writes back only its ModRM registers (an MMIO
 * handler of its memory operand, a code-write listener) sees the other registers as of the
 * last write-back — device models do not read GPRs, and an exit or fault thrown from there
 * writes everything back in the catch before run() returns.
 */
function cacheRegisters(code: string): { code: string; decls: string; writeBack: string } {
  const used = new Set<number>();
  for (const m of code.matchAll(/\b(?:lo|hi)\[(\d+)\]/g)) used.add(Number(m[1]));
  const regs = [...used].sort((a, b) => a - b);
  const writeBack = regs.map((n) => `lo[${n}] = R${n}; hi[${n}] = Q${n};`).join(" ");
  const reload = regs.map((n) => `R${n} = lo[${n}]; Q${n} = hi[${n}];`).join(" ");
  const decls =
    regs.length === 0 ? "" : `let ${regs.map((n) => `R${n} = lo[${n}], Q${n} = hi[${n}]`).join(", ")};`;
  const out = code
    .replace(/\b(lo|hi)\[(\d+)\] = ([^;]*);/g, (_, h: string, n: string, e: string) => {
      const v = INT32_ATOM.test(e) ? e : `(${e}) | 0`;
      return `${h === "lo" ? "R" : "Q"}${n} = ${v};`;
    })
    .replace(/\blo\[(\d+)\]/g, "R$1")
    .replace(/\bhi\[(\d+)\]/g, "Q$1")
    .replaceAll("return;", "break x;")
    .replace(/\/\*(WB|RL)(\d+)\*\//g, (_, w: string, d: string) => {
      const n = Number(d);
      if (!used.has(n)) return "";
      return w === "WB" ? `lo[${n}] = R${n}; hi[${n}] = Q${n}; ` : `R${n} = lo[${n}]; Q${n} = hi[${n}]; `;
    })
    .replaceAll(WRITE_BACK, writeBack === "" ? "" : `${writeBack} `)
    .replaceAll(RELOAD, reload === "" ? "" : `${reload} `);
  return { code: out, decls, writeBack };
}

/** Generate the function for `region` (entry first). */
function genRegion(cpu: Cpu, region: Block[]): RegionCode {
  const p0 = region[0].instrs[0].phys;
  const offsets = region.map((b) => b.instrs[0].phys - p0);
  const targets = new Map(offsets.map((o, n) => [o, n]));
  const vars: string[] = [];
  const parts: string[] = [];
  const handlers: Handler[] = [];
  const instrs: Instr[] = [];
  const live: boolean[] = [];
  region.forEach((b, n) => {
    const g = new Gen(
      b,
      cpu.long64,
      offsets[n],
      instrs.length,
      region.length > 1 ? `_${n}_` : "",
      targets,
      vars,
      n,
    );
    genBody(g);
    live.push(g.entryFlagsLive);
    for (const i of b.instrs) {
      handlers.push(i.exec);
      instrs.push(i);
    }
    parts.push(region.length > 1 ? `case ${n}: {\n${g.out.join("\n")}\n}` : g.out.join("\n"));
  });
  const code = (region.length > 1 ? `switch (pc) {\n${parts.join("\n")}\n}` : parts[0]).replace(
    FLAGS_TO,
    (_, c: string, p: string) => (live[Number(c)] ? p : ""),
  );
  const body = cacheRegisters(code);
  const src =
    `return function jit(cpu) {\n` +
    `const lo = cpu.lo, hi = cpu.hi, r0 = cpu.rip - D, ep = cpu.chainEpoch;\n` +
    `const jr = cpu.jitReadTag, jw = cpu.jitWriteTag, tP = cpu.tlbPhys32, mem = cpu.mem, u8 = mem.u8, dv = mem.view, ` +
    `XS = cpu.sse, XI = XS.xmm, XF = XS.f64;\n` +
    `let done = 0, k = 0, pc = E, sl = 1, rv = 1, lim = 0, po = 0, ix = 0, pa = 0, ` +
    `am = cpu.accessMode, xo = 0, xn = 0, xb = ${region.length}, xk = 0, fy = 0, ` +
    `nr = 0, xr = 0;${vars.length === 0 ? "" : ` let ${vars.map((v) => `${v} = 0`).join(", ")};`}\n` +
    `let ${FLAG_LOCALS.map(([l, f]) => `${l} = cpu.${f}`).join(", ")};\n` +
    `${body.decls}\n` +
    `try { x: for (;;) {\n${body.code}\n} } catch (e) { if (rv !== 0) { ${body.writeBack} } if (fy !== 0) { ${SYNC_FLAGS} } cpu.icount += done + k; throw e; }\n` +
    `xr = r0 + xo; cpu.rip = xr; cpu.nextRip = xr; cpu.icount += done + xn; cpu.bailBlock = B[xb]; cpu.bailIdx = xk;\n` +
    `${SYNC_FLAGS}\n${body.writeBack}\n};`;
  return { src, handlers, instrs, offsets };
}

/**
 * Compile `block` for the CPU's current mode (the mode the block was decoded for). Returns
 * the function; the caller stores it in `block.jit`. In 64-bit mode the function also covers
 * the region of blocks around it (findRegion): a branch to one of them continues inside the
 * function. The other region blocks not compiled yet get the same function, entered at their
 * own case.
 */
export function compileBlock(cpu: Cpu, block: Block): JitFn {
  const region = findRegion(cpu, block);
  const { src, handlers, instrs, offsets } = genRegion(cpu, region);
  let make = factories.get(src);
  if (make === undefined) {
    if (factories.size >= MAX_FACTORIES) factories.clear();
    const name = `jit-${block.instrs[0].phys.toString(16)}.js`;
    jitProfiling.sources?.set(name, src);
    const text = jitProfiling.sources === null ? src : `${src}\n//# sourceURL=${name}`;
    make = new Function("H", "I", "T", "X", "E", "D", "B", text) as Factory;
    factories.set(src, make);
  }
  compiledBlocks++;
  if (region.length > 1) compiledRegions++;
  const blocks: (Block | null)[] = [...region, null];
  for (let n = 1; n < region.length; n++) {
    if (region[n].jit === null)
      region[n].jit = make(handlers, instrs, testCondition, runtime, n, offsets[n], blocks);
  }
  return make(handlers, instrs, testCondition, runtime, 0, 0, blocks);
}

/** The generated source of the function compiled for `block` (for tests and debugging). */
export function regionSource(cpu: Cpu, block: Block): string {
  return genRegion(cpu, findRegion(cpu, block)).src;
}

/** The generated source for `block` (for tests and debugging). */
export function blockSource(cpu: Cpu, block: Block): string {
  const g = new Gen(block, cpu.long64);
  genBody(g);
  return g.out.join("\n");
}
