/**
 * System-management mode: the SMRAM state-save area and SMI entry (SDM Vol.3 ch.34 "System
 * Management Mode"; AMD APM Vol.2 ch.10 "System-Management Mode"). RSM, the way back, is in
 * ops/smm-ops.ts.
 *
 * pinvm models a 64-bit-capable processor, so the state-save area has the AMD64 layout (AMD
 * APM Vol.2 Table 10-2 "AMD64 Architecture SMM State-Save Area"; the same map is on
 * sandpile.org "x86 architecture system management mode", and it is the layout KVM uses for
 * guests with long mode, revision identifier 0002_0064H). It occupies the top 512 bytes of
 * the 64 KiB SMRAM window, SMBASE+FE00H .. SMBASE+FFFFH (SMBASE + 8000H + 7E00H..7FFFH,
 * SDM Vol.3 34.4.1). Offsets below are from SMBASE.
 *
 * Segment records (ES..GS, LDTR, TR) are 16 bytes: selector (word, +0), attributes (word,
 * +2), limit (dword, +4, byte granular), base (qword, +8). The attribute word holds bits
 * 8..23 of the descriptor's high dword (type, S, DPL, P in 7:0; AVL, L, D/B, G in 15:12) —
 * pinvm's ATTR layout with the limit nibble (11:8) zero. GDTR and IDTR use the same record
 * with selector and attributes reserved (0).
 *
 * Choices where the manuals leave room (each also what KVM does):
 * - the I/O-restart fields, the SVM and shadow-stack fields and every reserved byte of the
 *   area are written as 0 (pinvm's SMIs never interrupt an I/O instruction);
 * - the auto-HALT-restart byte (FEC9H) is 1 when the SMI woke the processor from HLT; the
 *   saved RIP is then the instruction after HLT (where the halted processor stood), and RSM
 *   returns to the HALT state if bit 0 is still 1, else continues at that RIP (SDM Vol.3
 *   34.13.1 "Auto HALT Restart");
 * - the GPRs, CR2, CR3, DR0-DR3, DR6, GDTR, IDTR, LDTR and TR keep their values on SMI entry
 *   (SDM Vol.3 Table 34-4 leaves GPRs and DR6 "undefined" and does not list the others).
 */
import { CR0 } from "../x86/cr.js";
import { ATTR, SEG } from "../x86/segment.js";
import type { Cpu } from "./cpu.js";

const TWO32 = 4294967296;

/**
 * Offsets in the AMD64 state-save area, from SMBASE (AMD APM Vol.2 Table 10-2). Segment
 * records: see segmentRecord(). 64-bit fields are little-endian qwords.
 */
export const SMRAM = {
  /** ES, CS, SS, DS, FS, GS records at FE00H + 10H * (SEG index). */
  ES: 0xfe00,
  CS: 0xfe10,
  SS: 0xfe20,
  DS: 0xfe30,
  FS: 0xfe40,
  GS: 0xfe50,
  /** GDTR: limit at +4, base at +8 (selector/attributes reserved). */
  GDTR: 0xfe60,
  LDTR: 0xfe70,
  /** IDTR: limit at +4, base at +8. */
  IDTR: 0xfe80,
  TR: 0xfe90,
  IO_RESTART_RIP: 0xfea0,
  IO_RESTART_RCX: 0xfea8,
  IO_RESTART_RSI: 0xfeb0,
  IO_RESTART_RDI: 0xfeb8,
  IO_RESTART_DWORD: 0xfec0,
  /** I/O instruction restart (byte). */
  IO_INSTRUCTION_RESTART: 0xfec8,
  /** Auto HALT restart (byte; bit 0). */
  AUTO_HALT_RESTART: 0xfec9,
  EFER: 0xfed0,
  SVM_GUEST_FLAG: 0xfed8,
  SVM_GUEST_VMCB: 0xfee0,
  SVM_GUEST_VIRTUAL_INTERRUPT: 0xfee8,
  /** SMM revision identifier (dword). */
  SMM_REVISION: 0xfefc,
  /** SMBASE (dword, writable: SMBASE relocation, SDM Vol.3 34.11). */
  SMBASE: 0xff00,
  SSP: 0xff18,
  SVM_GUEST_PAT: 0xff20,
  SVM_HOST_EFER: 0xff28,
  SVM_HOST_CR4: 0xff30,
  SVM_HOST_CR3: 0xff38,
  SVM_HOST_CR0: 0xff40,
  CR4: 0xff48,
  CR3: 0xff50,
  CR0: 0xff58,
  DR7: 0xff60,
  DR6: 0xff68,
  RFLAGS: 0xff70,
  RIP: 0xff78,
  /** R15 at FF80H down to RAX at FFF8H: see gprOffset(). */
  R15: 0xff80,
  RAX: 0xfff8,
} as const;

