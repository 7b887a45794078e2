/**
 * MOV to/from CR0/CR2/CR3/CR4/CR8 and DR0-DR7, CLTS, LMSW, SMSW: every #GP/#UD rule of
 * SDM Vol.2 "MOV—Move to/from Control Registers" / "... Debug Registers" and Vol.3 2.5, the
 * IA-32e activation rules (Vol.3 10.8.5), the hypervisor veto, and TLB invalidation
 * (Vol.3 4.10.4.1). Faults are observed with the recording IDT of test/helpers/faults.ts.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, buildIdentityPaging, runCode, LAYOUT, type TestMachine } from "../helpers/machine.js";
import { assertFault, faultMachine, runForFault, enterUser } from "../helpers/faults.js";
import { CR0, CR4, EFER } from "../../src/x86/cr.js";
import type { ControlRegister } from "../../src/cpu/hooks.js";

const CODE = LAYOUT.code;

/** Set RAX (64-bit value as lo/hi). */
function setRax(m: TestMachine, lo: number, hi = 0): void {
  m.cpu.lo[0] = lo;
  m.cpu.hi[0] = hi;
}

test("MOV from CR0/CR3/CR4/CR8 in 64-bit mode returns the registers zero-extended", () => {
  const m = faultMachine(64);
  m.cpu.cr8 = 5;
  m.cpu.cr2 = -0x1000;
  const f = runForFault(m, "mov rax, cr0\nmov rbx, cr3\nmov rcx, cr4\nmov rdx, cr8\nmov rsi, cr2", 64);
  assert.equal(f, null);
  assert.equal(m.cpu.reg64(0), 0x80000011);
  assert.equal(m.cpu.reg64(3), LAYOUT.pml4);
  assert.equal(m.cpu.reg64(1), 0x20);
  assert.equal(m.cpu.reg64(2), 5);
  assert.equal(m.cpu.reg64(6), -0x1000);
});

test("CR4: every unsupported bit and bits 63:32 raise #GP(0), CR4 unchanged", () => {
  for (const b of [0, 1, 12, 13, 14, 15, 19, 22, 23, 24, 31]) {
    const m = faultMachine(64);
    setRax(m, (0x20 | (1 << b)) >>> 0);
    assertFault(runForFault(m, "mov cr4, rax", 64), 13);
    assert.equal(m.cpu.cr4, 0x20, `bit ${b}`);
  }
  const m = faultMachine(64);
  setRax(m, 0x20, 1);
  assertFault(runForFault(m, "mov cr4, rax", 64), 13);
  // The supported set is accepted.
  const ok = faultMachine(64);
  const bits =
    CR4.PAE |
    CR4.PGE |
    CR4.OSFXSR |
    CR4.OSXMMEXCPT |
    CR4.UMIP |
    CR4.FSGSBASE |
    CR4.OSXSAVE |
    CR4.SMEP |
    CR4.SMAP |
    CR4.DE |
    CR4.TSD |
    CR4.MCE |
    CR4.PCE |
    CR4.PSE;
  setRax(ok, bits);
  assert.equal(runForFault(ok, "mov cr4, rax", 64), null);
  assert.equal(ok.cpu.cr4, bits);
});

test("CR0: PG without PE and NW without CD raise #GP(0)", () => {
  let m = faultMachine(32);
  m.cpu.lo[0] = 0x80000010 | 0;
  assertFault(runForFault(m, "mov cr0, eax", 32), 13);
  assert.equal(m.cpu.cr0, 0x60000011);
  m = faultMachine(32);
  m.cpu.lo[0] = 0x20000011; // NW=1, CD=0
  assertFault(runForFault(m, "mov cr0, eax", 32), 13);
  m = faultMachine(32);
  m.cpu.lo[0] = 0x60000033; // CD+NW, MP, NE
  assert.equal(runForFault(m, "mov cr0, eax", 32), null);
  assert.equal(m.cpu.cr0 >>> 0, 0x60000033);
});

test("CR0: reserved low bits are ignored, ET reads 1, bits 63:32 raise #GP(0)", () => {
  let m = faultMachine(64);
  setRax(m, 0x80000001 | 0x40 | 0x100000);
  assert.equal(runForFault(m, "mov cr0, rax", 64), null);
  assert.equal(m.cpu.cr0 >>> 0, 0x80000011);
  m = faultMachine(64);
  setRax(m, 0x80000011 | 0, 0x10);
  assertFault(runForFault(m, "mov cr0, rax", 64), 13);
});

