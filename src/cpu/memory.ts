/**
 * Guest physical memory: RAM in two blocks, plus MMIO ranges that the VMM marks and that are
 * forwarded to a handler. Also tracks which physical pages hold decoded code, so that writes
 * can invalidate the decoded-instruction cache (self-modifying code, SDM Vol.3 11.6).
 *
 * The PC memory map puts RAM below the 32-bit PCI hole and the rest at 4 GiB (QEMU's pc and
 * q35 machines; the VMM chooses the split). The low block is one ArrayBuffer from physical 0
 * with typed-array views (`u8`, `view`): the fast paths here, the MMU's users, string
 * instructions and the JIT index it directly when an address is below `size` on a page that
 * is not MMIO. The high block, at HIGH_RAM_BASE (4 GiB), is a list of 1 GiB ArrayBuffers
 * (a Node 20 typed array holds at most 2^32 elements, and a chunk never splits a page); it
 * is only reached through the methods of this class, after the low-RAM check has failed, so
 * the low-RAM paths cost what they did before there was a high block. Addresses backed by
 * neither block nor MMIO read as all-ones (open bus) and ignore writes: the hole between the
 * end of low RAM and 4 GiB, and everything above the high block.
 *
 * Several processors may share one PhysicalMemory (SMP, SDM Vol.3 11.6 "cross-modifying
 * code"): each registers a code-write listener, and codePage counts, per page, how many of
 * them hold decoded code from it. A write by any processor or by the host (write8/16/32,
 * load) to a page with a non-zero count is reported to every listener; one processor
 * dropping its blocks only takes its own count away.
 */

/** A handler for a physical range marked as MMIO. Values are little-endian, size 1, 2 or 4. */
export interface MmioHandler {
  /** Read `size` bytes at physical address `addr`. */
  read(addr: number, size: number): number;
  /** Write `size` bytes at physical address `addr`. */
  write(addr: number, size: number, value: number): void;
}

interface MmioRange {
  start: number;
  end: number;
  handler: MmioHandler;
}

/**
 * Told about a write to a page holding decoded code: the page number and the written byte
 * range within it (offset and length; both omitted = the whole page may have changed).
 */
export type CodeWriteListener = (page: number, offset?: number, length?: number) => void;

/** Page size for code tracking and MMIO granularity. */
export const PAGE_SIZE = 4096;

/** Where the high RAM block starts: 4 GiB, above the 32-bit PCI hole. */
export const HIGH_RAM_BASE = 0x1_0000_0000;

/** Size of one backing buffer of the high block (1 GiB; HIGH_RAM_BASE is a multiple). */
export const HIGH_RAM_CHUNK_BYTES = 0x4000_0000;

/** Largest low block: it must end below the 32-bit PCI hole at 3.75 GiB. */
export const MAX_LOW_RAM_BYTES = 0xf000_0000;

/** Page number of HIGH_RAM_BASE. */
const HIGH_PAGE_BASE = HIGH_RAM_BASE / PAGE_SIZE;

/** Guest physical memory. Addresses are numbers below 2^52. */
export class PhysicalMemory {
  /** Backing store for the low RAM block (physical 0 up to `size`). */
  readonly buffer: ArrayBuffer;
  /** Byte view of the low RAM block. */
  readonly u8: Uint8Array;
  /** Little-endian multi-byte access view of the low RAM block. */
  readonly view: DataView;
  /** Size of the low RAM block in bytes (RAM from physical 0). */
  readonly size: number;
  /** Size of the high RAM block in bytes (RAM from HIGH_RAM_BASE); 0 = none. */
  readonly highSize: number;
  /**
   * Per page of the high block (index = page - HIGH_RAM_BASE / 4096): how many processors
   * hold decoded instructions from it, as codePage for the low block.
   */
  readonly highCodePage: Uint16Array;
  /** Byte views of the high block's 1 GiB chunks, in address order. */
  private readonly highU8: Uint8Array[];
  /** DataViews of the same chunks. */
  private readonly highView: DataView[];
  /** Per-page flag: 1 if the page is (partly) MMIO and must take the slow path. */
  readonly mmioPage: Uint8Array;
  /**
   * Per page: how many processors hold decoded instructions from it (non-zero = writes must
   * be reported through onCodeWrite). Maintained with retainCodePage/releaseCodePage.
   */
  readonly codePage: Uint16Array;
  private readonly ranges: MmioRange[] = [];
  private codeWriteListeners: CodeWriteListener[] = [];
  private fastPathListeners: (() => void)[] = [];

