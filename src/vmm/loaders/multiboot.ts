/**
 * Multiboot v1 loader (Multiboot Specification 0.6.96): finds and validates the Multiboot
 * header of a kernel image, works out what to put where in guest-physical memory (from the
 * ELF32 program headers, or from the header's address fields when flag bit 16, the "a.out
 * kludge", is set), describes the CPU state the loader must hand over, and writes the
 * Multiboot information structure. Pure functions over byte arrays: no I/O, no node APIs.
 */

/** Value of the header's magic field (spec 3.1.2). */
export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;

/** Value the loader leaves in EAX (spec 3.2). */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;

/** The header must lie, 32-bit aligned, within this many bytes from the start of the image. */
export const MULTIBOOT_SEARCH_LIMIT = 8192;

/** Header flag bits (spec 3.1.2). Bits 0-15 are requirements a loader must honour or refuse. */
export const MultibootHeaderFlag = {
  /** Align boot modules on 4 KiB boundaries. */
  PageAlignModules: 1 << 0,
  /** Pass mem_lower/mem_upper (and a memory map if available). */
  MemoryInfo: 1 << 1,
  /** Pass a video mode table; the requested mode fields are valid. */
  VideoMode: 1 << 2,
  /** header_addr .. entry_addr are valid and say where to load the image (a.out kludge). */
  AddressFields: 1 << 16,
} as const;

/**
 * The requirement bits this parser accepts; any other bit in 0-15 makes it refuse. Accepting
 * VideoMode only means the request is returned in MultibootHeader.video: a machine without a
 * framebuffer leaves the info structure's video fields invalid (flag bits 11/12 clear).
 */
const KNOWN_REQUIRED_FLAGS =
  MultibootHeaderFlag.PageAlignModules | MultibootHeaderFlag.MemoryInfo | MultibootHeaderFlag.VideoMode;

/** Malformed or unsupported kernel image; the message says what is wrong and where. */
export class LoaderError extends Error {
  /** Creates a loader error with a human-readable message. */
  constructor(message: string) {
    super(message);
    this.name = "LoaderError";
  }
}

/** One piece of the image to place in guest-physical memory. */
export interface LoadSegment {
  /** Guest-physical address of the first byte. */
  paddr: number;
  /** Bytes to copy (a copy of the image's bytes, not a view). */
  data: Uint8Array;
  /** Size in memory; bytes from data.length up to memsz are zero (bss). */
  memsz: number;
}

/** The Multiboot header as found in the image. */
export interface MultibootHeader {
  /** File offset of the header's magic field. */
  offset: number;
  /** The flags field. */
  flags: number;
  /** Address fields, present when flag bit 16 is set. */
  addresses?: {
    headerAddr: number;
    loadAddr: number;
    loadEndAddr: number;
    bssEndAddr: number;
    entryAddr: number;
  };
  /** Requested video mode, present when flag bit 2 is set. */
  video?: { modeType: number; width: number; height: number; depth: number };
}

/** What parseMultiboot found: where the kernel goes and where it starts. */
export interface MultibootImage {
  /** Guest-physical address to start executing at (EIP). */
  entry: number;
  /** Pieces to load; they do not overlap and all lie below 4 GiB. */
  segments: LoadSegment[];
  /** How the load addresses were found. */
  format: "elf32" | "aout-kludge";
  /** The header itself. */
  header: MultibootHeader;
}

const FOUR_GIB = 0x1_0000_0000;

function u32(view: DataView, offset: number): number {
  return view.getUint32(offset, true);
}

