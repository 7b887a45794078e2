/**
 * Page walks in every paging mode (SDM Vol.3 4.3 32-bit paging with 4-KByte and 4-MByte
 * pages, 4.4 PAE paging with 4-KByte and 2-MByte pages, 4.5 4-level paging with 2-MByte and
 * 1-GByte pages), and code actually running through each mode's translation. Expected
 * physical addresses follow from the entry formats in Tables 4-4..4-20.
 */
import test from "node:test";
import assert from "node:assert/strict";
import {
  createMachine,
  enterProtected32,
  enterLong64,
  runCode,
  type TestMachine,
} from "../helpers/machine.js";
import { Access } from "../../src/cpu/cpu.js";
import { CpuFault } from "../../src/cpu/fault.js";

function w64(m: TestMachine, addr: number, lo: number, hi = 0): void {
  m.mem.write32(addr, lo >>> 0);
  m.mem.write32(addr + 4, hi >>> 0);
}

function fault(m: TestMachine, lin: number, kind: Access): number | null {
  try {
    m.cpu.translate(lin, kind);
    return null;
  } catch (e) {
    if (e instanceof CpuFault) return e.errorCode;
    throw e;
  }
}

/** 32-bit paging: PD at 0x20000; identity 4-MByte page for 0-4 MiB; a 4-KByte page table. */
function setup32(m: TestMachine, pse: boolean): void {
  enterProtected32(m);
  const pd = 0x20000;
  const pt = 0x21000;
  for (let n = 0; n < 1024; n++) m.mem.write32(pd + n * 4, 0);
  if (pse)
    m.mem.write32(pd, 0x000000e3); // 4 MiB page at 0, P RW A D PS
  else {
    m.mem.write32(pd, pt | 0x23);
    for (let n = 0; n < 1024; n++) m.mem.write32(pt + n * 4, (n << 12) | 0x23);
  }
  // 0x80000000 -> 4 MiB page at physical 0x00800000 (PSE) / 4 KiB page at 0x00305000.
  m.mem.write32(pd + (0x80000000 >>> 22) * 4, pse ? 0x008000e3 : (pt + 0x1000) | 0x23);
  m.mem.write32(pt + 0x1000 + 5 * 4, 0x00305023);
  m.cpu.cr3 = pd;
  m.cpu.cr4 = pse ? 0x10 : 0;
  m.cpu.cr0 = m.cpu.cr0 | 0x80000000 | 0;
  m.cpu.updateMode();
  m.cpu.flushTlb(false);
}

test("32-bit paging with 4-KByte pages translates and runs code", () => {
  const m = createMachine();
  setup32(m, false);
  assert.equal(m.cpu.translate(0x80005123, Access.Read), 0x00305123);
  assert.equal(fault(m, 0x80006000, Access.Read), 0); // PTE not present
  assert.equal(runCode(m, "mov eax, 0x1234\nmov [0x7000], eax\nmov ebx, [0x7000]", 32, 0x100000), "halt");
  assert.equal(m.cpu.lo[3], 0x1234);
});

test("32-bit paging: 4-MByte pages with CR4.PSE, PSE-36 high address bits, reserved bit 21", () => {
  const m = createMachine();
  setup32(m, true);
  assert.equal(m.cpu.translate(0x80123456, Access.Write), 0x00923456);
  assert.equal(runCode(m, "mov eax, 7\nadd eax, eax", 32, 0x100000), "halt");
  assert.equal(m.cpu.lo[0], 14);
  // PSE-36: PDE bits 20:13 give physical bits 39:32 (SDM Table 4-4).
  m.mem.write32(0x20000 + (0xc0000000 >>> 22) * 4, 0x004000e3 | (0x3 << 13));
  m.cpu.flushTlb(false);
  assert.equal(m.cpu.translate(0xc0000010, Access.Read), 3 * 2 ** 32 + 0x00400010);
  // Bit 21 of a 4-MByte PDE is reserved.
  m.mem.write32(0x20000 + (0xc0400000 >>> 22) * 4, 0x002000e3);
  m.cpu.flushTlb(false);
  assert.equal(fault(m, 0xc0400000, Access.Read), 1 | 8);
});