  /**
   * Create `size` bytes of zeroed RAM at physical 0 and `highSize` bytes at HIGH_RAM_BASE
   * (both rounded up to a page). The host zeroes ArrayBuffers lazily: pages the guest never
   * touches cost no resident memory.
   */
  constructor(size: number, highSize = 0) {
    if (!Number.isInteger(size) || size <= 0 || size > MAX_LOW_RAM_BYTES) {
      throw new RangeError(`guest RAM size must be a positive number of bytes below 3.75 GiB, got ${size}`);
    }
    // MAXPHYADDR is 40 (x86/paging.ts): RAM must end below 2^40.
    if (!Number.isInteger(highSize) || highSize < 0 || highSize > 2 ** 40 - HIGH_RAM_BASE) {
      throw new RangeError(
        `high RAM size must be a non-negative number of bytes below 1 TiB, got ${highSize}`,
      );
    }
    this.size = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    this.buffer = new ArrayBuffer(this.size);
    this.u8 = new Uint8Array(this.buffer);
    this.view = new DataView(this.buffer);
    this.mmioPage = new Uint8Array(0x100000);
    this.codePage = new Uint16Array(this.size / PAGE_SIZE);
    this.highSize = Math.ceil(highSize / PAGE_SIZE) * PAGE_SIZE;
    this.highU8 = [];
    this.highView = [];
    for (let at = 0; at < this.highSize; at += HIGH_RAM_CHUNK_BYTES) {
      const buffer = new ArrayBuffer(Math.min(HIGH_RAM_CHUNK_BYTES, this.highSize - at));
      this.highU8.push(new Uint8Array(buffer));
      this.highView.push(new DataView(buffer));
    }
    this.highCodePage = new Uint16Array(this.highSize / PAGE_SIZE);
  }

  /** One past the highest RAM address: the end of the high block, or of the low block. */
  get ramEnd(): number {
    return this.highSize > 0 ? HIGH_RAM_BASE + this.highSize : this.size;
  }

  /** The high block's chunks as byte views, in address order (host use: snapshots). */
  get highChunks(): readonly Uint8Array[] {
    return this.highU8;
  }

