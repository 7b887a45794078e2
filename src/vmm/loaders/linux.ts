/**
 * The Linux/x86 boot protocol (Documentation/arch/x86/boot.rst) for bzImage kernels,
 * entered at their 32-bit or 64-bit entry point (the real-mode setup code is not run):
 *
 * 1. Parse the setup header at 1F1H: boot_flag AA55H, "HdrS" at 202H, protocol version
 *    >= 2.06 (cmdline_size), LOADED_HIGH in loadflags (a bzImage), setup_sects (0 means 4);
 *    the protected-mode kernel is the file after the (setup_sects + 1) 512-byte sectors.
 * 2. A relocatable kernel is loaded at pref_address (protocol >= 2.10) when
 *    [pref_address, + init_size) fits in RAM, else at the lowest kernel_alignment-aligned
 *    address from 1 MiB; a non-relocatable one at 1 MiB, and it needs init_size bytes of
 *    RAM at pref_address, where it moves itself.
 * 3. Build boot_params (the "zero page", 4 KiB at 8000H): zeroed, the setup header copied
 *    from the image (1F1H up to 202H + the byte at 201H), then type_of_loader FFH,
 *    vid_mode FFFFH, code32_start, cmd_line_ptr (command line at 20000H, NUL-terminated, at
 *    most cmdline_size bytes), ramdisk_image/ramdisk_size (initrd page-aligned as high as
 *    possible below both initrd_addr_max and the top of RAM, above the kernel's init_size
 *    area), e820_entries (1E8H) and e820_table (2D0H, at most 128 entries), and
 *    acpi_rsdp_addr (070H, protocol >= 2.14) when given.
 * 4. Enter, as boot.rst "32-bit Boot Protocol" / "64-bit Boot Protocol" require: a GDT with
 *    flat __BOOT_CS (10H) and __BOOT_DS (18H); CS = 10H, DS/ES/SS = 18H; interrupts off.
 *    64-bit: long mode with the first 4 GiB identity-mapped, RIP = load address + 200H
 *    (startup_64; needs XLF_KERNEL_64), RSI = boot_params. 32-bit: paging off, EIP = load
 *    address, ESI = boot_params, EBP = EDI = EBX = 0.
 */
import { encodeE820Table, pcE820Map, type E820Entry } from "../firmware/e820.js";
import {
  LoaderError,
  checkRange,
  enterLongMode,
  enterProtectedMode32,
  hex,
  type BootTarget,
} from "./common.js";

/** Offsets of the setup header fields in the image and in boot_params (boot.rst). */
export const SetupHeader = {
  SETUP_SECTS: 0x1f1,
  SYSSIZE: 0x1f4,
  VID_MODE: 0x1fa,
  BOOT_FLAG: 0x1fe,
  JUMP: 0x200,
  HEADER: 0x202,
  VERSION: 0x206,
  KERNEL_VERSION: 0x20e,
  TYPE_OF_LOADER: 0x210,
  LOADFLAGS: 0x211,
  CODE32_START: 0x214,
  RAMDISK_IMAGE: 0x218,
  RAMDISK_SIZE: 0x21c,
  CMD_LINE_PTR: 0x228,
  INITRD_ADDR_MAX: 0x22c,
  KERNEL_ALIGNMENT: 0x230,
  RELOCATABLE_KERNEL: 0x234,
  XLOADFLAGS: 0x236,
  CMDLINE_SIZE: 0x238,
  PREF_ADDRESS: 0x258,
  INIT_SIZE: 0x260,
} as const;

/** boot_params fields outside the setup header (arch/x86/include/uapi/asm/bootparam.h, zero-page.rst). */
export const BootParams = {
  ACPI_RSDP_ADDR: 0x070,
  EXT_RAMDISK_IMAGE: 0x0c0,
  EXT_RAMDISK_SIZE: 0x0c4,
  EXT_CMD_LINE_PTR: 0x0c8,
  E820_ENTRIES: 0x1e8,
  E820_TABLE: 0x2d0,
  /** Size of boot_params. */
  SIZE: 0x1000,
} as const;

/** "HdrS" read little-endian. */
export const LINUX_HEADER_MAGIC = 0x53726448;
/** loadflags bit 0: the protected-mode code is loaded at 100000H (a bzImage). */
export const LOADED_HIGH = 1 << 0;
/** xloadflags bit 0: the kernel has the 64-bit entry point at load address + 200H. */
export const XLF_KERNEL_64 = 1 << 0;
/** type_of_loader value for a loader without an assigned ID. */
export const TYPE_OF_LOADER_UNDEFINED = 0xff;
/** Most e820 entries boot_params can hold. */
export const E820_MAX_ENTRIES_ZEROPAGE = 128;
/** Oldest protocol accepted: 2.06 (cmdline_size). */
export const MIN_PROTOCOL = 0x206;

