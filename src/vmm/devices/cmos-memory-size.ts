/**
 * The memory-size bytes of the PC's CMOS, as QEMU's pc machine fills them for its firmware
 * (SeaBIOS reads them to build the e820 map when fw_cfg does not say otherwise):
 *
 * - 15h/16h: base memory in KiB (at most 640);
 * - 17h/18h and 30h/31h: extended memory in KiB above 1 MiB, below 4 GiB, at most 65535;
 * - 34h/35h: memory between 16 MiB and 4 GiB in 64 KiB blocks, at most 65535;
 * - 5Bh/5Ch/5Dh: memory above 4 GiB in 64 KiB blocks (24 bits).
 *
 * RAM is split around the PCI hole as QEMU's i440fx pc machine does (gigabyte-aligned): with
 * 3.5 GiB or more, 3 GiB sit below 4 GiB and the rest above; the caller may give its own split
 * (the board passes the machine's, so q35's 2 GiB / 2.75 GiB split shows here too).
 */

/** Below-4G RAM for `ramBytes` on QEMU's pc machine. */
export function pcLowMemory(ramBytes: number): number {
  return ramBytes >= 0xe000_0000 ? 0xc000_0000 : ramBytes;
}

/** The CMOS bytes (index -> value) describing `ramBytes` of RAM, `below4g` of it under 4 GiB. */
export function memorySizeBytes(ramBytes: number, below4g = pcLowMemory(ramBytes)): Map<number, number> {
  if (!Number.isSafeInteger(ramBytes) || ramBytes < 0 || below4g < 0 || below4g > ramBytes) {
    throw new RangeError(`cmos: bad RAM size ${ramBytes} (below 4 GiB: ${below4g})`);
  }
  const kib = 1024;
  const mib = 1024 * kib;
  const base = Math.min(Math.floor(below4g / kib), 640);
  const extended = Math.min(below4g > mib ? Math.floor((below4g - mib) / kib) : 0, 65535);
  const above16m = Math.min(below4g > 16 * mib ? Math.floor((below4g - 16 * mib) / (64 * kib)) : 0, 65535);
  const above4g = Math.floor((ramBytes - below4g) / (64 * kib));
  const bytes = new Map<number, number>();
  const put = (index: number, value: number, count: number) => {
    for (let n = 0; n < count; n++) bytes.set(index + n, Math.floor(value / 2 ** (8 * n)) & 0xff);
  };
  put(0x15, base, 2);
  put(0x17, extended, 2);
  put(0x30, extended, 2);
  put(0x34, above16m, 2);
  put(0x5b, above4g, 3);
  return bytes;
}
