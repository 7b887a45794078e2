/**
 * Shared harness for the integer-instruction tests (shift, muldiv, bits, exchange): a 64-bit
 * test machine with an IDT whose 32 exception gates lead to `hlt` stubs, so a test can run one
 * instruction with given RAX/RCX/RDX/RFLAGS and observe either the result or the vector of the
 * exception it raised; plus a loader/checker for the silicon vectors produced by
 * gen/gen-int-vectors.c (test/cpu/vectors/*.json).
 */
import { readFileSync } from "node:fs";
import { createMachine, enterLong64, LAYOUT, setIntGate, type TestMachine } from "../helpers/machine.js";
import { assemble } from "../helpers/asm.js";

/** The six status flags. */
export const STATUS = 0x8d5;
/** Status flag bits. */
export const CF = 0x1,
  PF = 0x4,
  AF = 0x10,
  ZF = 0x40,
  SF = 0x80,
  OF = 0x800;

const STUBS = 0x3000;
const M32 = BigInt(0xffffffff);

/** Register state in and out of one instruction (64-bit values as BigInt). */
export interface Regs {
  rax: bigint;
  rcx: bigint;
  rdx: bigint;
  rflags: number;
}

/** A 64-bit machine with exception stubs, running snippets placed at their own addresses. */
export class Runner {
  readonly m: TestMachine;
  private next: number = LAYOUT.code;
  private readonly addrs = new Map<string, number>();

  /** Create the machine: long mode, identity paging, IDT vectors 0-31 → `hlt` stubs. */
  constructor() {
    this.m = createMachine();
    enterLong64(this.m);
    const { cpu, mem } = this.m;
    for (let v = 0; v < 32; v++) {
      const off = STUBS + v * 4;
      setIntGate(this.m, 64, v, off);
      mem.write8(off, 0xf4);
    }
    cpu.idtrBase = LAYOUT.idt;
    cpu.idtrLimit = 32 * 16 - 1;
  }

  /** Assemble `source` (once) and return its address. */
  place(source: string): number {
    let a = this.addrs.get(source);
    if (a === undefined) {
      a = this.next;
      const code = assemble(source + "\nhlt\n", 64, a);
      this.m.mem.load(a, code);
      this.next += (code.length + 63) & ~63;
      this.addrs.set(source, a);
    }
    return a;
  }

  /**
   * Run `source` with the given registers. Returns the registers after it, or the exception
   * vector (a number) when one was delivered.
   */
  run(source: string, r: Regs, extra?: (m: TestMachine) => void): Regs | number {
    const addr = this.place(source);
    const { cpu } = this.m;
    setReg(this.m, 0, r.rax);
    setReg(this.m, 1, r.rcx);
    setReg(this.m, 2, r.rdx);
    cpu.lo[4] = LAYOUT.stackTop;
    cpu.hi[4] = 0;
    cpu.setEflags(r.rflags);
    extra?.(this.m);
    cpu.rip = addr;
    cpu.halted = false;
    const stop = cpu.run(100);
    if (stop !== "halt") throw new Error(`${source}: stopped with ${stop}`);
    if (cpu.rip > STUBS && cpu.rip <= STUBS + 32 * 4) return (cpu.rip - STUBS - 1) / 4;
    return {
      rax: getReg(this.m, 0),
      rcx: getReg(this.m, 1),
      rdx: getReg(this.m, 2),
      rflags: cpu.getEflags(),
    };
  }
}

/** Set a 64-bit register from a BigInt. */
export function setReg(m: TestMachine, r: number, v: bigint): void {
  const x = BigInt.asUintN(64, v);
  m.cpu.lo[r] = Number(x & M32) | 0;
  m.cpu.hi[r] = Number(x >> BigInt(32)) | 0;
}

/** Read a 64-bit register as an unsigned BigInt. */
export function getReg(m: TestMachine, r: number): bigint {
  return (BigInt(m.cpu.hi[r] >>> 0) << BigInt(32)) | BigInt(m.cpu.lo[r] >>> 0);
}

/** One silicon vector. */
export interface Vector {
  insn: string;
  in: Regs;
  /** Expected registers, or "DE" for a divide error. */
  out: Regs | "DE";
}

/** Load test/cpu/vectors/<name>.json (produced by gen/gen-int-vectors.c). */
export function loadVectors(name: string): { cpu: string; vectors: Vector[] } {
  const url = new URL(`../../../test/cpu/vectors/${name}.json`, import.meta.url);
  const j = JSON.parse(readFileSync(url, "utf8")) as { cpu: string; insns: string[]; vectors: string[] };
  const h = (s: string): bigint => BigInt("0x" + s);
  const vectors = j.vectors.map((line) => {
    const f = line.split(" ");
    const inRegs = { rax: h(f[1]), rcx: h(f[2]), rdx: h(f[3]), rflags: Number(h(f[4])) };
    const out: Regs | "DE" =
      f[5] === "DE" ? "DE" : { rax: h(f[5]), rcx: h(f[6]), rdx: h(f[7]), rflags: Number(h(f[8])) };
    return { insn: j.insns[Number(f[0])], in: inRegs, out };
  });
  return { cpu: j.cpu, vectors };
}

/** What to compare for one vector: flag mask, and which registers (default all three). */
export interface Compare {
  flags: number;
  regs?: ("rax" | "rcx" | "rdx")[];
}

/**
 * Run every vector and return a list of mismatch descriptions (empty when all match).
 * `compare` says which flags are architecturally defined for that vector.
 */
export function checkVectors(runner: Runner, vectors: Vector[], compare: (v: Vector) => Compare): string[] {
  const fails: string[] = [];
  const hex = (x: bigint | number): string => x.toString(16);
  for (const v of vectors) {
    const got = runner.run(v.insn, v.in);
    const c = compare(v);
    const inDesc = `${v.insn} rax=${hex(v.in.rax)} rcx=${hex(v.in.rcx)} rdx=${hex(v.in.rdx)} f=${hex(v.in.rflags)}`;
    if (v.out === "DE") {
      if (got !== 0)
        fails.push(`${inDesc}: expected #DE, got ${typeof got === "number" ? `vector ${got}` : "no fault"}`);
      continue;
    }
    if (typeof got === "number") {
      fails.push(`${inDesc}: unexpected vector ${got}`);
      continue;
    }
    for (const r of c.regs ?? ["rax", "rcx", "rdx"]) {
      if (got[r] !== v.out[r]) fails.push(`${inDesc}: ${r}=${hex(got[r])} expected ${hex(v.out[r])}`);
    }
    if ((got.rflags & c.flags) !== (v.out.rflags & c.flags)) {
      fails.push(
        `${inDesc}: flags=${hex(got.rflags & c.flags)} expected ${hex(v.out.rflags & c.flags)} (mask ${hex(c.flags)})`,
      );
    }
  }
  return fails;
}