/** Where loadLinux puts boot_params. */
export const BOOT_PARAMS_ADDRESS = 0x8000;
/** Where loadLinux puts the command line. */
export const CMDLINE_ADDRESS = 0x20000;
/** Most bytes of command line loadLinux places (the area ends at 30000H). */
const CMDLINE_AREA = 0x10000;
const ONE_MIB = 0x10_0000;
const PAGE = 0x1000;

/** The setup header fields the loader uses. */
export interface LinuxSetupHeaderInfo {
  /** Protocol version, e.g. 0x20f for 2.15. */
  version: number;
  /** Setup sectors (after the 0-means-4 rule). */
  setupSects: number;
  /** loadflags. */
  loadflags: number;
  /** xloadflags (0 before 2.12). */
  xloadflags: number;
  /** syssize: protected-mode code size in 16-byte paragraphs. */
  syssize: number;
  /** Highest address the initrd may occupy. */
  initrdAddrMax: number;
  /** Alignment a relocatable kernel needs. */
  kernelAlignment: number;
  /** The kernel can be loaded at any kernelAlignment-aligned address. */
  relocatable: boolean;
  /** Longest command line without its NUL. */
  cmdlineSize: number;
  /** Preferred load address (1 MiB before 2.10). */
  prefAddress: number;
  /** Linear memory the kernel needs from its load address (0 before 2.10). */
  initSize: number;
  /** The kernel version string the header points at, if any. */
  kernelVersion?: string;
  /** Offset of the protected-mode kernel in the file. */
  kernelOffset: number;
  /** End of the setup header in the file (202H + byte at 201H). */
  headerEnd: number;
}

/**
 * Parses and checks a bzImage's setup header. Throws LoaderError for a truncated image, a
 * missing AA55H or "HdrS", a protocol older than 2.06 or a zImage.
 */
export function parseLinuxHeader(image: Uint8Array): LinuxSetupHeaderInfo {
  if (image.length < SetupHeader.VERSION + 2) {
    throw new LoaderError(`image too short for a Linux setup header (${image.length} bytes)`);
  }
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const u16 = (o: number) => view.getUint16(o, true);
  const u32 = (o: number) => view.getUint32(o, true);
  if (u16(SetupHeader.BOOT_FLAG) !== 0xaa55) {
    throw new LoaderError(`bad boot_flag ${hex(u16(SetupHeader.BOOT_FLAG))} at 0x1fe (expected 0xaa55)`);
  }
  if (u32(SetupHeader.HEADER) !== LINUX_HEADER_MAGIC) {
    throw new LoaderError("no 'HdrS' magic at 0x202: not a Linux bzImage (or protocol older than 2.00)");
  }
  const version = u16(SetupHeader.VERSION);
  if (version < MIN_PROTOCOL) {
    throw new LoaderError(
      `boot protocol ${version >> 8}.${(version & 0xff).toString().padStart(2, "0")} is too old (2.06 or later needed)`,
    );
  }
  const headerEnd = 0x202 + image[0x201];
  const needed = Math.max(
    headerEnd,
    version >= 0x20a ? SetupHeader.INIT_SIZE + 4 : SetupHeader.CMDLINE_SIZE + 4,
  );
  if (image.length < needed) {
    throw new LoaderError(
      `setup header is truncated (image has ${hex(image.length)} bytes, header needs ${hex(needed)})`,
    );
  }
  const loadflags = image[SetupHeader.LOADFLAGS];
  if (!(loadflags & LOADED_HIGH)) {
    throw new LoaderError("zImage kernels (LOADED_HIGH clear, loaded at 0x10000) are not supported");
  }
  const setupSects = image[SetupHeader.SETUP_SECTS] || 4;
  const kernelOffset = (setupSects + 1) * 512;
  const syssize = u32(SetupHeader.SYSSIZE);
  if (kernelOffset >= image.length) {
    throw new LoaderError(`image is truncated: no protected-mode kernel after ${setupSects} setup sectors`);
  }
  if (image.length - kernelOffset < syssize * 16) {
    throw new LoaderError(
      `image is truncated: syssize says ${hex(syssize * 16)} bytes of kernel, the file has ${hex(image.length - kernelOffset)}`,
    );
  }
  const versionPointer = u16(SetupHeader.KERNEL_VERSION);
  let kernelVersion: string | undefined;
  if (versionPointer !== 0 && versionPointer + 0x200 < image.length) {
    const start = versionPointer + 0x200;
    let end = start;
    while (end < image.length && end - start < 256 && image[end] !== 0) end++;
    kernelVersion = String.fromCharCode(...image.subarray(start, end));
  }
  const kernelAlignment = u32(SetupHeader.KERNEL_ALIGNMENT);
  return {
    version,
    setupSects,
    loadflags,
    xloadflags: version >= 0x20c ? u16(SetupHeader.XLOADFLAGS) : 0,
    syssize,
    initrdAddrMax: u32(SetupHeader.INITRD_ADDR_MAX),
    kernelAlignment,
    relocatable: image[SetupHeader.RELOCATABLE_KERNEL] !== 0,
    cmdlineSize: u32(SetupHeader.CMDLINE_SIZE),
    prefAddress: version >= 0x20a ? Number(view.getBigUint64(SetupHeader.PREF_ADDRESS, true)) : ONE_MIB,
    initSize: version >= 0x20a ? u32(SetupHeader.INIT_SIZE) : 0,
    kernelVersion,
    kernelOffset,
    headerEnd,
  };
}

