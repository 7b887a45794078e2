/**
 * Test helper: observe exceptions from inside the guest. Installs an IDT (32-bit or 64-bit
 * gates) whose 32 exception handlers record the vector, the error code (or FFFFFFFFH) and the
 * faulting RIP at FAULT_RECORD, then HLT; plus a TSS so faults at CPL 3 can switch stacks.
 * Also helpers to drop to CPL 3 without a far transfer, a ready machine with the handlers
 * installed, and an assertion on the recorded fault.
 */
import { SEG } from "../../src/x86/segment.js";
import { assemble } from "./asm.js";
import assert from "node:assert/strict";
import {
  createMachine,
  enterLong64,
  enterProtected32,
  LAYOUT,
  runCode,
  setIntGate,
  type TestMachine,
} from "./machine.js";

/** Where the handlers write: vector (dword), error code (dword), RIP (qword). */
export const FAULT_RECORD = 0x8000;
const HANDLERS = 0x3000;
const TSS = 0x5000;
const RSP0 = 0x80000;

/** A recorded exception. */
export interface FaultInfo {
  vector: number;
  error: number;
  rip: number;
}

function hasErrorCode(v: number): boolean {
  return v === 8 || (v >= 10 && v <= 14) || v === 17 || v === 21;
}

function handlerSource(bits: 32 | 64): string {
  const ax = bits === 64 ? "rax" : "eax";
  const sp = bits === 64 ? "rsp" : "esp";
  const lines: string[] = [];
  for (let v = 0; v < 32; v++) {
    lines.push(`.org ${v * 64}`);
    lines.push(`mov dword ptr [${FAULT_RECORD}], ${v}`);
    if (hasErrorCode(v)) {
      lines.push(`pop ${ax}`);
      lines.push(`mov dword ptr [${FAULT_RECORD + 4}], eax`);
    } else {
      lines.push(`mov dword ptr [${FAULT_RECORD + 4}], 0xffffffff`);
    }
    lines.push(`mov ${ax}, [${sp}]`);
    lines.push(`mov [${FAULT_RECORD + 8}], ${ax}`);
    lines.push("hlt");
  }
  return lines.join("\n");
}

/**
 * Install exception handlers for the current mode (`bits` 32: 8-byte gates to selector 18H;
 * 64: 16-byte gates to selector 08H), a TSS with a ring-0 stack, and clear the record.
 */
export function installFaultHandlers(m: TestMachine, bits: 32 | 64): void {
  const { cpu, mem } = m;
  mem.load(HANDLERS, assemble(handlerSource(bits), bits, HANDLERS));
  for (let v = 0; v < 32; v++) setIntGate(m, bits, v, HANDLERS + v * 64);
  cpu.idtrBase = LAYOUT.idt;
  cpu.idtrLimit = bits === 64 ? 32 * 16 - 1 : 32 * 8 - 1;
  mem.write32(TSS + 4, RSP0); // RSP0 / ESP0
  mem.write32(TSS + 8, bits === 64 ? 0 : 0x10); // SS0 for a 32-bit TSS
  cpu.segSel[SEG.TR] = 0x40;
  cpu.segBase[SEG.TR] = TSS;
  cpu.segLimit[SEG.TR] = 0x67;
  cpu.segAttr[SEG.TR] = 0x80 | 11;
  clearFault(m);
}

/** A fresh machine in 64-bit mode (`bits` 64) or 32-bit protected mode (32) with the recording exception handlers installed. */
export function faultMachine(bits: 32 | 64): TestMachine {
  const m = createMachine();
  if (bits === 64) enterLong64(m);
  else enterProtected32(m);
  installFaultHandlers(m, bits);
  return m;
}

/**
 * Assert that `f` is exception `vector` with error code `error` (default: 0 for #GP, none
 * (-1) otherwise) raised at `rip` (default: the start of the test code).
 */
export function assertFault(
  f: FaultInfo | null,
  vector: number,
  error = vector === 13 ? 0 : -1,
  rip: number = LAYOUT.code,
): void {
  assert.ok(f, `expected exception ${vector}`);
  assert.equal(f.vector, vector);
  assert.equal(f.error, error);
  assert.equal(f.rip, rip);
}

/** Forget the last recorded fault. */
export function clearFault(m: TestMachine): void {
  m.mem.write32(FAULT_RECORD, 0xffffffff);
}

/** The last recorded fault, or null. */
export function lastFault(m: TestMachine): FaultInfo | null {
  const v = m.mem.read32(FAULT_RECORD);
  if (v === 0xffffffff) return null;
  const lo = m.mem.read32(FAULT_RECORD + 8);
  const hi = m.mem.read32(FAULT_RECORD + 12) | 0;
  return { vector: v, error: m.mem.read32(FAULT_RECORD + 4) | 0, rip: hi * 4294967296 + lo };
}

/** Run `source` (which ends in HLT); return the fault it raised, or null. */
export function runForFault(
  m: TestMachine,
  source: string,
  bits: 32 | 64,
  addr: number = LAYOUT.code,
): FaultInfo | null {
  clearFault(m);
  runCode(m, source, bits, addr);
  return lastFault(m);
}

/** Switch to CPL 3 with flat user segments (64-bit: CS=2BH, SS=33H; 32-bit: hidden DPL-3 code32). */
export function enterUser(m: TestMachine, bits: 32 | 64): void {
  const { cpu } = m;
  cpu.segSel[SEG.CS] = bits === 64 ? 0x2b : 0x1b;
  cpu.segBase[SEG.CS] = 0;
  cpu.segLimit[SEG.CS] = 0xffffffff;
  cpu.segAttr[SEG.CS] = bits === 64 ? 0xa0fb : 0xc0fb;
  for (const s of [SEG.SS, SEG.DS, SEG.ES]) {
    cpu.segSel[s] = bits === 64 ? 0x33 : 0x23;
    cpu.segBase[s] = 0;
    cpu.segLimit[s] = 0xffffffff;
    cpu.segAttr[s] = 0xc0f3;
  }
  cpu.cpl = 3;
  cpu.updateMode();
}
