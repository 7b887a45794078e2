/**
 * Flat (raw binary) images: no header, bytes copied as they are.
 *
 * `loadFlatBios` places a firmware image so that it ends at 1 MiB (at most 128 KiB, so
 * inside E0000H-FFFFFH) and starts the vCPU at its reset vector, the image's last 16 bytes.
 * A PC maps its BIOS ROM just below 4 GiB, where the processor's first fetch goes (CS.base
 * FFFF0000H + IP FFF0H = FFFFFFF0H, SDM Vol.3 9.1.4), and aliases its last 128 KiB below
 * 1 MiB; QEMU maps it at both places. pinvm's RAM cannot reach 4 GiB, so it maps only the
 * copy below 1 MiB (in RAM, writable: no shadowing control) and starts the vCPU in the RESET
 * state except CS.base = F0000H: CS:IP = F000:FFF0 then fetches from FFFF0H, the same bytes
 * a real PC would fetch at FFFFFFF0H, and the first far jump (which loads CS.base = F0000H
 * from selector F000H anyway) continues exactly as on a PC. Code that uses the
 * 4-GiB-relative address of the ROM (e.g. a 32-bit jump to FFFFxxxxH) does not work.
 *
 * `loadFlatBinary` copies an image to a chosen address and enters it in real mode (CS:IP
 * derived from the entry address, below 1 MiB) or in 32-bit flat protected mode.
 */
import {
  LEGACY_HOLE,
  LoaderError,
  checkRange,
  enterProtectedMode32,
  enterRealMode,
  hex,
  type BootTarget,
} from "./common.js";

/** Largest BIOS image: the 128 KiB window E0000H-FFFFFH below 1 MiB. */
export const FLAT_BIOS_MAX_BYTES = 0x2_0000;

/** End of the BIOS image (1 MiB). */
export const FLAT_BIOS_END = 0x10_0000;

/** Reset vector: CS selector F000H, IP FFF0H. */
export const RESET_VECTOR = { cs: 0xf000, ip: 0xfff0 } as const;

/** Where a flat image went and where it starts. */
export interface FlatBootInfo {
  /** Guest-physical load address. */
  address: number;
  /** Bytes loaded. */
  size: number;
  /** Linear address of the first instruction. */
  entry: number;
  /** Entry mode. */
  mode: "real" | "protected32";
  /** Real-mode entry CS:IP, when mode is "real". */
  csIp?: { cs: number; ip: number };
}

/**
 * Loads a BIOS image ending at 1 MiB and starts the vCPU at F000:FFF0 (CS.base F0000H).
 * Throws LoaderError for an empty or too large image or RAM below 1 MiB.
 */
export function loadFlatBios(target: BootTarget, image: Uint8Array): FlatBootInfo {
  if (image.length === 0) throw new LoaderError("flat BIOS image is empty");
  if (image.length > FLAT_BIOS_MAX_BYTES) {
    throw new LoaderError(
      `flat BIOS image is ${hex(image.length)} bytes; at most ${hex(FLAT_BIOS_MAX_BYTES)} fit below 1 MiB`,
    );
  }
  const address = FLAT_BIOS_END - image.length;
  checkRange("BIOS image", address, image.length, target, []);
  target.writePhysical(address, image);
  enterRealMode(target, RESET_VECTOR.cs, RESET_VECTOR.ip);
  return {
    address,
    size: image.length,
    entry: RESET_VECTOR.cs * 16 + RESET_VECTOR.ip,
    mode: "real",
    csIp: { ...RESET_VECTOR },
  };
}

/** Options of loadFlatBinary. */
export interface FlatBinaryOptions {
  /** Guest-physical load address. */
  address: number;
  /** Entry address (default: the load address); must be inside the loaded bytes. */
  entry?: number;
  /** "real": real mode, entry below 1 MiB; "protected32": 32-bit flat protected mode. */
  mode: "real" | "protected32";
}

/**
 * Copies `image` to `options.address` and starts the vCPU at its entry. Real mode: CS =
 * (entry >> 4) & F000H, IP = entry & FFFFH, the rest as after RESET. Protected mode: the
 * state of common.ts's enterProtectedMode32. Throws LoaderError for a range outside RAM or
 * overlapping the legacy hole, or an entry outside the image.
 */
export function loadFlatBinary(
  target: BootTarget,
  image: Uint8Array,
  options: FlatBinaryOptions,
): FlatBootInfo {
  const { address, mode } = options;
  if (image.length === 0) throw new LoaderError("flat image is empty");
  if (mode !== "real" && mode !== "protected32") throw new LoaderError(`unknown entry mode ${String(mode)}`);
  checkRange("flat image", address, image.length, target, [LEGACY_HOLE]);
  const entry = options.entry ?? address;
  if (!Number.isInteger(entry) || entry < address || entry >= address + image.length) {
    throw new LoaderError(
      `entry ${hex(entry)} is not inside the image ${hex(address)}..${hex(address + image.length)}`,
    );
  }
  if (mode === "real" && entry >= 0x10_0000) {
    throw new LoaderError(`real-mode entry ${hex(entry)} is not below 1 MiB`);
  }
  target.writePhysical(address, image);
  if (mode === "real") {
    const csIp = { cs: (entry >>> 4) & 0xf000, ip: entry & 0xffff };
    enterRealMode(target, csIp.cs, csIp.ip);
    return { address, size: image.length, entry, mode, csIp };
  }
  enterProtectedMode32(target, entry);
  return { address, size: image.length, entry, mode };
}