/** Options of loadLinux. */
export interface LinuxLoadOptions {
  /** Kernel command line (ASCII). */
  commandLine?: string;
  /** Initial ramdisk. */
  initrd?: Uint8Array;
  /** Entry point: "64" (startup_64, default when XLF_KERNEL_64 is set) or "32". */
  entry?: "64" | "32";
  /** E820 map to pass (default: pcE820Map of the target's contiguous RAM). */
  memoryMap?: readonly E820Entry[];
  /** Physical address of the ACPI RSDP (boot_params.acpi_rsdp_addr, protocol >= 2.14). */
  acpiRsdpAddress?: number;
}

/** Where loadLinux put things. */
export interface LinuxBootInfo {
  /** The parsed header. */
  header: LinuxSetupHeaderInfo;
  /** Load address of the protected-mode kernel. */
  loadAddress: number;
  /** Entry address (RIP/EIP). */
  entry: number;
  /** Entry mode. */
  mode: "64" | "32";
  /** Address of boot_params (RSI/ESI). */
  bootParamsAddress: number;
  /** Address of the command line. */
  commandLineAddress: number;
  /** Initrd placement, if any. */
  initrd?: { address: number; size: number };
}

function chooseLoadAddress(header: LinuxSetupHeaderInfo, kernelSize: number, ramBytes: number): number {
  const footprint = Math.max(header.initSize, kernelSize);
  const fits = (a: number) => a >= ONE_MIB && a + footprint <= ramBytes;
  if (header.relocatable) {
    if (header.version >= 0x20a && fits(header.prefAddress)) return header.prefAddress;
    const align = Math.max(header.kernelAlignment, PAGE);
    const low = Math.ceil(ONE_MIB / align) * align;
    if (fits(low)) return low;
  } else if (fits(header.prefAddress) && fits(ONE_MIB)) {
    // A non-relocatable kernel runs at pref_address (LOAD_PHYSICAL_ADDR) whatever the load
    // address, so it needs init_size bytes there; it is loaded at the traditional 1 MiB.
    return ONE_MIB;
  }
  throw new LoaderError(
    `kernel needs ${hex(footprint)} bytes (init_size) from its ${header.relocatable ? "load" : "run"} address ` +
      `${hex(header.prefAddress)}, but guest RAM ends at ${hex(ramBytes)}`,
  );
}

/**
 * Loads a bzImage into `target` by the Linux boot protocol and readies the vCPU at its
 * 64-bit or 32-bit entry. Throws LoaderError for a malformed image or one that does not fit.
 */
