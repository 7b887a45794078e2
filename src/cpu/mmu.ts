/**
 * Paging: the page walk for 32-bit, PAE and 4-level paging with 4K/2M/4M/1G pages, the
 * access-rights rules (U/S, R/W, NX, CR0.WP, CR4.SMEP, CR4.SMAP with EFLAGS.AC), accessed and
 * dirty bits, reserved-bit checks, #PF error codes and CR2 (SDM Vol.3 chapter 4: 4.3, 4.4,
 * 4.5, 4.6 "Access Rights", 4.7 "Page-Fault Exceptions", 4.8 "Accessed and Dirty Flags").
 *
 * The software TLB is direct-mapped and tagged by virtual page number; each entry holds the
 * permissions for every (access kind, access mode) pair, computed for the CR0/CR4/EFER bits in
 * force when it was filled — changes to those bits flush it (4.10.4.1).
 */
import { CR0, CR4, EFER } from "../x86/cr.js";
import { PTE, PTE_HI_XD, MAXPHYADDR } from "../x86/paging.js";
import { PF_ERR } from "../x86/vectors.js";
import type { Cpu } from "./cpu.js";
import { CpuFault } from "./fault.js";

/** Number of TLB entries (power of two). */
export const TLB_SIZE = 4096;

/**
 * Permission bits in a TLB entry, indexed [kind * 3 + mode] with kind 0 read, 1 write,
 * 2 execute and mode 0 supervisor, 1 supervisor with EFLAGS.AC=1, 2 user.
 */
export const PERM = [1, 2, 4, 8, 16, 32, 64, 128, 256];

const TWO32 = 4294967296;
/** Reserved physical-address bits above MAXPHYADDR in the high half of an entry. */
const HI_RSVD = ~((1 << (MAXPHYADDR - 32)) - 1) & 0x7fffffff;

/** Result of a successful walk. */
interface WalkResult {
  phys: number;
  user: boolean;
  writable: boolean;
  nx: boolean;
  dirty: boolean;
  global: boolean;
  pageSize: number;
}

function pageFault(cpu: Cpu, lin: number, err: number): never {
  cpu.cr2 = lin;
  throw new CpuFault(14, err);
}

/** Read a 64-bit paging entry: returns low half; high half via out[0]. */
function readEntry(cpu: Cpu, addr: number, out: number[]): number {
  out[0] = cpu.mem.read32(addr + 4);
  return cpu.mem.read32(addr);
}

/**
 * Walk the paging structures for `lin`. Sets accessed bits on every level it passes and the
 * dirty bit when `kind` is a write that is permitted. Raises #PF on a not-present entry, a
 * reserved bit, or an access-rights violation.
 */