function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/** Finds and checks the Multiboot header; throws LoaderError if there is no valid one. */
export function findMultibootHeader(image: Uint8Array): MultibootHeader {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const limit = Math.min(MULTIBOOT_SEARCH_LIMIT, image.byteLength);
  let badChecksum: string | undefined;
  for (let offset = 0; offset + 12 <= limit; offset += 4) {
    if (u32(view, offset) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = u32(view, offset + 4);
    const checksum = u32(view, offset + 8);
    if ((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0 !== 0) {
      // Keep looking: the magic value may occur by chance before the real header.
      badChecksum ??=
        `multiboot header at offset ${hex(offset)}: bad checksum ${hex(checksum)} ` +
        `(magic + flags + checksum must be 0 mod 2^32)`;
      continue;
    }
    const unknown = flags & 0xffff & ~KNOWN_REQUIRED_FLAGS;
    if (unknown !== 0) {
      throw new LoaderError(`multiboot header requires unsupported features (flag bits ${hex(unknown)})`);
    }
    const header: MultibootHeader = { offset, flags };
    const needsAddresses = (flags & MultibootHeaderFlag.AddressFields) !== 0;
    const needsVideo = (flags & MultibootHeaderFlag.VideoMode) !== 0;
    const end = offset + (needsVideo ? 48 : needsAddresses ? 32 : 12);
    if (end > image.byteLength) {
      throw new LoaderError(
        `multiboot header at offset ${hex(offset)} is truncated (image ends at ${hex(image.byteLength)})`,
      );
    }
    if (needsAddresses) {
      header.addresses = {
        headerAddr: u32(view, offset + 12),
        loadAddr: u32(view, offset + 16),
        loadEndAddr: u32(view, offset + 20),
        bssEndAddr: u32(view, offset + 24),
        entryAddr: u32(view, offset + 28),
      };
    }
    if (needsVideo) {
      header.video = {
        modeType: u32(view, offset + 32),
        width: u32(view, offset + 36),
        height: u32(view, offset + 40),
        depth: u32(view, offset + 44),
      };
    }
    return header;
  }
  if (badChecksum) throw new LoaderError(badChecksum);
  throw new LoaderError(
    image.byteLength < 12
      ? `image too short for a multiboot header (${image.byteLength} bytes)`
      : `no multiboot header (magic ${hex(MULTIBOOT_HEADER_MAGIC)}) in the first ${limit} bytes`,
  );
}

function loadFromAddressFields(image: Uint8Array, header: MultibootHeader): MultibootImage {
  const a = header.addresses!;
  if (a.headerAddr < a.loadAddr) {
    throw new LoaderError(
      `a.out kludge: header_addr ${hex(a.headerAddr)} is below load_addr ${hex(a.loadAddr)}`,
    );
  }
  const fileStart = header.offset - (a.headerAddr - a.loadAddr);
  if (fileStart < 0) {
    throw new LoaderError(
      `a.out kludge: load_addr ${hex(a.loadAddr)} would start ${-fileStart} bytes before the file`,
    );
  }
  let loadSize: number;
  if (a.loadEndAddr === 0) {
    loadSize = image.byteLength - fileStart;
  } else {
    if (a.loadEndAddr <= a.loadAddr) {
      throw new LoaderError(`a.out kludge: load_end_addr ${hex(a.loadEndAddr)} is not above load_addr`);
    }
    loadSize = a.loadEndAddr - a.loadAddr;
    if (fileStart + loadSize > image.byteLength) {
      throw new LoaderError(
        `a.out kludge: image is truncated: ${hex(loadSize)} bytes to load from offset ${hex(fileStart)}, ` +
          `file has ${hex(image.byteLength)}`,
      );
    }
  }
  if (a.loadAddr + loadSize > FOUR_GIB) {
    throw new LoaderError(`a.out kludge: ${hex(loadSize)} bytes at ${hex(a.loadAddr)} extend past 4 GiB`);
  }
  let memsz = loadSize;
  if (a.bssEndAddr !== 0) {
    if (a.bssEndAddr < a.loadAddr + loadSize) {
      throw new LoaderError(
        `a.out kludge: bss_end_addr ${hex(a.bssEndAddr)} is below the end of the loaded data`,
      );
    }
    memsz = a.bssEndAddr - a.loadAddr;
  }
  if (a.loadAddr + memsz > FOUR_GIB) {
    throw new LoaderError(`a.out kludge: image at ${hex(a.loadAddr)} + ${hex(memsz)} extends past 4 GiB`);
  }
  if (a.entryAddr < a.loadAddr || a.entryAddr >= a.loadAddr + memsz) {
    throw new LoaderError(`a.out kludge: entry_addr ${hex(a.entryAddr)} is outside the loaded image`);
  }
  return {
    entry: a.entryAddr,
    segments: [{ paddr: a.loadAddr, data: image.slice(fileStart, fileStart + loadSize), memsz }],
    format: "aout-kludge",
    header,
  };
}

const ELF_MAGIC = 0x464c457f; // "\x7fELF" read little-endian
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ET_EXEC = 2;
const EM_386 = 3;
const PT_LOAD = 1;
const ELF32_HEADER_SIZE = 52;
const ELF32_PHDR_SIZE = 32;

function loadFromElf32(image: Uint8Array, header: MultibootHeader): MultibootImage {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (image.byteLength < 16 || u32(view, 0) !== ELF_MAGIC) {
    throw new LoaderError("multiboot image without address fields (flag bit 16) must be an ELF file");
  }
  const elfClass = image[4];
  if (elfClass === ELFCLASS64) {
    throw new LoaderError("ELF64 multiboot images are not supported: convert with objcopy -O elf32-i386");
  }
  if (elfClass !== ELFCLASS32) throw new LoaderError(`unknown ELF class ${elfClass}`);
  if (image[5] !== ELFDATA2LSB) throw new LoaderError("ELF image is not little-endian");
  if (image.byteLength < ELF32_HEADER_SIZE) {
    throw new LoaderError(`ELF header is truncated (${image.byteLength} of ${ELF32_HEADER_SIZE} bytes)`);
  }
  const type = view.getUint16(16, true);
  const machine = view.getUint16(18, true);
  if (type !== ET_EXEC) throw new LoaderError(`ELF type ${type} is not ET_EXEC (2)`);
  if (machine !== EM_386) throw new LoaderError(`ELF machine ${machine} is not EM_386 (3)`);
  const elfEntry = u32(view, 24);
  const phoff = u32(view, 28);
  const phentsize = view.getUint16(42, true);
  const phnum = view.getUint16(44, true);
  if (phnum === 0) throw new LoaderError("ELF image has no program headers");
  if (phentsize < ELF32_PHDR_SIZE) throw new LoaderError(`ELF program header size ${phentsize} is too small`);
  if (phoff + phnum * phentsize > image.byteLength) {
    throw new LoaderError(`ELF program headers (${phnum} at ${hex(phoff)}) run past the end of the file`);
  }

  const segments: LoadSegment[] = [];
  let entry: number | undefined;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (u32(view, ph) !== PT_LOAD) continue;
    const offset = u32(view, ph + 4);
    const vaddr = u32(view, ph + 8);
    const paddr = u32(view, ph + 12);
    const filesz = u32(view, ph + 16);
    const memsz = u32(view, ph + 20);
    if (memsz === 0) continue;
    if (filesz > memsz) {
      throw new LoaderError(`ELF segment ${i}: file size ${hex(filesz)} exceeds memory size ${hex(memsz)}`);
    }
    if (offset + filesz > image.byteLength) {
      throw new LoaderError(
        `ELF segment ${i}: bytes ${hex(offset)}..${hex(offset + filesz)} lie past the end of the file ` +
          `(${hex(image.byteLength)}): image truncated?`,
      );
    }
    if (paddr + memsz > FOUR_GIB) {
      throw new LoaderError(`ELF segment ${i}: ${hex(paddr)} + ${hex(memsz)} extends past 4 GiB`);
    }
    for (const other of segments) {
      if (paddr < other.paddr + other.memsz && other.paddr < paddr + memsz) {
        throw new LoaderError(
          `ELF segment ${i} at ${hex(paddr)} overlaps the segment at ${hex(other.paddr)}`,
        );
      }
    }
    segments.push({ paddr, data: image.slice(offset, offset + filesz), memsz });
    // The entry is an ELF (virtual) address; translate it to physical like the segment.
    if (entry === undefined && elfEntry >= vaddr && elfEntry < vaddr + memsz)
      entry = paddr + (elfEntry - vaddr);
  }
  if (segments.length === 0) throw new LoaderError("ELF image has no loadable (PT_LOAD) segment");
  if (entry === undefined)
    throw new LoaderError(`ELF entry ${hex(elfEntry)} is not inside any loaded segment`);
  return { entry, segments, format: "elf32", header };
}

/**
 * Validates a Multiboot v1 kernel image and says what to load where. Uses the header's
 * address fields when flag bit 16 is set, otherwise the ELF32 program headers (by their
 * physical addresses). Throws LoaderError for anything malformed or unsupported.
 */
export function parseMultiboot(image: Uint8Array): MultibootImage {
  const header = findMultibootHeader(image);
  if (header.addresses) return loadFromAddressFields(image, header);
  return loadFromElf32(image, header);
}

/** Hidden (descriptor-cache) state of one segment register, as the loader establishes it. */
export interface MultibootSegmentState {
  /** The selector; the spec leaves its value undefined, these are the loader's choice. */
  selector: number;
  base: number;
  limit: number;
  /** Descriptor type field: 0xB execute/read accessed code, 0x3 read/write accessed data. */
  type: number;
  /** S bit: code or data (not system). */
  s: 1;
  dpl: 0;
  present: true;
  /** D/B bit: 32-bit. */
  db: 1;
  /** G bit: limit in 4 KiB units (the 0xffffffff limit needs it). */
  g: 1;
  /** L bit: not a 64-bit segment. */
  l: 0;
}

/** The processor state at the kernel's entry point (spec 3.2, "Machine state"). */
export interface MultibootInitialState {
  eax: number;
  ebx: number;
  eip: number;
  /** IF and VM must be clear; bit 1 is always set. */
  eflags: number;
  /** PE set, PG clear (required); ET set (fixed on every processor since the 486DX). */
  cr0: number;
  cs: MultibootSegmentState;
  ds: MultibootSegmentState;
  es: MultibootSegmentState;
  fs: MultibootSegmentState;
  gs: MultibootSegmentState;
  ss: MultibootSegmentState;
  /** The A20 gate must be enabled. */
  a20Enabled: true;
  /**
   * What the spec requires, for checking a vCPU's state: bits of CR0 and EFLAGS that must be
   * set or clear. ESP, GDTR, IDTR and all other bits are undefined: the kernel sets its own.
   */
  required: { cr0Set: number; cr0Clear: number; eflagsClear: number };
}

const CR0_PE = 1 << 0;
const CR0_ET = 1 << 4;
const CR0_PG = 0x8000_0000;
const EFLAGS_FIXED = 1 << 1;
const EFLAGS_IF = 1 << 9;
const EFLAGS_VM = 1 << 17;

function flatSegment(selector: number, type: number): MultibootSegmentState {
  return { selector, base: 0, limit: 0xffff_ffff, type, s: 1, dpl: 0, present: true, db: 1, g: 1, l: 0 };
}

/**
 * The state a Multiboot v1 loader must leave the boot processor in: EAX = 0x2BADB002, EBX =
 * the info structure's physical address, flat 32-bit protected mode without paging.
 */
export function multibootInitialState(entry: number, infoAddress: number): MultibootInitialState {
  const data = (): MultibootSegmentState => flatSegment(0x10, 0x3);
  return {
    eax: MULTIBOOT_BOOTLOADER_MAGIC,
    ebx: infoAddress >>> 0,
    eip: entry >>> 0,
    eflags: EFLAGS_FIXED,
    cr0: CR0_PE | CR0_ET,
    cs: flatSegment(0x08, 0xb),
    ds: data(),
    es: data(),
    fs: data(),
    gs: data(),
    ss: data(),
    a20Enabled: true,
    required: { cr0Set: CR0_PE, cr0Clear: CR0_PG, eflagsClear: EFLAGS_IF | EFLAGS_VM },
  };
}

/** Flag bits of the Multiboot information structure (spec 3.3). */
export const MultibootInfoFlag = {
  /** mem_lower and mem_upper are valid. */
  Memory: 1 << 0,
  /** cmdline is valid. */
  CommandLine: 1 << 2,
  /** mmap_length and mmap_addr are valid. */
  MemoryMap: 1 << 6,
  /** boot_loader_name is valid. */
  BootLoaderName: 1 << 9,
} as const;

/** Size in bytes of the Multiboot information structure (through the VBE fields). */
export const MULTIBOOT_INFO_SIZE = 88;

/** One memory-map entry (an e820 range). Type 1 is available RAM. */
export interface MultibootMemoryRegion {
  base: number;
  length: number;
  type: number;
}

/** What to put in the information structure. */
export interface MultibootInfoOptions {
  /** KiB of memory from address 0, at most 640. */
  memLowerKiB: number;
  /** KiB of memory from 1 MiB up to the first hole. */
  memUpperKiB: number;
  /** Kernel command line, written after the structure. */
  commandLine?: string;
  /** Memory map, written after the structure. */
  memoryMap?: MultibootMemoryRegion[];
  /** Boot loader name, written after the structure. */
  bootLoaderName?: string;
}

/** Where writeMultibootInfo put things. */
export interface MultibootInfoLayout {
  /** The flags field it wrote. */
  flags: number;
  /** Bytes used from the structure's address, including the strings and map after it. */
  size: number;
}

/**
 * Writes a Multiboot information structure at physical `address` of `memory` (index 0 =
 * physical address 0), followed by the optional command line, memory map and loader name,
 * which it points to. Throws LoaderError when the values are out of range or it does not fit.
 */
export function writeMultibootInfo(
  memory: Uint8Array,
  address: number,
  options: MultibootInfoOptions,
): MultibootInfoLayout {
  const { memLowerKiB, memUpperKiB } = options;
  if (!Number.isInteger(memLowerKiB) || memLowerKiB < 0 || memLowerKiB > 640) {
    throw new LoaderError(`mem_lower ${memLowerKiB} KiB is not in 0..640`);
  }
  if (!Number.isInteger(memUpperKiB) || memUpperKiB < 0 || memUpperKiB > 0xffff_ffff) {
    throw new LoaderError(`mem_upper ${memUpperKiB} KiB is not a 32-bit count`);
  }
  if (!Number.isInteger(address) || address < 0 || address % 4 !== 0) {
    throw new LoaderError(`multiboot info address ${address} is not a 4-byte aligned physical address`);
  }
  const encoder = new TextEncoder();
  const commandLine =
    options.commandLine === undefined ? undefined : encoder.encode(options.commandLine + "\0");
  const loaderName =
    options.bootLoaderName === undefined ? undefined : encoder.encode(options.bootLoaderName + "\0");
  const mapBytes = (options.memoryMap?.length ?? 0) * 24;
  const size =
    MULTIBOOT_INFO_SIZE +
    (options.memoryMap ? mapBytes : 0) +
    (commandLine?.length ?? 0) +
    (loaderName?.length ?? 0);
  if (address + size > memory.byteLength || address + size > FOUR_GIB) {
    throw new LoaderError(
      `multiboot info (${size} bytes at ${hex(address)}) does not fit in guest memory (${hex(memory.byteLength)})`,
    );
  }
  const view = new DataView(memory.buffer, memory.byteOffset, memory.byteLength);
  memory.fill(0, address, address + MULTIBOOT_INFO_SIZE);
  let flags = MultibootInfoFlag.Memory;
  view.setUint32(address + 4, memLowerKiB, true);
  view.setUint32(address + 8, memUpperKiB, true);
  let next = address + MULTIBOOT_INFO_SIZE;
  if (options.memoryMap) {
    flags |= MultibootInfoFlag.MemoryMap;
    view.setUint32(address + 44, mapBytes, true);
    view.setUint32(address + 48, next, true);
    for (const region of options.memoryMap) {
      for (const [name, value] of [
        ["base", region.base],
        ["length", region.length],
      ] as const) {
        if (!Number.isSafeInteger(value) || value < 0) {
          throw new LoaderError(`memory map ${name} ${value} is not a non-negative integer`);
        }
      }
      view.setUint32(next, 20, true); // size of the entry, not counting this field
      view.setUint32(next + 4, region.base % FOUR_GIB, true);
      view.setUint32(next + 8, Math.floor(region.base / FOUR_GIB), true);
      view.setUint32(next + 12, region.length % FOUR_GIB, true);
      view.setUint32(next + 16, Math.floor(region.length / FOUR_GIB), true);
      view.setUint32(next + 20, region.type, true);
      next += 24;
    }
  }
  if (commandLine) {
    flags |= MultibootInfoFlag.CommandLine;
    view.setUint32(address + 16, next, true);
    memory.set(commandLine, next);
    next += commandLine.length;
  }
  if (loaderName) {
    flags |= MultibootInfoFlag.BootLoaderName;
    view.setUint32(address + 64, next, true);
    memory.set(loaderName, next);
    next += loaderName.length;
  }
  view.setUint32(address, flags, true);
  return { flags, size };
}
