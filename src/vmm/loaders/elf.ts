/**
 * ELF executables (System V gABI, "ELF Header" and "Program Header"; the x86 and x86-64
 * psABIs for the machine numbers): ELF32 EM_386 and ELF64 EM_X86_64, type ET_EXEC,
 * little-endian. Each PT_LOAD segment is copied to its physical address (p_paddr) and the
 * rest of its memory size zeroed (bss). The entry point e_entry is a virtual address; it is
 * translated to physical through the segment that contains it.
 *
 * Entry state:
 * - ELF32: 32-bit flat protected mode, paging off, IF=0 (like Multiboot, without the
 *   information structure): CS=10H, data segments 18H, EIP = entry, GPRs 0.
 * - ELF64: 64-bit mode with the first 4 GiB identity-mapped by 2-MiB pages (PML4 at 2000H)
 *   and a flat GDT at 1000H (common.ts): RIP = the entry's physical address (which the
 *   identity map makes a valid virtual address too), GPRs 0.
 * Segments may not overlap the boot structures (1000H-7FFFH), the legacy hole
 * (A0000H-FFFFFH), each other, or lie outside RAM.
 */
import {
  BOOT_STRUCTURES,
  LEGACY_HOLE,
  LoaderError,
  checkRange,
  enterLongMode,
  enterProtectedMode32,
  hex,
  writeSegments,
  type BootTarget,
  type LoadSegment,
} from "./common.js";

/** e_ident[EI_CLASS] values. */
export const ElfClass = { ELFCLASS32: 1, ELFCLASS64: 2 } as const;
/** e_machine values accepted. */
export const ElfMachine = { EM_386: 3, EM_X86_64: 62 } as const;
const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
const ELFDATA2LSB = 1;
const EV_CURRENT = 1;
const ET_EXEC = 2;
const PT_LOAD = 1;

