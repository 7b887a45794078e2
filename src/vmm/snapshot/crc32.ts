/**
 * CRC-32 as used by zlib, gzip, PNG and Ethernet (ISO-HDLC: reflected polynomial
 * 0xEDB88320, initial value and final XOR 0xFFFFFFFF), computed slicing-by-4, with a fast
 * path for all-zero 4 KiB blocks so that checking a mostly-empty guest RAM image of
 * hundreds of MiB costs little more than reading it. The snapshot format (format.ts)
 * stores one per section; this is not an SDM structure.
 */
import { isZero } from "./pages.js";

/** Reflected form of the CRC-32 generator polynomial 0x04C11DB7. */
const POLYNOMIAL = 0xedb88320;

/** Size of the zero blocks the fast path skips in one step. */
const ZERO_BLOCK = 4096;

/** tables[k][b]: CRC register after byte b followed by k zero bytes (slicing-by-4). */
const TABLES: Uint32Array[] = buildTables();

/**
 * zeroTables[k][b]: the register after ZERO_BLOCK zero bytes, starting from b << 8k. The
 * register update is linear over GF(2) (each table entry is a XOR of shifted polynomials),
 * so the effect of a whole zero block on any register is the XOR of four lookups.
 */
const ZERO_TABLES: Uint32Array[] = buildZeroTables();

function buildTables(): Uint32Array[] {
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? POLYNOMIAL ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  const tables = [t0];
  for (let k = 1; k < 4; k++) {
    const prev = tables[k - 1];
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) t[n] = (t0[prev[n] & 0xff] ^ (prev[n] >>> 8)) >>> 0;
    tables.push(t);
  }
  return tables;
}

function buildZeroTables(): Uint32Array[] {
  const t0 = TABLES[0];
  // The image of each single-bit register after ZERO_BLOCK zero bytes.
  const columns = new Uint32Array(32);
  for (let bit = 0; bit < 32; bit++) {
    let c = (1 << bit) >>> 0;
    for (let i = 0; i < ZERO_BLOCK; i++) c = t0[c & 0xff] ^ (c >>> 8);
    columns[bit] = c >>> 0;
  }
  const tables: Uint32Array[] = [];
  for (let lane = 0; lane < 4; lane++) {
    const t = new Uint32Array(256);
    for (let b = 0; b < 256; b++) {
      let v = 0;
      for (let k = 0; k < 8; k++) if (b & (1 << k)) v ^= columns[lane * 8 + k];
      t[b] = v >>> 0;
    }
    tables.push(t);
  }
  return tables;
}

/** Runs the raw register `c` over bytes start..end-1 of `data` (slicing-by-4). */
function update(c: number, data: Uint8Array, start: number, end: number): number {
  const [t0, t1, t2, t3] = TABLES;
  let i = start;
  const end4 = end - ((end - start) & 3);
  for (; i < end4; i += 4) {
    c ^= data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    c = t3[c & 0xff] ^ t2[(c >>> 8) & 0xff] ^ t1[(c >>> 16) & 0xff] ^ t0[c >>> 24];
  }
  for (; i < end; i++) c = t0[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return c;
}

/**
 * The CRC-32 of `data`, as an unsigned 32-bit number. Pass a previous result as `crc` to
 * continue over data split into pieces: crc32(b, crc32(a)) === crc32(a ++ b).
 */
export function crc32(data: Uint8Array, crc = 0): number {
  const [z0, z1, z2, z3] = ZERO_TABLES;
  let c = ~crc;
  let i = 0;
  for (; i + ZERO_BLOCK <= data.length; i += ZERO_BLOCK) {
    if (isZero(data, i, i + ZERO_BLOCK)) {
      c = z0[c & 0xff] ^ z1[(c >>> 8) & 0xff] ^ z2[(c >>> 16) & 0xff] ^ z3[c >>> 24];
    } else c = update(c, data, i, i + ZERO_BLOCK);
  }
  c = update(c, data, i, data.length);
  return ~c >>> 0;
}