test("clearing CR0.PG in 64-bit mode raises #GP(0); clearing CR4.PAE with LMA=1 raises #GP(0)", () => {
  let m = faultMachine(64);
  setRax(m, 0x00000011);
  assertFault(runForFault(m, "mov cr0, rax", 64), 13);
  assert.ok(m.cpu.efer & EFER.LMA);
  m = faultMachine(64);
  setRax(m, 0);
  assertFault(runForFault(m, "mov cr4, rax", 64), 13);
  assert.equal(m.cpu.cr4, 0x20);
});

test("setting CR0.PG with EFER.LME=1 and CR4.PAE=0 raises #GP(0)", () => {
  const m = faultMachine(32);
  buildIdentityPaging(m);
  m.cpu.efer = EFER.LME;
  m.cpu.cr3 = LAYOUT.pml4;
  m.cpu.lo[0] = 0x80000011 | 0;
  assertFault(runForFault(m, "mov cr0, eax", 32), 13);
  assert.equal(m.cpu.efer, EFER.LME);
  assert.equal(m.cpu.paging, false);
});

test("IA-32e activation and deactivation: PG with LME sets LMA (compatibility mode), clearing PG clears it", () => {
  const m = faultMachine(32);
  buildIdentityPaging(m);
  const src = `
    mov eax, 0x20
    mov cr4, eax
    mov eax, ${LAYOUT.pml4}
    mov cr3, eax
    mov ecx, 0xc0000080
    rdmsr
    or eax, 0x100
    wrmsr
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    mov ecx, 0xc0000080
    rdmsr
    mov esi, eax
    mov eax, cr0
    and eax, 0x7fffffff
    mov cr0, eax
    mov ecx, 0xc0000080
    rdmsr
    mov edi, eax`;
  assert.equal(runForFault(m, src, 32), null);
  assert.equal(m.cpu.lo[6] & 0x500, 0x500, "LME and LMA after setting PG");
  assert.equal(m.cpu.lo[7] & 0x500, 0x100, "LMA cleared after clearing PG");
  assert.equal(m.cpu.paging, false);
  assert.equal(m.cpu.long64, false);
});

test("compatibility mode after activation executes 32-bit code with paging", () => {
  const m = faultMachine(32);
  buildIdentityPaging(m);
  m.cpu.cr4 = CR4.PAE;
  m.cpu.cr3 = LAYOUT.pml4;
  m.cpu.efer = EFER.LME;
  m.cpu.lo[0] = 0x80000011 | 0;
  assert.equal(runForFault(m, "mov cr0, eax\nmov ebx, 7", 32), null);
  assert.equal(m.cpu.efer & EFER.LMA, EFER.LMA);
  assert.equal(m.cpu.paging, true);
  assert.equal(m.cpu.long64, false);
  assert.equal(m.cpu.codeSize, 4);
  assert.equal(m.cpu.lo[3], 7);
});

test("activating IA-32e mode with CS.L=1 raises #GP(0)", () => {
  const m = faultMachine(32);
  buildIdentityPaging(m);
  m.cpu.cr4 = CR4.PAE;
  m.cpu.cr3 = LAYOUT.pml4;
  m.cpu.efer = EFER.LME;
  m.cpu.segAttr[1] |= 1 << 13; // L, ignored outside IA-32e mode
  m.cpu.lo[0] = 0x80000011 | 0;
  assertFault(runForFault(m, "mov cr0, eax", 32), 13);
  assert.equal(m.cpu.efer, EFER.LME);
});