/** First byte of the state-save area, from SMBASE. */
export const SAVE_AREA_START = 0xfe00;
/** Size of the state-save area in bytes. */
export const SAVE_AREA_SIZE = 0x200;
/** SMM revision identifier of the AMD64 layout (bit 17: SMBASE relocation supported). */
export const SMM_REVISION_ID = 0x00020064;
/** First instruction of the SMI handler, from SMBASE (SDM Vol.3 34.5.1). */
export const SMI_HANDLER_OFFSET = 0x8000;
/**
 * Access rights of the segments on SMI entry: present, S, read/write data, accessed, G=1
 * (8093H, sandpile.org "processor state after SMM entry"; CS is writable too).
 */
export const SMM_SEGMENT_ATTR = ATTR.G | ATTR.P | ATTR.S | ATTR.RW | ATTR.A;

/** Offset from SMBASE of general register `n` (0 = RAX .. 15 = R15): R15 lowest. */
export function gprOffset(n: number): number {
  return SMRAM.RAX - n * 8;
}

/** Offset from SMBASE of the record of segment register `seg` (SEG index, LDTR, TR). */
export function segmentRecord(seg: number): number {
  if (seg === SEG.LDTR) return SMRAM.LDTR;
  if (seg === SEG.TR) return SMRAM.TR;
  return SMRAM.ES + seg * 16;
}

/** A 512-byte image of the state-save area, addressed by offsets from SMBASE. */
export class SaveArea {
  /** The bytes. */
  readonly view = new DataView(new ArrayBuffer(SAVE_AREA_SIZE));
  /** Scratch: high half of the last get64. */
  hi = 0;

  /** Read the image from SMRAM of `cpu` (physical accesses, as the processor makes them). */
  static read(cpu: Cpu): SaveArea {
    const a = new SaveArea();
    const base = cpu.smbase + SAVE_AREA_START;
    for (let o = 0; o < SAVE_AREA_SIZE; o += 4) a.view.setUint32(o, cpu.mem.read32(base + o), true);
    return a;
  }

  /** Write the image to SMRAM of `cpu`. */
  write(cpu: Cpu): void {
    const base = cpu.smbase + SAVE_AREA_START;
    for (let o = 0; o < SAVE_AREA_SIZE; o += 4) cpu.mem.write32(base + o, this.view.getUint32(o, true));
  }

  /** Byte at `off`. */
  get8(off: number): number {
    return this.view.getUint8(off - SAVE_AREA_START);
  }
  /** Word at `off`. */
  get16(off: number): number {
    return this.view.getUint16(off - SAVE_AREA_START, true);
  }
  /** Dword at `off` (unsigned). */
  get32(off: number): number {
    return this.view.getUint32(off - SAVE_AREA_START, true);
  }
  /** Qword at `off`: returns the low half, the high half in `hi` (both unsigned). */
  get64(off: number): number {
    this.hi = this.view.getUint32(off - SAVE_AREA_START + 4, true);
    return this.view.getUint32(off - SAVE_AREA_START, true);
  }
  /** Set the byte at `off`. */
  set8(off: number, v: number): void {
    this.view.setUint8(off - SAVE_AREA_START, v);
  }
  /** Set the word at `off`. */
  set16(off: number, v: number): void {
    this.view.setUint16(off - SAVE_AREA_START, v, true);
  }
  /** Set the dword at `off`. */
  set32(off: number, v: number): void {
    this.view.setUint32(off - SAVE_AREA_START, v >>> 0, true);
  }
  /** Set the qword at `off` from halves. */
  set64(off: number, lo: number, hi: number): void {
    this.set32(off, lo);
    this.set32(off + 4, hi);
  }
  /** Set the qword at `off` from a signed number (an address; two's complement). */
  setAddress(off: number, v: number): void {
    this.set64(off, v >>> 0, Math.floor(v / TWO32) >>> 0);
  }
}