/** PAE paging: PDPT at 0x20000, PD at 0x21000 (identity 2 MiB pages for 0-1 GiB), PT at 0x22000. */
function setupPae(m: TestMachine): void {
  enterProtected32(m);
  const pdpt = 0x20000;
  const pd = 0x21000;
  const pt = 0x22000;
  for (let n = 0; n < 4; n++) w64(m, pdpt + n * 8, 0);
  w64(m, pdpt, pd | 1);
  for (let n = 0; n < 512; n++) w64(m, pd + n * 8, (n << 21) | 0xe3);
  w64(m, pdpt + 2 * 8, (pd + 0x1000) | 1); // 0x80000000..0xbfffffff
  w64(m, pd + 0x1000, pt | 0x23);
  w64(m, pt + 3 * 8, 0x00ab3023, 0x0000007f); // physical 0x7f_00ab3000
  w64(m, pd + 0x1000 + 8, 0x00e000e3, 0x80000000 | 0); // 2 MiB page, XD
  m.cpu.cr3 = pdpt;
  m.cpu.cr4 = 0x20;
  m.cpu.cr0 = m.cpu.cr0 | 0x80000000 | 0;
  m.cpu.updateMode();
  m.cpu.flushTlb(false);
}

test("PAE paging: 4-KByte pages above 4 GiB physical, 2-MByte pages, XD with and without NXE", () => {
  const m = createMachine();
  setupPae(m);
  assert.equal(m.cpu.translate(0x80003456, Access.Read), 0x7f * 2 ** 32 + 0x00ab3456);
  // XD set while EFER.NXE=0: reserved-bit fault (P|RSVD).
  assert.equal(fault(m, 0x80200000, Access.Read), 1 | 8);
  m.cpu.efer |= 0x800;
  m.cpu.flushTlb(false);
  assert.equal(m.cpu.translate(0x80212345, Access.Read), 0x00e12345);
  assert.equal(fault(m, 0x80212345, Access.Exec), 1 | 16); // I/D reported: PAE with NXE
  assert.equal(runCode(m, "mov ecx, 5\nl: loop l\nmov eax, 9", 32, 0x100000), "halt");
  assert.equal(m.cpu.lo[0], 9);
});

test("PAE: a PDPTE with reserved bits set faults with RSVD", () => {
  const m = createMachine();
  setupPae(m);
  w64(m, 0x20000 + 3 * 8, 0x30000 | 1 | (1 << 7)); // bit 7 reserved in a PAE PDPTE
  m.cpu.flushTlb(false);
  assert.equal(fault(m, 0xc0000000, Access.Read), 1 | 8);
});

test("4-level paging: 1-GByte pages, reserved low address bits, and code running through them", () => {
  const m = createMachine();
  enterLong64(m);
  const pdpt = 0x11000; // from buildIdentityPaging
  w64(m, pdpt + 2 * 8, 0x400000e3); // 2 GiB -> 1 GiB page at physical 1 GiB... beyond our RAM
  w64(m, pdpt + 3 * 8, 0x000000e3); // 3 GiB -> physical 0 (1 GiB page)
  m.cpu.flushTlb(false);
  assert.equal(m.cpu.translate(0x80001234, Access.Read), 0x40001234);
  assert.equal(m.cpu.translate(0xc0100000, Access.Read), 0x00100000);
  // Run code at its 3 GiB alias: same physical bytes as 1 MiB.
  assert.equal(runCode(m, "lea rax, [rip]\nmov ebx, 3", 64, 0x100000), "halt");
  m.cpu.rip = 0xc0100000;
  m.cpu.halted = false;
  assert.equal(m.cpu.run(100), "halt");
  assert.equal(m.cpu.reg64(0), 0xc0100007);
  // A 1-GByte PDPTE with address bits 29:13 set is a reserved-bit fault (SDM Table 4-16).
  w64(m, pdpt + 3 * 8, 0x000020e3);
  m.cpu.flushTlb(false);
  assert.equal(fault(m, 0xc0000000, Access.Read), 1 | 8);
});