test("CR4.PCIDE: #GP outside IA-32e mode or with CR3[11:0]≠0; clearing PG with PCIDE=1 is #GP", () => {
  let m = faultMachine(32);
  m.cpu.lo[0] = CR4.PCIDE;
  assertFault(runForFault(m, "mov cr4, eax", 32), 13);
  m = faultMachine(64);
  m.cpu.cr3 = LAYOUT.pml4 | 0x5;
  setRax(m, CR4.PAE | CR4.PCIDE);
  assertFault(runForFault(m, "mov cr4, rax", 64), 13);
  m = faultMachine(64);
  setRax(m, CR4.PAE | CR4.PCIDE);
  assert.equal(runForFault(m, "mov cr4, rax", 64), null);
  assert.equal(m.cpu.cr4, CR4.PAE | CR4.PCIDE);
  // With PCIDE=1, CR3 bit 63 is the no-flush hint and is not stored.
  setRax(m, LAYOUT.pml4 | 3, 0x80000000 | 0);
  assert.equal(runForFault(m, "mov cr3, rax", 64), null);
  assert.equal(m.cpu.cr3, LAYOUT.pml4 | 3);
  assert.equal(m.cpu.cr3Hi, 0);
});

test("CR3: bits 63:40 are reserved in IA-32e mode (#GP(0)); bit 63 without PCIDE too", () => {
  for (const hi of [0x100, 0x10000, 0x80000000 | 0]) {
    const m = faultMachine(64);
    setRax(m, LAYOUT.pml4, hi);
    assertFault(runForFault(m, "mov cr3, rax", 64), 13);
    assert.equal(m.cpu.cr3, LAYOUT.pml4);
  }
  const m = faultMachine(64);
  m.cpu.lo[0] = LAYOUT.pml4;
  m.cpu.hi[0] = 0;
  assert.equal(runForFault(m, "mov rbx, 0xff00000000\nor rax, rbx\nxor rax, rbx\nmov cr3, rax", 64), null);
});

test("CR8: TPR round trip; bits 63:4 reserved", () => {
  const m = faultMachine(64);
  setRax(m, 9);
  assert.equal(runForFault(m, "mov cr8, rax\nmov rbx, cr8", 64), null);
  assert.equal(m.cpu.cr8, 9);
  assert.equal(m.cpu.reg64(3), 9);
  setRax(m, 0x10);
  assertFault(runForFault(m, "mov cr8, rax", 64), 13);
  assert.equal(m.cpu.cr8, 9);
});

test("CR1, CR5-CR7 and REX.R other than CR8 raise #UD; LOCK MOV CR0 is #UD", () => {
  for (const modrm of [0xc8, 0xe8, 0xf0, 0xf8]) {
    const m = faultMachine(64);
    assertFault(runForFault(m, `.byte 0x0f, 0x20, 0x${modrm.toString(16)}`, 64), 6);
  }
  let m = faultMachine(64);
  assertFault(runForFault(m, ".byte 0x44, 0x0f, 0x20, 0xc8", 64), 6); // CR9
  m = faultMachine(64);
  assertFault(runForFault(m, ".byte 0xf0, 0x0f, 0x20, 0xc0", 64), 6);
});

test("MOV CR at CPL 3 raises #GP(0)", () => {
  for (const src of [
    "mov rax, cr0",
    "mov cr0, rax",
    "mov rax, cr3",
    "mov cr4, rax",
    "mov rax, cr8",
    "mov rax, dr7",
    "mov dr0, rax",
    "clts",
    "lmsw ax",
  ]) {
    const m = faultMachine(64);
    setRax(m, 0x80000011 | 0);
    enterUser(m, 64);
    assertFault(runForFault(m, src, 64), 13);
    assert.equal(m.cpu.cr0 >>> 0, 0x80000011);
  }
});

test("ModRM.mod is ignored by MOV CR: a mod=01 encoding is the 3-byte register form", () => {
  const m = faultMachine(64);
  // 0F 20 43 = MOV RBX, CR0 (mod=01 ignored, no displacement), then MOV ECX, 5.
  assert.equal(runForFault(m, ".byte 0x0f, 0x20, 0x43\nmov ecx, 5", 64), null);
  assert.equal(m.cpu.reg64(3), 0x80000011);
  assert.equal(m.cpu.lo[1], 5);
});

