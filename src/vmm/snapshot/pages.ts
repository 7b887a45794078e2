/**
 * Zero-page elision for binary snapshot sections. Guest RAM is mostly pages the guest never
 * touched; the elided form keeps only the pages holding a non-zero byte, so DEFLATE (and
 * the CRC) has little to chew on. Layout of the elided form of D data bytes, P = ceil(D /
 * PAGE_BYTES) pages:
 *
 * ```
 * ceil(P / 8) bytes  page map: bit i (byte i >> 3, bit i & 7, least significant first)
 *                    set = page i is stored; bits past P are 0
 * then               the stored pages in ascending order, each PAGE_BYTES long except the
 *                    last page of the data, which is D - (P - 1) * PAGE_BYTES long
 * ```
 *
 * Pages are the 4 KiB pages of x86 paging (SDM Vol.3 4.3), which is what a guest touches.
 */

/** Page size of the elided form. */
export const PAGE_BYTES = 4096;

/** True if bytes start..end-1 of `data` are all zero (word-wise when aligned). */
export function isZero(data: Uint8Array, start: number, end: number): boolean {
  let i = start;
  if (((data.byteOffset + i) & 3) === 0) {
    const words = new Uint32Array(data.buffer, data.byteOffset + i, (end - i) >>> 2);
    for (let w = 0; w < words.length; w++) if (words[w] !== 0) return false;
    i += words.length << 2;
  }
  for (; i < end; i++) if (data[i] !== 0) return false;
  return true;
}

/** Length of the page map for `dataLength` bytes. */
export function pageMapBytes(dataLength: number): number {
  return Math.ceil(Math.ceil(dataLength / PAGE_BYTES) / 8);
}

/** The elided form of `data` (see the module comment). */
export function elideZeroPages(data: Uint8Array): Uint8Array {
  const pages = Math.ceil(data.length / PAGE_BYTES);
  const mapBytes = pageMapBytes(data.length);
  const stored: number[] = [];
  let storedBytes = 0;
  for (let p = 0; p < pages; p++) {
    const start = p * PAGE_BYTES;
    const end = Math.min(start + PAGE_BYTES, data.length);
    if (!isZero(data, start, end)) {
      stored.push(p);
      storedBytes += end - start;
    }
  }
  const out = new Uint8Array(mapBytes + storedBytes);
  let at = mapBytes;
  for (const p of stored) {
    out[p >>> 3] |= 1 << (p & 7);
    const page = data.subarray(p * PAGE_BYTES, Math.min((p + 1) * PAGE_BYTES, data.length));
    out.set(page, at);
    at += page.length;
  }
  return out;
}

/**
 * The `dataLength` bytes whose elided form is `elided`, or a string saying why `elided` is
 * not one (a set bit past the last page, or a length that does not match the page map).
 */
export function restoreZeroPages(elided: Uint8Array, dataLength: number): Uint8Array | string {
  const pages = Math.ceil(dataLength / PAGE_BYTES);
  const mapBytes = pageMapBytes(dataLength);
  if (elided.length < mapBytes) return `the page map needs ${mapBytes} bytes but there are ${elided.length}`;
  let expected = mapBytes;
  for (let p = 0; p < mapBytes * 8; p++) {
    if ((elided[p >>> 3] & (1 << (p & 7))) === 0) continue;
    if (p >= pages) return `the page map marks page ${p}, past the last page ${pages - 1}`;
    expected += Math.min(PAGE_BYTES, dataLength - p * PAGE_BYTES);
  }
  if (elided.length !== expected) {
    return `the page map accounts for ${expected - mapBytes} bytes of pages but ${elided.length - mapBytes} follow it`;
  }
  const out = new Uint8Array(dataLength);
  let at = mapBytes;
  for (let p = 0; p < pages; p++) {
    if ((elided[p >>> 3] & (1 << (p & 7))) === 0) continue;
    const length = Math.min(PAGE_BYTES, dataLength - p * PAGE_BYTES);
    out.set(elided.subarray(at, at + length), p * PAGE_BYTES);
    at += length;
  }
  return out;
}
