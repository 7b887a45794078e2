/**
 * Guest physical memory: one ArrayBuffer of RAM with typed-array views, plus MMIO ranges
 * that the VMM marks and that are forwarded to a handler. Also tracks which physical pages
 * hold decoded code, so that writes can invalidate the decoded-instruction cache
 * (self-modifying code, SDM Vol.3 11.6).
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

/** Guest physical memory. Addresses are numbers below 2^52. */
export class PhysicalMemory {
  /** Backing store for RAM. */
  readonly buffer: ArrayBuffer;
  /** Byte view of RAM. */
  readonly u8: Uint8Array;
  /** Little-endian multi-byte access view. */
  readonly view: DataView;
  /** RAM size in bytes. */
  readonly size: number;
  /** Per-page flag: 1 if the page is (partly) MMIO and must take the slow path. */
  readonly mmioPage: Uint8Array;
  /**
   * Per page: how many processors hold decoded instructions from it (non-zero = writes must
   * be reported through onCodeWrite). Maintained with retainCodePage/releaseCodePage.
   */
  readonly codePage: Uint16Array;
  private readonly ranges: MmioRange[] = [];
  private codeWriteListeners: CodeWriteListener[] = [];

  /** Create `size` bytes of zeroed RAM (size rounded up to a page). */
  constructor(size: number) {
    if (!Number.isInteger(size) || size <= 0 || size > 0xf0000000) {
      throw new RangeError(`guest RAM size must be a positive number of bytes below 3.75 GiB, got ${size}`);
    }
    this.size = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    this.buffer = new ArrayBuffer(this.size);
    this.u8 = new Uint8Array(this.buffer);
    this.view = new DataView(this.buffer);
    this.mmioPage = new Uint8Array(0x100000);
    this.codePage = new Uint16Array(this.size / PAGE_SIZE);
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
    if (page < this.codePage.length) this.codePage[page]++;
  }

  /** One processor no longer holds decoded code from `page` (paired with retainCodePage). */
  releaseCodePage(page: number): void {
    if (page < this.codePage.length && this.codePage[page] !== 0) this.codePage[page]--;
  }

  /** Mark [start, start+length) as MMIO handled by `handler` (page-aligned tracking). */
  addMmio(start: number, length: number, handler: MmioHandler): void {
    this.ranges.push({ start, end: start + length, handler });
    for (let p = Math.floor(start / PAGE_SIZE); p < Math.ceil((start + length) / PAGE_SIZE); p++) {
      if (p < this.mmioPage.length) this.mmioPage[p] = 1;
    }
  }

  /** True when physical page number `page` is plain RAM (fast path allowed). */
  isRamPage(page: number): boolean {
    return page < this.codePage.length && this.mmioPage[page] === 0;
  }

  private findMmio(addr: number): MmioRange | undefined {
    for (const r of this.ranges) if (addr >= r.start && addr < r.end) return r;
    return undefined;
  }

  /** Read a byte at any physical address (RAM, MMIO, or open bus 0xFF). */
  read8(addr: number): number {
    if (addr < this.size && this.mmioPage[addr >>> 12] === 0) return this.u8[addr];
    const r = this.findMmio(addr);
    if (r) return r.handler.read(addr, 1) & 0xff;
    return 0xff;
  }

  /** Read 2 bytes (may cross pages). */
  read16(addr: number): number {
    if ((addr & 0xfff) <= 0xffe && addr < this.size && this.mmioPage[addr >>> 12] === 0) {
      return this.view.getUint16(addr, true);
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
    const r = this.findMmio(addr);
    if (r && addr + 4 <= r.end) {
      r.handler.write(addr, 4, v >>> 0);
      return;
    }
    this.write16(addr, v & 0xffff);
    this.write16(addr + 2, (v >>> 16) & 0xffff);
  }

  /** Copy bytes into RAM (loader use); throws if outside RAM. */
  load(addr: number, data: Uint8Array): void {
    if (addr < 0 || addr + data.length > this.size) {
      throw new RangeError(
        `cannot load ${data.length} bytes at ${addr.toString(16)}h: RAM is ${this.size.toString(16)}h bytes`,
      );
    }
    this.u8.set(data, addr);
    for (let p = addr >>> 12; p <= (addr + data.length) >>> 12 && p < this.codePage.length; p++) {
      if (this.codePage[p]) this.onCodeWrite(p);
    }
  }
}