test("hook veto: controlWrite returning false raises #GP(0) and leaves CR4 unchanged", () => {
  const m = faultMachine(64);
  const seen: [ControlRegister, number, number, number, number][] = [];
  m.hooks.controlWrite = (reg, oldLo, oldHi, newLo, newHi) => {
    seen.push([reg, oldLo, oldHi, newLo, newHi]);
    return !(reg === "cr4" && newLo & CR4.SMEP);
  };
  setRax(m, CR4.PAE | CR4.SMEP);
  assertFault(runForFault(m, "mov cr4, rax", 64), 13);
  assert.equal(m.cpu.cr4, CR4.PAE);
  assert.deepEqual(seen, [["cr4", CR4.PAE, 0, CR4.PAE | CR4.SMEP, 0]]);
  // Architectural checks come first: a reserved-bit write never reaches the hook.
  setRax(m, CR4.PAE | CR4.VMXE);
  assertFault(runForFault(m, "mov cr4, rax", 64), 13);
  assert.equal(seen.length, 1);
  // CR0 (incl. CLTS/LMSW) and CR3 writes are offered too.
  m.hooks.controlWrite = (reg) => reg !== "cr0";
  m.cpu.cr0 |= CR0.TS;
  assertFault(runForFault(m, "clts", 64), 13);
  assert.ok(m.cpu.cr0 & CR0.TS);
  m.hooks.controlWrite = (reg) => reg !== "cr3";
  setRax(m, 0x20000);
  assertFault(runForFault(m, "mov cr3, rax", 64), 13);
  assert.equal(m.cpu.cr3, LAYOUT.pml4);
});

test("WP change is vetoable and flushes the TLB (write to a read-only page faults after WP=1)", () => {
  const m = faultMachine(64);
  // Map 0x400000 (2 MiB page) read-only.
  m.mem.write32(LAYOUT.pml4 + 0x2000 + 2 * 8, 0x400000 | 0x80 | 0x5);
  setRax(m, 0x80000011 | 0);
  // With WP=0 the supervisor write succeeds and fills the TLB; after WP=1 it must fault.
  const f = runForFault(
    m,
    "mov dword ptr [0x400000], 1\nor eax, 0x10000\nmov cr0, rax\nmov dword ptr [0x400000], 2",
    64,
  );
  assert.ok(f);
  assert.equal(f.vector, 14);
  assert.equal(m.mem.read32(0x400000), 1);
});

/** Point PD entry 2 (0x400000-0x5FFFFF) at a page table mapping 0x400000 (global) and 0x401000 (not global). */
function mapTwoPages(m: TestMachine, physA: number, physB: number): void {
  const pt = 0x30000;
  m.mem.write32(LAYOUT.pml4 + 0x2000 + 2 * 8, pt | 0x7);
  m.mem.write32(pt, physA | 0x103); // P RW G
  m.mem.write32(pt + 8, physB | 0x3); // P RW
}

test("MOV CR3 flushes non-global TLB entries; global ones survive until CR4.PGE changes", () => {
  const m = faultMachine(64);
  m.mem.write32(0x200000, 0xaaaa);
  m.mem.write32(0x201000, 0xbbbb);
  m.mem.write32(0x202000, 0xcccc);
  m.mem.write32(0x203000, 0xdddd);
  mapTwoPages(m, 0x200000, 0x201000);
  m.cpu.cr4 |= CR4.PGE;
  m.cpu.flushTlb(false);
  // Fill the TLB, remap both pages behind the TLB's back, reload CR3.
  assert.equal(runForFault(m, "mov eax, [0x400000]\nmov eax, [0x401000]", 64), null);
  mapTwoPages(m, 0x202000, 0x203000);
  const src = "mov rax, cr3\nmov cr3, rax\nmov ebx, [0x400000]\nmov ecx, [0x401000]";
  assert.equal(runForFault(m, src, 64), null);
  assert.equal(m.cpu.lo[3], 0xaaaa, "global entry survives MOV CR3");
  assert.equal(m.cpu.lo[1], 0xdddd, "non-global entry was flushed");
  // Toggling CR4.PGE flushes global entries too.
  assert.equal(
    runForFault(
      m,
      "mov rax, cr4\nmov rdx, rax\nxor rax, 0x80\nmov cr4, rax\nmov cr4, rdx\nmov ebx, [0x400000]",
      64,
    ),
    null,
  );
  assert.equal(m.cpu.lo[3], 0xcccc);
});

