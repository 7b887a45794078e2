/**
 * MMU access-rights tests: every combination of PTE U/S, R/W, XD, CR0.WP, CR4.SMEP,
 * CR4.SMAP, EFLAGS.AC, CPL 0/3 and access kind read/write/execute, on a cold TLB and on a
 * TLB warmed by a different access (the software TLB caches permissions, so this is where a
 * caching bug would show). Expected outcomes are written out from SDM Vol.3 4.6.1
 * "Determination of Access Rights" and 4.7 "Page-Fault Exceptions" (error-code bits).
 * The same rules without SMEP/SMAP are also checked against QEMU by guests/paging_perm.c.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, enterLong64, type TestMachine } from "../helpers/machine.js";
import { Access } from "../../src/cpu/cpu.js";
import { CpuFault } from "../../src/cpu/fault.js";

const TEST_VA = 0x40000000;
const PD = 0x20000;
const PT = 0x21000;
const FRAME = 0x30000;

/** Map TEST_VA through PDPT[1] -> PD -> PT with the given leaf bits (low, high halves). */
function mapTestPage(m: TestMachine, leafLo: number, leafHi: number): void {
  const pdpt = 0x11000; // built by buildIdentityPaging: pml4 + 0x1000
  m.mem.write32(pdpt + 8, PD | 0x7);
  m.mem.write32(PD, PT | 0x7);
  m.mem.write32(PT, FRAME | 1 | leafLo);
  m.mem.write32(PT + 4, leafHi);
  m.cpu.flushTlb(false);
}

interface Case {
  us: number;
  rw: number;
  xd: number;
  wp: number;
  smep: number;
  smap: number;
  ac: number;
  cpl: number;
  kind: Access;
}

/** SDM 4.6.1, written out independently of src/cpu/mmu.ts. */
function expectedFault(c: Case): boolean {
  const userPage = c.us === 1;
  if (c.cpl === 3) {
    if (!userPage) return true;
    if (c.kind === Access.Write) return c.rw === 0;
    if (c.kind === Access.Exec) return c.xd === 1;
    return false;
  }
  if (c.kind === Access.Exec) return c.xd === 1 || (userPage && c.smep === 1);
  const smapBlocks = userPage && c.smap === 1 && c.ac === 0;
  if (smapBlocks) return true;
  if (c.kind === Access.Write) return c.rw === 0 && c.wp === 1;
  return false;
}

/** #PF error code per SDM 4.7: P=1 (protection), W/R, U/S, I/D (NXE=1 here). */
function expectedError(c: Case): number {
  return 1 | (c.kind === Access.Write ? 2 : 0) | (c.cpl === 3 ? 4 : 0) | (c.kind === Access.Exec ? 16 : 0);
}

function access(m: TestMachine, c: Case): CpuFault | null {
  try {
    m.cpu.translate(TEST_VA, c.kind);
    return null;
  } catch (e) {
    if (e instanceof CpuFault) return e;
    throw e;
  }
}

function setup(m: TestMachine, c: Case): void {
  const { cpu } = m;
  cpu.cr0 = c.wp ? cpu.cr0 | 0x10000 : cpu.cr0 & ~0x10000;
  cpu.cr4 = (cpu.cr4 & ~0x300000) | (c.smep << 20) | (c.smap << 21);
  cpu.eflags = c.ac ? cpu.eflags | 0x40000 : cpu.eflags & ~0x40000;
  cpu.cpl = c.cpl;
  cpu.updateAccessMode();
  mapTestPage(m, (c.us << 2) | (c.rw << 1) | 0x20 | 0x40, c.xd ? 0x80000000 | 0 : 0);
}

function* cases(): Generator<Case> {
  for (let bits = 0; bits < 256; bits++) {
    const [us, rw, xd, wp, smep, smap, ac, cpl3] = [0, 1, 2, 3, 4, 5, 6, 7].map((b) => (bits >> b) & 1);
    for (const kind of [Access.Read, Access.Write, Access.Exec]) {
      yield { us, rw, xd, wp, smep, smap, ac, cpl: cpl3 ? 3 : 0, kind };
    }
  }
}