/** What parseElf found. */
export interface ElfImage {
  /** 32 or 64. */
  bits: 32 | 64;
  /** e_entry as in the file (a virtual address). */
  virtualEntry: bigint;
  /** The entry's physical address. */
  entry: number;
  /** The PT_LOAD segments with memory size > 0, by physical address. */
  segments: LoadSegment[];
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function safe(what: string, value: bigint): number {
  if (value > MAX_SAFE) throw new LoaderError(`${what} ${hex(value)} is too large`);
  return Number(value);
}

/**
 * Validates an ELF32/ELF64 x86 executable and says what to load where. Throws LoaderError
 * naming the problem (bad magic, truncated header, unsupported class/machine/type, segment
 * past the end of the file, overlapping segments, entry outside every segment).
 */
export function parseElf(image: Uint8Array): ElfImage {
  if (image.length < 16 || ELF_MAGIC.some((b, i) => image[i] !== b)) {
    throw new LoaderError("not an ELF file: bad magic (expected 7F 'E' 'L' 'F')");
  }
  const elfClass = image[4];
  if (elfClass !== ElfClass.ELFCLASS32 && elfClass !== ElfClass.ELFCLASS64) {
    throw new LoaderError(`unknown ELF class ${elfClass} (1 = ELF32, 2 = ELF64)`);
  }
  if (image[5] !== ELFDATA2LSB)
    throw new LoaderError(`ELF data encoding ${image[5]} is not little-endian (1)`);
  if (image[6] !== EV_CURRENT) throw new LoaderError(`ELF ident version ${image[6]} is not 1`);
  const is64 = elfClass === ElfClass.ELFCLASS64;
  const headerSize = is64 ? 64 : 52;
  if (image.length < headerSize) {
    throw new LoaderError(`ELF header is truncated (${image.length} of ${headerSize} bytes)`);
  }
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const u16 = (o: number) => view.getUint16(o, true);
  const u32 = (o: number) => view.getUint32(o, true);
  const word = (o: number): bigint => (is64 ? view.getBigUint64(o, true) : BigInt(view.getUint32(o, true)));
  const type = u16(16);
  const machine = u16(18);
  if (type !== ET_EXEC) {
    throw new LoaderError(
      `ELF type ${type} is not ET_EXEC (2): only executables are supported, not objects or PIE`,
    );
  }
  const wanted = is64 ? ElfMachine.EM_X86_64 : ElfMachine.EM_386;
  if (machine !== wanted) {
    throw new LoaderError(
      `unsupported ELF machine ${machine} for ELF${is64 ? 64 : 32} (expected ${is64 ? "EM_X86_64 (62)" : "EM_386 (3)"})`,
    );
  }
  if (u32(20) !== EV_CURRENT) throw new LoaderError(`ELF version ${u32(20)} is not 1`);
  const virtualEntry = word(24);
  const phoff = safe("e_phoff", word(is64 ? 32 : 28));
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  const phdrSize = is64 ? 56 : 32;
  if (phnum === 0) throw new LoaderError("ELF image has no program headers");
  if (phentsize < phdrSize)
    throw new LoaderError(`ELF program header size ${phentsize} is below ${phdrSize}`);
  if (phoff + phnum * phentsize > image.length) {
    throw new LoaderError(
      `ELF program headers (${phnum} x ${phentsize} at ${hex(phoff)}) run past the end of the file (${hex(image.length)}): truncated?`,
    );
  }
  const segments: LoadSegment[] = [];
  let entry: number | undefined;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (u32(ph) !== PT_LOAD) continue;
    const offset = safe(`segment ${i} p_offset`, word(ph + (is64 ? 8 : 4)));
    const vaddr = word(ph + (is64 ? 16 : 8));
    const paddr = safe(`segment ${i} p_paddr`, word(ph + (is64 ? 24 : 12)));
    const filesz = safe(`segment ${i} p_filesz`, word(ph + (is64 ? 32 : 16)));
    const memsz = safe(`segment ${i} p_memsz`, word(ph + (is64 ? 40 : 20)));
    if (memsz === 0) continue;
    if (filesz > memsz) {
      throw new LoaderError(`ELF segment ${i}: file size ${hex(filesz)} exceeds memory size ${hex(memsz)}`);
    }
    if (offset + filesz > image.length) {
      throw new LoaderError(
        `ELF segment ${i}: bytes ${hex(offset)}..${hex(offset + filesz)} lie past the end of the file (${hex(image.length)}): truncated?`,
      );
    }
    for (const other of segments) {
      if (paddr < other.paddr + other.memsz && other.paddr < paddr + memsz) {
        throw new LoaderError(
          `ELF segment ${i} at ${hex(paddr)} overlaps the segment at ${hex(other.paddr)}`,
        );
      }
    }
    segments.push({ paddr, data: image.slice(offset, offset + filesz), memsz });
    if (entry === undefined && virtualEntry >= vaddr && virtualEntry < vaddr + BigInt(memsz)) {
      entry = paddr + Number(virtualEntry - vaddr);
    }
  }
  if (segments.length === 0) throw new LoaderError("ELF image has no loadable (PT_LOAD) segment");
  if (entry === undefined)
    throw new LoaderError(`ELF entry ${hex(virtualEntry)} is not inside any loaded segment`);
  segments.sort((a, b) => a.paddr - b.paddr);
  return { bits: is64 ? 64 : 32, virtualEntry, entry, segments };
}

/** Where loadElf put things. */
export interface ElfBootInfo {
  /** The parsed image. */
  image: ElfImage;
  /** Physical entry address (RIP/EIP). */
  entry: number;
  /** Entry mode. */
  mode: "protected32" | "long64";
}

/**
 * Loads an ELF32 or ELF64 executable into `target` and readies the vCPU at its entry (see
 * the module comment for the state). Throws LoaderError for a malformed image or a segment
 * outside RAM or over a reserved range.
 */
export function loadElf(target: BootTarget, image: Uint8Array): ElfBootInfo {
  const parsed = parseElf(image);
  parsed.segments.forEach((seg, i) =>
    checkRange(`ELF segment ${i}`, seg.paddr, seg.memsz, target, [LEGACY_HOLE, BOOT_STRUCTURES]),
  );
  writeSegments(target, parsed.segments);
  if (parsed.bits === 64) {
    enterLongMode(target, parsed.entry);
    return { image: parsed, entry: parsed.entry, mode: "long64" };
  }
  enterProtectedMode32(target, parsed.entry);
  return { image: parsed, entry: parsed.entry, mode: "protected32" };
}