test("PAE paging: MOV CR3 and enabling paging check the PDPTEs (#GP(0) on reserved bits)", () => {
  const m = faultMachine(32);
  const pdpt = 0x20000;
  const pd = 0x21000;
  for (let n = 0; n < 512; n++) m.mem.write32(pd + n * 8, (n << 21) | 0x83);
  m.mem.write32(pdpt, pd | 1);
  const bad = 0x22000;
  m.mem.write32(bad, pd | 1);
  m.mem.write32(bad + 8, pd | 1 | 0x20); // present with reserved bit 5
  m.cpu.cr4 = CR4.PAE;
  m.cpu.cr3 = bad;
  m.cpu.lo[0] = 0x80000011 | 0;
  assertFault(runForFault(m, "mov cr0, eax", 32), 13);
  assert.equal(m.cpu.paging, false);
  m.cpu.cr3 = pdpt;
  m.cpu.lo[0] = 0x80000011 | 0; // the handler clobbered EAX
  m.cpu.lo[3] = bad;
  const f = runForFault(m, "mov cr0, eax\nmov cr3, ebx", 32);
  assertFault(f, 13, 0, CODE + 3);
  assert.equal(m.cpu.paging, true);
  assert.equal(m.cpu.cr3, pdpt);
});

test("DR4/DR5 alias DR6/DR7 unless CR4.DE (then #UD); DR6/DR7 fixed bits", () => {
  const m = faultMachine(64);
  setRax(m, 0);
  assert.equal(runForFault(m, "mov dr6, rax\nmov dr7, rax\nmov rbx, dr4\nmov rcx, dr5", 64), null);
  assert.equal(m.cpu.reg64(3), 0xffff0ff0);
  assert.equal(m.cpu.reg64(1), 0x400);
  setRax(m, -1, -1);
  assert.equal(
    runForFault(
      m,
      "mov rbx, 0xffffffff\nmov dr6, rbx\nmov dr7, rbx\nmov rsi, dr6\nmov rdi, dr7\nmov dr1, rax\nmov rdx, dr1",
      64,
    ),
    null,
  );
  assert.equal(m.cpu.reg64(6), 0xffffefff);
  assert.equal(m.cpu.reg64(7), 0xffff27ff);
  assert.equal(m.cpu.reg64(2), -1);
  // Bits 63:32 of DR6/DR7 must be 0.
  assertFault(runForFault(m, "mov dr7, rax", 64), 13);
  m.cpu.cr4 |= CR4.DE;
  assertFault(runForFault(m, "mov rax, dr4", 64), 6);
  assertFault(runForFault(m, "mov dr5, rax", 64), 6);
});

test("CLTS clears TS; LMSW loads PE/MP/EM/TS but cannot clear PE; SMSW stores CR0", () => {
  const m = faultMachine(32);
  m.cpu.cr0 |= CR0.TS;
  m.cpu.lo[0] = 0xfff6; // PE=0, MP=1, EM=1, TS=0 + upper garbage
  assert.equal(
    runForFault(m, "clts\nmov ebx, cr0\nlmsw ax\nmov ecx, cr0\nsmsw edx\nsmsw word ptr [0x7000]", 32),
    null,
  );
  assert.equal(m.cpu.lo[3] & CR0.TS, 0);
  assert.equal(m.cpu.lo[1] >>> 0, 0x60000017, "PE kept, MP/EM set, TS clear");
  assert.equal(m.cpu.lo[2] >>> 0, 0x60000017);
  assert.equal(m.mem.read32(0x7000) & 0xffff, 0x0017);
  // LMSW can set PE (real mode → protected mode).
  const r = createMachine();
  r.cpu.lo[0] = 1;
  runCode(r, "lmsw ax", 16, 0x7c00);
  assert.equal(r.cpu.cr0 & CR0.PE, 1);
  assert.equal(r.cpu.protectedMode, true);
});

test("SMSW at CPL 3: allowed without UMIP, #GP(0) with CR4.UMIP=1", () => {
  let m = faultMachine(64);
  enterUser(m, 64);
  // Completes; the HLT that ends every snippet is then #GP at CPL 3.
  assertFault(runForFault(m, "smsw ebx", 64), 13, 0, CODE + 3);
  assert.equal(m.cpu.lo[3] >>> 0, 0x80000011);
  m = faultMachine(64);
  m.cpu.cr4 |= CR4.UMIP;
  enterUser(m, 64);
  assertFault(runForFault(m, "smsw eax", 64), 13);
  m = faultMachine(32);
  m.cpu.cr4 |= CR4.UMIP;
  enterUser(m, 32);
  assertFault(runForFault(m, "smsw word ptr [0x7000]", 32), 13);
});
