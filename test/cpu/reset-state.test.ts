/**
 * Reset and whole-state tests: the power-up/RESET/INIT columns of the SDM state table
 * (values quoted in src/x86/reset-state.ts) and the save/load round trip.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, enterLong64, runCode } from "../helpers/machine.js";
import { resetCpu } from "../../src/cpu/reset.js";
import { saveCpuState, loadCpuState, CpuStateError, type CpuState } from "../../src/cpu/state.js";

const SIG = 0x000806f8;

test("power-up state matches the SDM table", () => {
  const { cpu } = createMachine();
  resetCpu(cpu, "power-up", SIG);
  assert.equal(cpu.getEflags(), 0x2);
  assert.equal(cpu.rip, 0xfff0);
  assert.equal(cpu.segSel[1], 0xf000);
  assert.equal(cpu.segBase[1], 0xffff0000);
  assert.equal(cpu.segLimit[1], 0xffff);
  assert.equal(cpu.cr0 >>> 0, 0x60000010);
  assert.equal(cpu.lo[2] >>> 0, SIG);
  assert.equal(cpu.drLo[6] >>> 0, 0xffff0ff0);
  assert.equal(cpu.drLo[7], 0x400);
  assert.equal(cpu.x87.fcw, 0x40);
  assert.equal(cpu.x87.ftw, 0x5555);
  assert.equal(cpu.sse.mxcsr, 0x1f80);
  assert.equal(cpu.xcr0, 1);
  assert.deepEqual(cpu.msrs.get(0x277), [0x00070406, 0x00070406]);
  assert.equal(cpu.codeSize, 2);
  assert.equal(cpu.protectedMode, false);
});

test("INIT keeps CD/NW, MSRs, x87/SSE state and TSC; RESET does not", () => {
  const { cpu } = createMachine();
  resetCpu(cpu, "power-up", SIG);
  cpu.cr0 = 0x80000011 | 0x40000000;
  cpu.msrs.set(0x4b564d08, [1, 0]);
  cpu.sse.mxcsr = 0x1fc0;
  cpu.x87.fcw = 0x37f;
  cpu.icount = 1000;
  resetCpu(cpu, "init", SIG);
  assert.equal(cpu.cr0 >>> 0, 0x40000010); // CD kept, NW was 0, ET set
  assert.deepEqual(cpu.msrs.get(0x4b564d08), [1, 0]);
  assert.equal(cpu.sse.mxcsr, 0x1fc0);
  assert.equal(cpu.x87.fcw, 0x37f);
  assert.equal(cpu.icount, 1000);
  assert.equal(cpu.efer, 0);
  resetCpu(cpu, "reset", SIG);
  assert.equal(cpu.cr0 >>> 0, 0x60000010);
  assert.equal(cpu.msrs.get(0x4b564d08), undefined);
  assert.equal(cpu.sse.mxcsr, 0x1f80);
});

test("save/load round trip is exact and survives JSON", () => {
  const m = createMachine();
  enterLong64(m);
  runCode(m, "mov rax, 0x123456789abcdef0\nmov r15, -2\nadd rax, r15", 64);
  const s = saveCpuState(m.cpu);
  const copy = JSON.parse(JSON.stringify(s)) as CpuState;
  const m2 = createMachine();
  loadCpuState(m2.cpu, copy);
  assert.deepEqual(saveCpuState(m2.cpu), s);
  assert.equal(m2.cpu.long64, true);
});

test("a corrupt state is refused and leaves the CPU unchanged", () => {
  const m = createMachine();
  enterLong64(m);
  const before = saveCpuState(m.cpu);
  const bad = JSON.parse(JSON.stringify(before)) as CpuState;
  bad.gprs[3] = [1, -5] as [number, number];
  assert.throws(() => loadCpuState(m.cpu, bad), CpuStateError);
  assert.throws(() => loadCpuState(m.cpu, { ...before, version: 99 }), /version 99/);
  assert.deepEqual(saveCpuState(m.cpu), before);
});