function walk(cpu: Cpu, lin: number, kind: number, mode: number): WalkResult {
  const cr4 = cpu.cr4;
  const nxe = (cpu.efer & EFER.NXE) !== 0;
  const isUser = mode === 2;
  const fetchErr = kind === 2 && ((cr4 & CR4.SMEP) !== 0 || ((cr4 & CR4.PAE) !== 0 && nxe)) ? PF_ERR.ID : 0;
  const baseErr = (kind === 1 ? PF_ERR.W : 0) | (isUser ? PF_ERR.U : 0) | fetchErr;
  let user = true;
  let writable = true;
  let nx = false;
  const hiOut = [0];
  const entryAddrs: number[] = [];
  let phys: number;
  let pageSize: number;
  let leafLo: number;
  let global = false;

  if ((cr4 & CR4.PAE) === 0) {
    // 32-bit paging (SDM 4.3).
    const l = lin >>> 0;
    const pdeAddr = (cpu.cr3 & 0xfffff000) + ((l >>> 22) << 2);
    const pde = cpu.mem.read32(pdeAddr);
    if ((pde & PTE.P) === 0) pageFault(cpu, lin, baseErr);
    user = (pde & PTE.US) !== 0;
    writable = (pde & PTE.RW) !== 0;
    entryAddrs.push(pdeAddr);
    if (pde & PTE.PS && cr4 & CR4.PSE) {
      // 4-MByte page: bits 20:13 hold physical address bits 39:32; bit 21 reserved (SDM Table 4-4).
      if (pde & (1 << 21)) pageFault(cpu, lin, baseErr | PF_ERR.P | PF_ERR.RSVD);
      const hiBits = (pde >>> 13) & 0xff;
      if (hiBits >>> (MAXPHYADDR - 32)) pageFault(cpu, lin, baseErr | PF_ERR.P | PF_ERR.RSVD);
      phys = hiBits * TWO32 + ((pde & 0xffc00000) >>> 0) + (l & 0x3fffff);
      pageSize = 0x400000;
      leafLo = pde;
    } else {
      const pteAddr = (pde & 0xfffff000) + (((l >>> 12) & 0x3ff) << 2);
      const pte = cpu.mem.read32(pteAddr);
      if ((pte & PTE.P) === 0) pageFault(cpu, lin, baseErr);
      user &&= (pte & PTE.US) !== 0;
      writable &&= (pte & PTE.RW) !== 0;
      entryAddrs.push(pteAddr);
      phys = ((pte & 0xfffff000) >>> 0) + (l & 0xfff);
      pageSize = 0x1000;
      leafLo = pte;
    }
    global = (leafLo & PTE.G) !== 0 && (cr4 & CR4.PGE) !== 0;
  } else {
    const long = (cpu.efer & EFER.LMA) !== 0;
    let tableAddr: number;
    let level: number;
    if (long) {
      tableAddr = (cpu.cr3Hi & 0xff) * TWO32 + ((cpu.cr3 & 0xfffff000) >>> 0);
      level = 4;
    } else {
      // PAE: the four PDPTEs (SDM 4.4.1). pinvm reads them at each walk rather than caching
      // them at MOV CR3, and checks their reserved bits here.
      const pdpteAddr = ((cpu.cr3 & 0xffffffe0) >>> 0) + ((lin >>> 30) & 3) * 8;
      const e = readEntry(cpu, pdpteAddr, hiOut);
      const eh = hiOut[0];
      if ((e & PTE.P) === 0) pageFault(cpu, lin, baseErr);
      if (e & 0x1e6 || eh & HI_RSVD || eh & PTE_HI_XD) pageFault(cpu, lin, baseErr | PF_ERR.P | PF_ERR.RSVD);
      tableAddr = (eh & 0xff) * TWO32 + ((e & 0xfffff000) >>> 0);
      level = 2;
    }
    for (;;) {
      let idx: number;
      if (level === 4) idx = Math.floor(lin / 0x8000000000) & 0x1ff;
      else if (level === 3) idx = Math.floor(lin / 0x40000000) & 0x1ff;
      else if (level === 2) idx = (lin >>> 21) & 0x1ff;
      else idx = (lin >>> 12) & 0x1ff;
      const entryAddr = tableAddr + idx * 8;
      const e = readEntry(cpu, entryAddr, hiOut);
      const eh = hiOut[0];
      if ((e & PTE.P) === 0) pageFault(cpu, lin, baseErr);
      // Reserved bits: above MAXPHYADDR, XD when NXE=0, PS at PML4, low bits of large-page addresses.
      let rsvd = (eh & HI_RSVD) !== 0 || (!nxe && (eh & PTE_HI_XD) !== 0);
      if (level === 4 && e & PTE.PS) rsvd = true;
      const large = (level === 3 || level === 2) && (e & PTE.PS) !== 0;
      if (large && level === 3 && (e & 0x3fffe000) !== 0) rsvd = true;
      if (large && level === 2 && (e & 0x1fe000) !== 0) rsvd = true;
      if (rsvd) pageFault(cpu, lin, baseErr | PF_ERR.P | PF_ERR.RSVD);
      entryAddrs.push(entryAddr);
      user &&= (e & PTE.US) !== 0;
      writable &&= (e & PTE.RW) !== 0;
      if (nxe && eh & PTE_HI_XD) nx = true;
      const frame = (eh & 0xfffff) * TWO32;
      if (large || level === 1) {
        leafLo = e;
        if (level === 3) {
          pageSize = 0x40000000;
          phys = frame + ((e & 0xc0000000) >>> 0) + (lin & 0x3fffffff);
        } else if (level === 2) {
          pageSize = 0x200000;
          phys = frame + ((e & 0xffe00000) >>> 0) + (lin & 0x1fffff);
        } else {
          pageSize = 0x1000;
          phys = frame + ((e & 0xfffff000) >>> 0) + (lin & 0xfff);
        }
        break;
      }
      tableAddr = frame + ((e & 0xfffff000) >>> 0);
      level--;
    }
    global = (leafLo & PTE.G) !== 0 && (cr4 & CR4.PGE) !== 0;
  }

  // Access rights (SDM 4.6): the same rule table the TLB caches, checked as if already dirty.
  const rights = permissions(cpu, { user, writable, nx, dirty: true });
  if ((rights & PERM[kind * 3 + mode]) === 0) pageFault(cpu, lin, baseErr | PF_ERR.P);

  // Accessed/dirty (SDM 4.8): A on every entry used, D on the leaf for a write.
  for (const a of entryAddrs) {
    const v = cpu.mem.read32(a);
    if ((v & PTE.A) === 0) cpu.mem.write32(a, v | PTE.A);
  }
  const leafAddr = entryAddrs[entryAddrs.length - 1];
  let dirty = (leafLo & PTE.D) !== 0;
  if (kind === 1 && !dirty) {
    cpu.mem.write32(leafAddr, cpu.mem.read32(leafAddr) | PTE.A | PTE.D);
    dirty = true;
  }
  return { phys, user, writable, nx, dirty, global, pageSize };
}