/** Fill the state-save image with the processor state at an instruction boundary. */
function saveState(cpu: Cpu): SaveArea {
  const a = new SaveArea();
  for (let s = 0; s <= SEG.TR; s++) {
    const r = segmentRecord(s);
    a.set16(r, cpu.segSel[s] & 0xffff);
    a.set16(r + 2, cpu.segAttr[s] & 0xf0ff);
    a.set32(r + 4, cpu.segLimit[s]);
    a.setAddress(r + 8, cpu.segBase[s]);
  }
  a.set32(SMRAM.GDTR + 4, cpu.gdtrLimit & 0xffff);
  a.setAddress(SMRAM.GDTR + 8, cpu.gdtrBase);
  a.set32(SMRAM.IDTR + 4, cpu.idtrLimit & 0xffff);
  a.setAddress(SMRAM.IDTR + 8, cpu.idtrBase);
  a.set8(SMRAM.AUTO_HALT_RESTART, cpu.halted ? 1 : 0);
  a.set64(SMRAM.EFER, cpu.efer, 0);
  a.set32(SMRAM.SMM_REVISION, SMM_REVISION_ID);
  a.set32(SMRAM.SMBASE, cpu.smbase);
  a.set64(SMRAM.CR4, cpu.cr4, 0);
  a.set64(SMRAM.CR3, cpu.cr3, cpu.cr3Hi);
  a.set64(SMRAM.CR0, cpu.cr0, 0);
  a.set64(SMRAM.DR7, cpu.drLo[7], cpu.drHi[7]);
  a.set64(SMRAM.DR6, cpu.drLo[6], cpu.drHi[6]);
  a.set64(SMRAM.RFLAGS, cpu.getEflags(), 0);
  a.setAddress(SMRAM.RIP, cpu.rip);
  for (let n = 0; n < 16; n++) a.set64(gprOffset(n), cpu.lo[n], cpu.hi[n]);
  return a;
}

/**
 * Take a system-management interrupt at the current instruction boundary (SDM Vol.3 34.5
 * "SMI Handler Execution Environment"): save the state to SMRAM, then load the SMM state of
 * Table 34-4 "Processor Register Initialization in SMM" — EFLAGS 2, RIP 8000H, CS selector
 * SMBASE>>4 with base SMBASE, DS/ES/FS/GS/SS selector 0 base 0, all limits FFFFFFFFH
 * ("big real" addressing), CR0.PE/EM/TS/PG cleared, CR4 = 0, EFER = 0, DR7 = 400H — block
 * NMIs (34.8; the previous blocking is kept for RSM) and wake the processor from HLT. The
 * caller (the run loop) has checked that an SMI is pending and the processor is not in SMM.
 */
export function enterSmm(cpu: Cpu): void {
  saveState(cpu).write(cpu);
  const paged = cpu.paging;
  cpu.smiPending = false;
  cpu.inSmm = true;
  cpu.nmiBlockedAtSmi = cpu.nmiBlocked;
  cpu.nmiBlocked = true;
  cpu.halted = false;
  cpu.interruptShadow = false;
  cpu.cr0 = cpu.cr0 & ~(CR0.PE | CR0.EM | CR0.TS | CR0.PG);
  cpu.cr4 = 0;
  cpu.efer = 0;
  cpu.drLo[7] = 0x400;
  cpu.drHi[7] = 0;
  for (let s = 0; s <= SEG.GS; s++) {
    const cs = s === SEG.CS;
    cpu.segSel[s] = cs ? (cpu.smbase >>> 4) & 0xffff : 0;
    cpu.segBase[s] = cs ? cpu.smbase : 0;
    cpu.segLimit[s] = 0xffffffff;
    cpu.segAttr[s] = SMM_SEGMENT_ATTR;
  }
  cpu.cpl = 0;
  cpu.setEflags(2);
  cpu.rip = SMI_HANDLER_OFFSET;
  cpu.nextRip = SMI_HANDLER_OFFSET;
  cpu.updateMode();
  cpu.flushTlb(false);
  // Blocks that cross a page were decoded through the old linear mapping.
  if (paged) cpu.flushCodeCache();
}
