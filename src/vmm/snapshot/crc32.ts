/**
 * CRC-32 as used by zlib, gzip, PNG and Ethernet (ISO-HDLC: reflected polynomial
 * 0xEDB88320, initial value and final XOR 0xFFFFFFFF), computed slicing-by-4 so that
 * checking a guest RAM image of hundreds of MiB stays well under a second.
 * The snapshot format (format.ts) stores one per section; this is not an SDM structure.
 */

/** Reflected form of the CRC-32 generator polynomial 0x04C11DB7. */
const POLYNOMIAL = 0xedb88320;

/** tables[k][b]: CRC of byte b followed by k zero bytes (slicing-by-4). */
const TABLES: Uint32Array[] = buildTables();

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

/**
 * The CRC-32 of `data`, as an unsigned 32-bit number. Pass a previous result as `crc` to
 * continue over data split into pieces: crc32(b, crc32(a)) === crc32(a ++ b).
 */
export function crc32(data: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3] = TABLES;
  let c = ~crc;
  let i = 0;
  const end4 = data.length - (data.length & 3);
  for (; i < end4; i += 4) {
    c ^= data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    c = t3[c & 0xff] ^ t2[(c >>> 8) & 0xff] ^ t1[(c >>> 16) & 0xff] ^ t0[c >>> 24];
  }
  for (; i < data.length; i++) c = t0[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