  /** True when [addr, addr+length) lies entirely inside one RAM block. */
  isRamRange(addr: number, length: number): boolean {
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(length) || addr < 0 || length < 0) return false;
    if (addr + length <= this.size) return true;
    return addr >= HIGH_RAM_BASE && addr + length <= HIGH_RAM_BASE + this.highSize;
  }

  /**
   * Register `listener` to hear about writes to pages that hold decoded code (each processor
   * over this memory registers one). Returns a function that unregisters it.
   */
  addCodeWriteListener(listener: CodeWriteListener): () => void {
    this.codeWriteListeners = [...this.codeWriteListeners, listener];
    return () => {
      this.codeWriteListeners = this.codeWriteListeners.filter((l) => l !== listener);
    };
  }

  /**
   * Register `listener` to hear when a page stops being plain RAM for the fast paths: it
   * becomes MMIO, or gets decoded code for the first time (writes to it must then reach the
   * code-write listeners). Processors drop their compiled code's fast TLB then (cpu.ts
   * jitReadTag). Returns a function that unregisters it.
   */
  addFastPathListener(listener: () => void): () => void {
    this.fastPathListeners = [...this.fastPathListeners, listener];
    return () => {
      this.fastPathListeners = this.fastPathListeners.filter((l) => l !== listener);
    };
  }

  private fastPathChanged(): void {
    const listeners = this.fastPathListeners;
    for (let n = 0; n < listeners.length; n++) listeners[n]();
  }

  /**
   * Report a write to page `page` (byte range [offset, offset+length) of it; omitted = the
   * whole page) to every listener. Called by the write paths when codePage[page] is non-zero.
   */
  onCodeWrite(page: number, offset?: number, length?: number): void {
    // A listener may register or unregister while we iterate: the array is replaced, not mutated.
    const listeners = this.codeWriteListeners;
    for (let n = 0; n < listeners.length; n++) listeners[n](page, offset, length);
  }

  /** One more processor holds decoded code from `page`. */
  retainCodePage(page: number): void {
    if (page < this.codePage.length) {
      if (this.codePage[page]++ === 0) this.fastPathChanged();
    } else if (page >= HIGH_PAGE_BASE && page - HIGH_PAGE_BASE < this.highCodePage.length)
      this.highCodePage[page - HIGH_PAGE_BASE]++;
  }

  /** One processor no longer holds decoded code from `page` (paired with retainCodePage). */
  releaseCodePage(page: number): void {
    if (page < this.codePage.length) {
      if (this.codePage[page] !== 0) this.codePage[page]--;
    } else if (page >= HIGH_PAGE_BASE && page - HIGH_PAGE_BASE < this.highCodePage.length) {
      if (this.highCodePage[page - HIGH_PAGE_BASE] !== 0) this.highCodePage[page - HIGH_PAGE_BASE]--;
    }
  }

  /** Mark [start, start+length) as MMIO handled by `handler` (page-aligned tracking). */
  addMmio(start: number, length: number, handler: MmioHandler): void {
    this.ranges.push({ start, end: start + length, handler });
    for (let p = Math.floor(start / PAGE_SIZE); p < Math.ceil((start + length) / PAGE_SIZE); p++) {
      if (p < this.mmioPage.length) this.mmioPage[p] = 1;
    }
    this.fastPathChanged();
  }

  /**
   * True when physical page number `page` is plain RAM of the low block, which fast paths may
   * index through `u8`/`view` directly. High-block pages answer false: they take the methods.
   */
  isRamPage(page: number): boolean {
    return page < this.codePage.length && this.mmioPage[page] === 0;
  }

  private findMmio(addr: number): MmioRange | undefined {
    for (const r of this.ranges) if (addr >= r.start && addr < r.end) return r;
    return undefined;
  }

  // High block: [addr, addr+size) in one page of the high block, or -1. The chunk of an
  // address is floor(addr / 1 GiB) - 4 and the offset in it is addr mod 1 GiB: HIGH_RAM_BASE
  // and the chunks are 1 GiB aligned. `& 0x3fffffff` keeps the low bits of any safe integer.
  private highChunk(addr: number, size: number): number {
    const off = addr - HIGH_RAM_BASE;
    if (off < 0 || off + size > this.highSize || (addr & 0xfff) > PAGE_SIZE - size) return -1;
    return Math.floor(off / HIGH_RAM_CHUNK_BYTES);
  }

  /** A write of `size` bytes at high-block address `addr` happened: report it if it hit code. */
  private highWritten(addr: number, size: number): void {
    const page = Math.floor(addr / PAGE_SIZE);
    if (this.highCodePage[page - HIGH_PAGE_BASE] !== 0) this.onCodeWrite(page, addr & 0xfff, size);
  }

  /** Read a byte at any physical address (RAM, MMIO, or open bus 0xFF). */
  read8(addr: number): number {
    if (addr < this.size && this.mmioPage[addr >>> 12] === 0) return this.u8[addr];
    if (addr >= HIGH_RAM_BASE) {
      const c = this.highChunk(addr, 1);
      if (c >= 0) return this.highU8[c][addr & 0x3fffffff];
    }
    const r = this.findMmio(addr);
    if (r) return r.handler.read(addr, 1) & 0xff;
    return 0xff;
  }

  /** Read 2 bytes (may cross pages). */
  read16(addr: number): number {
    if ((addr & 0xfff) <= 0xffe && addr < this.size && this.mmioPage[addr >>> 12] === 0) {
      return this.view.getUint16(addr, true);
    }
    if (addr >= HIGH_RAM_BASE) {
      const c = this.highChunk(addr, 2);
      if (c >= 0) return this.highView[c].getUint16(addr & 0x3fffffff, true);
    }
    const r = this.findMmio(addr);
    if (r && addr + 2 <= r.end) return r.handler.read(addr, 2) & 0xffff;
    return this.read8(addr) | (this.read8(addr + 1) << 8);
  }

  /** Read 4 bytes as an unsigned number (may cross pages). */
  read32(addr: number): number {
    if ((addr & 0xfff) <= 0xffc && addr < this.size && this.mmioPage[addr >>> 12] === 0) {
      return this.view.getUint32(addr, true);
    }
    if (addr >= HIGH_RAM_BASE) {
      const c = this.highChunk(addr, 4);
      if (c >= 0) return this.highView[c].getUint32(addr & 0x3fffffff, true);
    }
    const r = this.findMmio(addr);
    if (r && addr + 4 <= r.end) return r.handler.read(addr, 4) >>> 0;
    return (this.read16(addr) | (this.read16(addr + 2) << 16)) >>> 0;
  }

  /** Write a byte. */
  write8(addr: number, v: number): void {
    if (addr < this.size && this.mmioPage[addr >>> 12] === 0) {
      this.u8[addr] = v;
      if (this.codePage[addr >>> 12] !== 0) this.onCodeWrite(addr >>> 12, addr & 0xfff, 1);
      return;
    }
    if (addr >= HIGH_RAM_BASE) {
      const c = this.highChunk(addr, 1);
      if (c >= 0) {
        this.highU8[c][addr & 0x3fffffff] = v;
        this.highWritten(addr, 1);
        return;
      }
    }
    const r = this.findMmio(addr);
    if (r) r.handler.write(addr, 1, v & 0xff);
  }

  /** Write 2 bytes. */
  write16(addr: number, v: number): void {
    if ((addr & 0xfff) <= 0xffe && addr < this.size && this.mmioPage[addr >>> 12] === 0) {
      this.view.setUint16(addr, v, true);
      if (this.codePage[addr >>> 12] !== 0) this.onCodeWrite(addr >>> 12, addr & 0xfff, 2);
      return;
    }
    if (addr >= HIGH_RAM_BASE) {
      const c = this.highChunk(addr, 2);
      if (c >= 0) {
        this.highView[c].setUint16(addr & 0x3fffffff, v, true);
        this.highWritten(addr, 2);
        return;
      }
    }
    const r = this.findMmio(addr);
    if (r && addr + 2 <= r.end) {
      r.handler.write(addr, 2, v & 0xffff);
      return;
    }
    this.write8(addr, v & 0xff);
    this.write8(addr + 1, (v >>> 8) & 0xff);
  }

  /** Write 4 bytes. */
  write32(addr: number, v: number): void {
    if ((addr & 0xfff) <= 0xffc && addr < this.size && this.mmioPage[addr >>> 12] === 0) {
      this.view.setUint32(addr, v >>> 0, true);
      if (this.codePage[addr >>> 12] !== 0) this.onCodeWrite(addr >>> 12, addr & 0xfff, 4);
      return;
    }
    if (addr >= HIGH_RAM_BASE) {
      const c = this.highChunk(addr, 4);
      if (c >= 0) {
        this.highView[c].setUint32(addr & 0x3fffffff, v >>> 0, true);
        this.highWritten(addr, 4);
        return;
      }
    }
    const r = this.findMmio(addr);
    if (r && addr + 4 <= r.end) {
      r.handler.write(addr, 4, v >>> 0);
      return;
    }
    this.write16(addr, v & 0xffff);
    this.write16(addr + 2, (v >>> 16) & 0xffff);
  }

  /**
   * Copy bytes into RAM (loader use); throws RangeError unless the range lies inside one RAM
   * block (low or high). Pages holding decoded code are reported as written.
   */
  load(addr: number, data: Uint8Array): void {
    if (!this.isRamRange(addr, data.length)) throw this.outsideRam("load", addr, data.length);
    if (addr < this.size) {
      this.u8.set(data, addr);
      for (let p = addr >>> 12; p <= (addr + data.length) >>> 12 && p < this.codePage.length; p++) {
        if (this.codePage[p]) this.onCodeWrite(p);
      }
      return;
    }
    let done = 0;
    while (done < data.length) {
      const at = addr + done;
      const chunk = Math.floor((at - HIGH_RAM_BASE) / HIGH_RAM_CHUNK_BYTES);
      const offset = at & 0x3fffffff;
      const n = Math.min(data.length - done, HIGH_RAM_CHUNK_BYTES - offset);
      this.highU8[chunk].set(data.subarray(done, done + n), offset);
      done += n;
    }
    const first = Math.floor(addr / PAGE_SIZE);
    const last = Math.floor((addr + Math.max(data.length, 1) - 1) / PAGE_SIZE);
    for (let p = first; p <= last; p++) if (this.highCodePage[p - HIGH_PAGE_BASE]) this.onCodeWrite(p);
  }

  /** A copy of `length` bytes of RAM at `addr`; throws RangeError unless inside one RAM block. */
  readBytes(addr: number, length: number): Uint8Array {
    if (!this.isRamRange(addr, length)) throw this.outsideRam("read", addr, length);
    if (addr < this.size) return this.u8.slice(addr, addr + length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const at = addr + done;
      const chunk = Math.floor((at - HIGH_RAM_BASE) / HIGH_RAM_CHUNK_BYTES);
      const offset = at & 0x3fffffff;
      const n = Math.min(length - done, HIGH_RAM_CHUNK_BYTES - offset);
      out.set(this.highU8[chunk].subarray(offset, offset + n), done);
      done += n;
    }
    return out;
  }

  private outsideRam(what: string, addr: number, length: number): RangeError {
    const high =
      this.highSize > 0
        ? ` and ${HIGH_RAM_BASE.toString(16)}h-${(HIGH_RAM_BASE + this.highSize - 1).toString(16)}h`
        : "";
    return new RangeError(
      `cannot ${what} ${length} bytes at ${addr.toString(16)}h: RAM is 0-${(this.size - 1).toString(16)}h${high}`,
    );
  }
}
