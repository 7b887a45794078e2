/**
 * Variable-range MTRRs (SDM Vol.3 11.11.1-11.11.2.3): IA32_MTRRCAP reports VCNT = 8 and no
 * fixed ranges, PHYSBASEn/PHYSMASKn hold what software writes, reserved bits and invalid
 * memory types are #GP(0), RESET clears them and INIT keeps them (state table: MTRRs
 * unchanged by INIT).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { Cpu } from "../../src/cpu/cpu.js";
import "../../src/cpu/ops/index.js";
import { PhysicalMemory } from "../../src/cpu/memory.js";
import { CpuFault } from "../../src/cpu/fault.js";
import { cpuidNative, readMsr, writeMsr } from "../../src/cpu/ops/msr-cpuid.js";
import { resetCpu } from "../../src/cpu/reset.js";

const PHYSBASE0 = 0x200;
const PHYSMASK0 = 0x201;

function gp(f: () => void): boolean {
  try {
    f();
    return false;
  } catch (e) {
    return e instanceof CpuFault && e.vector === 13;
  }
}

test("IA32_MTRRCAP: 8 variable ranges, no fixed ranges, no WC; CPUID.1:EDX.MTRR = 1", () => {
  const cpu = new Cpu(new PhysicalMemory(1 << 20));
  assert.equal(readMsr(cpu, 0xfe), 8);
  assert.equal(cpu.rhi, 0);
  assert.equal((cpuidNative(cpu, 1, 0).edx >>> 12) & 1, 1);
});

test("PHYSBASE/PHYSMASK keep valid values and refuse reserved bits and bad types", () => {
  const cpu = new Cpu(new PhysicalMemory(1 << 20));
  writeMsr(cpu, PHYSBASE0, 0x08000006, 0); // 128 MiB, WB
  assert.equal(readMsr(cpu, PHYSBASE0), 0x08000006);
  writeMsr(cpu, PHYSMASK0 + 14, 0xf8000800, 0xff); // pair 7: V=1, mask up to bit 39
  assert.equal(readMsr(cpu, PHYSMASK0 + 14) >>> 0, 0xf8000800);
  assert.equal(cpu.rhi, 0xff);
  assert.ok(
    gp(() => writeMsr(cpu, PHYSBASE0, 0x2, 0)),
    "type 2 is reserved",
  );
  assert.ok(
    gp(() => writeMsr(cpu, PHYSBASE0, 0x106, 0)),
    "bits 11:8 reserved",
  );
  assert.ok(
    gp(() => writeMsr(cpu, PHYSBASE0, 0x6, 0x100)),
    "bit 40 above MAXPHYADDR",
  );
  assert.ok(
    gp(() => writeMsr(cpu, PHYSMASK0, 0x801, 0)),
    "mask bits 10:0 reserved",
  );
});

test("RESET clears the variable MTRRs, INIT keeps them", () => {
  const cpu = new Cpu(new PhysicalMemory(1 << 20));
  writeMsr(cpu, PHYSBASE0, 0x08000006, 0);
  resetCpu(cpu, "init", 0x6f1);
  assert.equal(readMsr(cpu, PHYSBASE0), 0x08000006);
  resetCpu(cpu, "reset", 0x6f1);
  assert.equal(readMsr(cpu, PHYSBASE0), 0);
});