export function loadLinux(
  target: BootTarget,
  image: Uint8Array,
  options: LinuxLoadOptions = {},
): LinuxBootInfo {
  const header = parseLinuxHeader(image);
  const mode = options.entry ?? (header.xloadflags & XLF_KERNEL_64 ? "64" : "32");
  if (mode !== "64" && mode !== "32") throw new LoaderError(`unknown entry mode ${String(mode)}`);
  if (mode === "64" && !(header.xloadflags & XLF_KERNEL_64)) {
    throw new LoaderError("kernel has no 64-bit entry point (XLF_KERNEL_64 clear in xloadflags)");
  }
  const kernel = image.subarray(header.kernelOffset);
  const loadAddress = chooseLoadAddress(header, kernel.length, target.ramBytes);
  // The kernel's memory: init_size bytes from where it runs (its load address, or
  // pref_address for a non-relocatable kernel); the initrd must stay above it.
  const kernelEnd = Math.max(
    loadAddress + Math.max(header.initSize, kernel.length),
    header.relocatable ? 0 : header.prefAddress + header.initSize,
  );
  checkRange("kernel", loadAddress, kernelEnd - loadAddress, target);

  // Command line.
  const commandLine = options.commandLine ?? "";
  for (let i = 0; i < commandLine.length; i++) {
    const c = commandLine.charCodeAt(i);
    if (c === 0 || c > 0x7f) throw new LoaderError(`command line must be ASCII without NUL (character ${i})`);
  }
  const maxCmdline = Math.min(header.cmdlineSize, CMDLINE_AREA - 1);
  if (commandLine.length > maxCmdline) {
    throw new LoaderError(
      `command line of ${commandLine.length} bytes exceeds the kernel's cmdline_size (${maxCmdline})`,
    );
  }
  const cmdlineBytes = new Uint8Array(commandLine.length + 1);
  for (let i = 0; i < commandLine.length; i++) cmdlineBytes[i] = commandLine.charCodeAt(i);
  checkRange("command line", CMDLINE_ADDRESS, cmdlineBytes.length, target);

  // E820 map.
  const map =
    options.memoryMap ?? pcE820Map({ belowFourGiB: target.ramBytes, aboveFourGiB: target.highRamBytes ?? 0 });
  if (map.length > E820_MAX_ENTRIES_ZEROPAGE) {
    throw new LoaderError(
      `e820 map has ${map.length} entries; boot_params holds ${E820_MAX_ENTRIES_ZEROPAGE}`,
    );
  }

  // Initrd: as high as allowed, page-aligned, above the kernel.
  let initrd: { address: number; size: number } | undefined;
  if (options.initrd && options.initrd.length > 0) {
    const size = options.initrd.length;
    const top = Math.min(header.initrdAddrMax + 1, target.ramBytes);
    const address = Math.floor((top - size) / PAGE) * PAGE;
    if (address < kernelEnd) {
      throw new LoaderError(
        `initrd of ${hex(size)} bytes does not fit between the kernel's end ${hex(kernelEnd)} and ${hex(top)} ` +
          `(initrd_addr_max ${hex(header.initrdAddrMax)}, RAM ends at ${hex(target.ramBytes)})`,
      );
    }
    initrd = { address, size };
  }

  if (options.acpiRsdpAddress !== undefined) {
    if (header.version < 0x20e) {
      throw new LoaderError("acpi_rsdp_addr needs boot protocol 2.14 or later");
    }
    if (!Number.isSafeInteger(options.acpiRsdpAddress) || options.acpiRsdpAddress < 0) {
      throw new LoaderError(`bad ACPI RSDP address ${String(options.acpiRsdpAddress)}`);
    }
  }

  // boot_params.
  const zeroPage = new Uint8Array(BootParams.SIZE);
  const zp = new DataView(zeroPage.buffer);
  zeroPage.set(image.subarray(SetupHeader.SETUP_SECTS, header.headerEnd), SetupHeader.SETUP_SECTS);
  zeroPage[SetupHeader.TYPE_OF_LOADER] = TYPE_OF_LOADER_UNDEFINED;
  zp.setUint16(SetupHeader.VID_MODE, 0xffff, true); // "normal"
  zp.setUint32(SetupHeader.CODE32_START, loadAddress, true);
  zp.setUint32(SetupHeader.CMD_LINE_PTR, CMDLINE_ADDRESS, true);
  zp.setUint32(SetupHeader.RAMDISK_IMAGE, initrd?.address ?? 0, true);
  zp.setUint32(SetupHeader.RAMDISK_SIZE, initrd?.size ?? 0, true);
  zeroPage[BootParams.E820_ENTRIES] = map.length;
  zeroPage.set(encodeE820Table(map), BootParams.E820_TABLE);
  if (options.acpiRsdpAddress !== undefined) {
    zp.setBigUint64(BootParams.ACPI_RSDP_ADDR, BigInt(options.acpiRsdpAddress), true);
  }

  target.writePhysical(loadAddress, kernel);
  if (kernelEnd > loadAddress + kernel.length) {
    target.writePhysical(
      loadAddress + kernel.length,
      new Uint8Array(kernelEnd - loadAddress - kernel.length),
    );
  }
  if (initrd) target.writePhysical(initrd.address, options.initrd!);
  target.writePhysical(CMDLINE_ADDRESS, cmdlineBytes);
  target.writePhysical(BOOT_PARAMS_ADDRESS, zeroPage);

  const entry = mode === "64" ? loadAddress + 0x200 : loadAddress;
  if (mode === "64") enterLongMode(target, entry, { rsi: BigInt(BOOT_PARAMS_ADDRESS) });
  else enterProtectedMode32(target, entry, { rsi: BigInt(BOOT_PARAMS_ADDRESS) });
  return {
    header,
    loadAddress,
    entry,
    mode,
    bootParamsAddress: BOOT_PARAMS_ADDRESS,
    commandLineAddress: CMDLINE_ADDRESS,
    initrd,
  };
}