/** Rights of a translation, combined over all paging-structure levels. */
interface Rights {
  user: boolean;
  writable: boolean;
  nx: boolean;
  dirty: boolean;
}

/**
 * Permission bits (see PERM) for a translation with these rights under the current CR0.WP,
 * CR4.SMEP and CR4.SMAP (SDM Vol.3 4.6.1). Writes are only allowed once the leaf is dirty,
 * so the first write to a clean page takes the walk that sets D.
 */
function permissions(cpu: Cpu, w: Rights): number {
  const wp = (cpu.cr0 & CR0.WP) !== 0;
  const smep = (cpu.cr4 & CR4.SMEP) !== 0;
  const smap = (cpu.cr4 & CR4.SMAP) !== 0;
  let p = 0;
  const supWrite = (w.writable || !wp) && w.dirty;
  // supervisor, AC=0
  if (!(w.user && smap)) {
    p |= PERM[0];
    if (supWrite) p |= PERM[3];
  }
  // supervisor, AC=1
  p |= PERM[1];
  if (supWrite) p |= PERM[4];
  // user
  if (w.user) {
    p |= PERM[2];
    if (w.writable && w.dirty) p |= PERM[5];
    if (!w.nx) p |= PERM[8];
  }
  if (!w.nx && !(w.user && smep)) p |= PERM[6] | PERM[7];
  return p;
}

/** TLB miss (or permission miss): walk, check, fill the TLB and return the physical address. */
export function translateSlow(cpu: Cpu, lin: number, kind: number, mode: number): number {
  const w = walk(cpu, lin, kind, mode);
  const vpn = Math.floor(lin / 4096);
  const idx = vpn & (TLB_SIZE - 1);
  cpu.tlbTag[idx] = vpn;
  cpu.tlbPhys[idx] = w.phys - (lin & 0xfff);
  cpu.tlbPhys32[idx] = cpu.tlbPhys[idx] | 0;
  cpu.tlbPerm[idx] = permissions(cpu, w);
  cpu.tlbGlobal[idx] = w.global ? 1 : 0;
  // The fast tags of compiled code described the entry's previous contents.
  cpu.jitReadTag[idx] = NaN;
  cpu.jitWriteTag[idx] = NaN;
  return w.phys;
}