test("every access-rights combination faults exactly as SDM 4.6.1 says (cold TLB)", () => {
  const m = createMachine();
  enterLong64(m);
  m.cpu.efer |= 0x800; // NXE
  let checked = 0;
  for (const c of cases()) {
    setup(m, c);
    const f = access(m, c);
    const label = JSON.stringify(c);
    assert.equal(f !== null, expectedFault(c), `fault? ${label}`);
    if (f) {
      assert.equal(f.vector, 14, label);
      assert.equal(f.errorCode, expectedError(c), `error code ${label}`);
      assert.equal(m.cpu.cr2, TEST_VA, label);
    }
    checked++;
  }
  assert.equal(checked, 768);
});

test("permissions cached by a TLB fill for one access never leak to another", () => {
  const m = createMachine();
  enterLong64(m);
  m.cpu.efer |= 0x800;
  for (const c of cases()) {
    for (const warm of [Access.Read, Access.Write, Access.Exec]) {
      setup(m, c);
      // Warm the TLB with another access under the same mode (ignore its outcome).
      access(m, { ...c, kind: warm });
      const f = access(m, c);
      assert.equal(f !== null, expectedFault(c), `after ${warm}: ${JSON.stringify(c)}`);
    }
  }
});

test("accessed and dirty bits: read sets A, write sets D; a clean page refills on first write", () => {
  const m = createMachine();
  enterLong64(m);
  mapTestPage(m, 0x6, 0);
  m.cpu.translate(TEST_VA, Access.Read);
  assert.equal((m.mem.read32(PT) >> 5) & 3, 1);
  m.cpu.translate(TEST_VA, Access.Write);
  assert.equal((m.mem.read32(PT) >> 5) & 3, 3);
  assert.equal((m.mem.read32(PD) >> 5) & 1, 1);
});

test("not-present and reserved-bit faults report P and RSVD per SDM 4.7", () => {
  const m = createMachine();
  enterLong64(m);
  m.mem.write32(0x11000 + 8, 0); // PDPT[1] not present
  m.cpu.flushTlb(false);
  m.cpu.cpl = 3;
  m.cpu.updateAccessMode();
  const f = access(m, { us: 0, rw: 0, xd: 0, wp: 0, smep: 0, smap: 0, ac: 0, cpl: 3, kind: Access.Write });
  assert.equal(f?.errorCode, 2 | 4);
  // XD set while EFER.NXE=0 is a reserved bit: P=1, RSVD=1 (QEMU TCG reports RSVD without P).
  mapTestPage(m, 0x6, 0x80000000 | 0);
  m.cpu.efer &= ~0x800;
  m.cpu.cpl = 0;
  m.cpu.updateAccessMode();
  const g = access(m, { us: 1, rw: 1, xd: 1, wp: 0, smep: 0, smap: 0, ac: 0, cpl: 0, kind: Access.Read });
  assert.equal(g?.errorCode, 1 | 8);
  // A physical-address bit above MAXPHYADDR (40) in the leaf.
  m.cpu.efer |= 0x800;
  mapTestPage(m, 0x6, 1 << 19); // bit 51
  const h = access(m, { us: 1, rw: 1, xd: 0, wp: 0, smep: 0, smap: 0, ac: 0, cpl: 0, kind: Access.Read });
  assert.equal(h?.errorCode, 1 | 8);
});

test("global pages survive a CR3 reload only when CR4.PGE=1", () => {
  const m = createMachine();
  enterLong64(m);
  mapTestPage(m, 0x6 | 0x100, 0); // G=1
  m.cpu.cr4 |= 0x80;
  m.cpu.translate(TEST_VA, Access.Read);
  // Point the leaf somewhere else without INVLPG: a global entry keeps the old frame.
  m.mem.write32(PT, (FRAME + 0x1000) | 0x167);
  m.cpu.flushTlb(true); // what MOV CR3 does
  assert.equal(m.cpu.translate(TEST_VA, Access.Read), FRAME);
  m.cpu.flushTlbPage(TEST_VA); // INVLPG
  assert.equal(m.cpu.translate(TEST_VA, Access.Read), FRAME + 0x1000);
});
