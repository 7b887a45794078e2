/**
 * Tests of the snapshot file format (src/vmm/snapshot): CRC-32 against the published
 * check values, exact round trips (random RAM, bigints), the documented byte layout (a
 * file built here by hand from the layout in format.ts decodes), and refusal of every kind
 * of damage with the SnapshotError that names it: flipped bytes in each region,
 * truncation at every length, wrong magic, future version, missing sections, a machine
 * that does not match.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateSync } from "fflate";
import { crc32 } from "../../src/vmm/snapshot/crc32.js";
import { elideZeroPages, restoreZeroPages } from "../../src/vmm/snapshot/pages.js";
import { SnapshotError } from "../../src/vmm/snapshot/errors.js";
import {
  decodeSnapshot,
  encodeSnapshot,
  SNAPSHOT_FORMAT_VERSION,
  type SnapshotContents,
} from "../../src/vmm/snapshot/format.js";
import type { SnapshotValue } from "../../src/vmm/snapshot/json-value.js";

const MiB = 2 ** 20;
const text = new TextEncoder();

/** Deterministic pseudo-random bytes (xorshift32), so a failure can be reproduced. */
function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** RAM of `size` bytes, zero except `pages` random 4 KiB pages at pseudo-random places. */
function sparseRam(size: number, pages: number, seed: number): Uint8Array {
  const ram = new Uint8Array(size);
  const picks = randomBytes(pages * 4, seed);
  const view = new DataView(picks.buffer);
  for (let i = 0; i < pages; i++) {
    const page = view.getUint32(i * 4, true) % (size / 4096);
    ram.set(randomBytes(4096, seed + i + 1), page * 4096);
  }
  return ram;
}

const VCPU0: SnapshotValue = {
  version: 1,
  regs: { rax: 0n, rbx: 0xffff_ffff_ffff_ffffn, rip: 0xfff0n, rsp: 0x8000_0000_0000_0000n },
  msrs: [
    [0xc0000080, 0x500n],
    [0x4b564d0c, 0x300800n],
  ],
  negative: -1n,
  wide: 2n ** 100n + 7n,
  fraction: 0.1,
  big: 1e300,
  minus: -42,
  name: 'vcpu0 ✓ \u0000 "quoted"',
  halted: false,
  pending: null,
  empty: {},
  none: [],
};

function smallSnapshot(): SnapshotContents {
  return {
    pinvmVersion: "0.1.0",
    machine: { memoryBytes: 64 * 1024, vcpuCount: 1, crPin: "jun2020" },
    json: { vcpu0: VCPU0, "devices/serial0": { version: 1, lcr: 3, fifo: [65, 66] } },
    binary: { ram: sparseRam(64 * 1024, 3, 7) },
  };
}

/** Calls decode and returns the SnapshotError it must throw. */
function refusal(bytes: Uint8Array, expect?: Parameters<typeof decodeSnapshot>[1]): SnapshotError {
  try {
    decodeSnapshot(bytes, expect);
  } catch (e) {
    assert.ok(e instanceof SnapshotError, `expected a SnapshotError, got ${String(e)}`);
    return e;
  }
  assert.fail("decodeSnapshot accepted a bad snapshot");
}

// ------------------------------------------------------------------------------- CRC-32

test("crc32: the CRC-32/ISO-HDLC check values", () => {
  assert.equal(crc32(text.encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32(text.encode("The quick brown fox jumps over the lazy dog")), 0x414fa339);
  assert.equal(crc32(new Uint8Array(32)), 0x190a55ad);
});

/** Bit-at-a-time CRC-32 straight from the definition (reflected 0xEDB88320, init and xorout ~0). */
function crc32Bitwise(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

test("crc32: zero blocks (the fast path), mixed and unaligned data agree with the bitwise definition", () => {
  const zeros = new Uint8Array(3 * 4096 + 5);
  assert.equal(crc32(zeros), crc32Bitwise(zeros));
  const mixed = new Uint8Array(5 * 4096 + 77);
  mixed.set(randomBytes(4096, 1), 4096);
  mixed.set(randomBytes(100, 2), 3 * 4096 + 10);
  mixed[5 * 4096 + 76] = 1;
  assert.equal(crc32(mixed), crc32Bitwise(mixed));
  for (const offset of [1, 2, 3, 4095]) {
    const view = mixed.subarray(offset);
    assert.equal(crc32(view), crc32Bitwise(view), `byteOffset ${offset}`);
  }
});

test("crc32: continuing over pieces equals one pass, at every split point", () => {
  const data = randomBytes(37, 99);
  const whole = crc32(data);
  for (let i = 0; i <= data.length; i++) {
    assert.equal(crc32(data.subarray(i), crc32(data.subarray(0, i))), whole, `split at ${i}`);
  }
});

// ------------------------------------------------------------------------------ round trip

test("round trip: sparse RAM, JSON sections with bigints of every size and sign", () => {
  const s = smallSnapshot();
  const back = decodeSnapshot(encodeSnapshot(s), { json: ["vcpu0", "devices/serial0"] });
  assert.deepEqual(back, s);
  // A file read with fs.readFileSync is a Buffer, often at an odd offset of a shared pool.
  const pooled = Buffer.concat([Buffer.from([1, 2, 3]), encodeSnapshot(s)]).subarray(3);
  assert.deepEqual(decodeSnapshot(pooled), s);
  const regs = (back.json.vcpu0 as { regs: Record<string, bigint> }).regs;
  assert.equal(typeof regs.rbx, "bigint");
  assert.equal(regs.rbx, 2n ** 64n - 1n);
});

test("round trip: dense random RAM (incompressible) and an extra binary section", () => {
  const s: SnapshotContents = {
    pinvmVersion: "0.1.0-test",
    machine: { memoryBytes: 2 * MiB, vcpuCount: 2, crPin: "off" },
    json: { vcpu0: { rip: 1n }, vcpu1: { rip: 2n } },
    binary: { ram: randomBytes(2 * MiB, 12345), "vga/vram": new Uint8Array(0) },
  };
  const bytes = encodeSnapshot(s, { level: 1 });
  const back = decodeSnapshot(bytes, { memoryBytes: 2 * MiB, vcpuCount: 2, crPin: "off" });
  assert.deepEqual(back, s);
});

test("round trip: a 128 MiB mostly-zero RAM compresses to well under 1 MiB", () => {
  const ram = sparseRam(128 * MiB, 32, 3);
  ram.set(text.encode("guest kernel text"), 0x100000);
  const s: SnapshotContents = {
    pinvmVersion: "0.1.0",
    machine: { memoryBytes: 128 * MiB, vcpuCount: 1, crPin: "rfc2019" },
    json: { vcpu0: VCPU0 },
    binary: { ram },
  };
  const bytes = encodeSnapshot(s);
  assert.ok(bytes.length < 512 * 1024, `snapshot is ${bytes.length} bytes`);
  const back = decodeSnapshot(bytes, { memoryBytes: 128 * MiB });
  assert.equal(crc32(back.binary.ram), crc32(ram));
  assert.equal(back.binary.ram.length, 128 * MiB);

  const e = refusal(bytes, { memoryBytes: 64 * MiB });
  assert.equal(e.reason, "mismatch");
  assert.equal(e.message, "snapshot does not fit this machine: RAM size 128 MiB but this machine has 64 MiB");
});

// -------------------------------------------------------------------------------- layout

/** A section as the hand-built writer below lays it out. */
interface RawSection {
  name: string;
  kind: number;
  compression: number;
  data: Uint8Array;
  stored?: Uint8Array;
  reserved?: number;
  dataLength?: number;
}

/** A snapshot file written from the documented layout, independently of encodeSnapshot. */
function buildFile(options: {
  version?: number;
  header?: unknown;
  sections: RawSection[];
  end?: string;
}): Uint8Array {
  const parts: Uint8Array[] = [];
  const u = (size: number, value: number | bigint): Uint8Array => {
    const b = new Uint8Array(size);
    const v = new DataView(b.buffer);
    if (size === 2) v.setUint16(0, Number(value), true);
    if (size === 4) v.setUint32(0, Number(value), true);
    if (size === 8) v.setBigUint64(0, BigInt(value), true);
    return b;
  };
  const concat = (list: Uint8Array[]): Uint8Array => {
    const out = new Uint8Array(list.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of list) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  const headerJson = text.encode(
    JSON.stringify(
      options.header ?? {
        pinvmVersion: "9.9.9",
        machine: { memoryBytes: 4096, vcpuCount: 1, crPin: "off" },
        sectionCount: options.sections.length,
      },
    ),
  );
  const head = concat([
    text.encode("PINVMSNP"),
    u(4, options.version ?? 1),
    u(4, headerJson.length),
    headerJson,
  ]);
  parts.push(head, u(4, crc32(head)));
  for (const s of options.sections) {
    const stored = s.stored ?? (s.compression === 1 ? deflateSync(s.data) : s.data);
    const name = text.encode(s.name);
    const descriptor = concat([
      u(2, name.length),
      name,
      Uint8Array.of(s.kind, s.compression),
      u(2, s.reserved ?? 0),
      u(8, stored.length),
      u(8, s.dataLength ?? s.data.length),
      u(4, crc32(s.data)),
      u(4, crc32(stored)),
    ]);
    parts.push(descriptor, u(4, crc32(descriptor)), stored);
  }
  parts.push(text.encode(options.end ?? "PINVMEND"));
  return concat(parts);
}

const RAM_4K = randomBytes(4096, 5);

/** The documented zero-page form of: page 0 random, page 1 zero, a 100-byte page 2. */
function threePages(): { data: Uint8Array; elided: Uint8Array } {
  const page0 = randomBytes(4096, 11);
  const page2 = randomBytes(100, 12);
  const data = new Uint8Array(2 * 4096 + 100);
  data.set(page0, 0);
  data.set(page2, 2 * 4096);
  const elided = new Uint8Array(1 + 4096 + 100);
  elided[0] = 0b101; // pages 0 and 2 stored
  elided.set(page0, 1);
  elided.set(page2, 1 + 4096);
  return { data, elided };
}

test("pages: zero-page elision keeps exactly the non-zero pages and restores every length", () => {
  const { data, elided } = threePages();
  assert.deepEqual(elideZeroPages(data), elided);
  assert.deepEqual(restoreZeroPages(elided, data.length), data);
  for (const length of [0, 1, 4095, 4096, 4097, 3 * 4096 + 100]) {
    const sample = new Uint8Array(length);
    if (length > 0) sample[length - 1] = 0xaa;
    if (length > 4096) sample[17] = 1;
    const form = elideZeroPages(sample);
    assert.deepEqual(restoreZeroPages(form, length), sample, `length ${length}`);
  }
  assert.equal(restoreZeroPages(Uint8Array.of(0b10), 100), "the page map marks page 1, past the last page 0");
  assert.equal(
    restoreZeroPages(new Uint8Array([1, ...new Uint8Array(50)]), 100),
    "the page map accounts for 100 bytes of pages but 50 follow it",
  );
  assert.equal(restoreZeroPages(new Uint8Array(0), 100), "the page map needs 1 bytes but there are 0");
});

test("layout: a file built by hand from the documented layout decodes", () => {
  const file = buildFile({
    sections: [
      { name: "vcpu0", kind: 1, compression: 0, data: text.encode('{"rip":{"$bigint":"0xfff0"},"a":[1,2]}') },
      { name: "ram", kind: 2, compression: 1, data: RAM_4K },
      { name: "note", kind: 1, compression: 1, data: text.encode('"compressed JSON is fine too"') },
      {
        name: "pages",
        kind: 2,
        compression: 2,
        data: threePages().data,
        stored: deflateSync(threePages().elided),
      },
    ],
  });
  const s = decodeSnapshot(file);
  assert.equal(s.pinvmVersion, "9.9.9");
  assert.deepEqual(s.machine, { memoryBytes: 4096, vcpuCount: 1, crPin: "off" });
  assert.deepEqual(s.json, { vcpu0: { rip: 0xfff0n, a: [1, 2] }, note: "compressed JSON is fine too" });
  assert.deepEqual(s.binary.ram, RAM_4K);
  assert.deepEqual(s.binary.pages, threePages().data);
});

test("layout: encodeSnapshot writes magic, version 1, the bigint JSON form and the end marker", () => {
  const bytes = encodeSnapshot(smallSnapshot());
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  assert.equal(String.fromCharCode(...bytes.subarray(0, 8)), "PINVMSNP");
  assert.equal(view.getUint32(8, true), 1);
  assert.equal(
    SNAPSHOT_FORMAT_VERSION,
    2,
    "the newest version; files without RAM above 4 GiB stay version 1",
  );
  const headerLength = view.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLength)));
  assert.deepEqual(header, {
    pinvmVersion: "0.1.0",
    machine: { memoryBytes: 65536, vcpuCount: 1, crPin: "jun2020" },
    sectionCount: 3,
  });
  assert.equal(view.getUint32(16 + headerLength, true), crc32(bytes.subarray(0, 16 + headerLength)));
  assert.equal(String.fromCharCode(...bytes.subarray(bytes.length - 8)), "PINVMEND");
  const all = new TextDecoder("latin1").decode(bytes);
  assert.ok(all.includes('"rbx":{"$bigint":"0xffffffffffffffff"}'), "u64 max as hex text");
  assert.ok(all.includes('"negative":{"$bigint":"-0x1"}'));
});

// ---------------------------------------------------------------------------- corruption

/** [start, end) of each region of a file, found by walking the documented layout. */
function regions(bytes: Uint8Array): { name: string; start: number; end: number; message: RegExp }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const headerLength = view.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLength)));
  const out = [
    { name: "magic", start: 0, end: 8, message: /^not a pinvm snapshot: it starts with / },
    { name: "format version", start: 8, end: 12, message: /^CRC mismatch in the snapshot header / },
    { name: "header length", start: 12, end: 16, message: /header/ },
    { name: "header", start: 16, end: 16 + headerLength, message: /^CRC mismatch in the snapshot header / },
    {
      name: "header CRC",
      start: 16 + headerLength,
      end: 20 + headerLength,
      message: /^CRC mismatch in the snapshot header /,
    },
  ];
  let at = 20 + headerLength;
  for (let i = 0; i < header.sectionCount; i++) {
    const nameLength = view.getUint16(at, true);
    const name = String.fromCharCode(...bytes.subarray(at + 2, at + 2 + nameLength));
    const storedLength = Number(view.getBigUint64(at + 2 + nameLength + 4, true));
    const descriptorEnd = at + 2 + nameLength + 32;
    const label = `section ${i + 1} of ${header.sectionCount}`;
    out.push({
      name: `descriptor of ${name}`,
      start: at,
      end: descriptorEnd,
      message: new RegExp(`(CRC mismatch in|truncated at byte \\d+:) the descriptor of ${label}`),
    });
    out.push({
      name: `data of ${name}`,
      start: descriptorEnd,
      end: descriptorEnd + storedLength,
      message: new RegExp(`^CRC mismatch in section "${name.replace("/", "\\/")}" \\(stored bytes`),
    });
    at = descriptorEnd + storedLength;
  }
  out.push({ name: "end marker", start: at, end: at + 8, message: /^snapshot end marker at byte \d+ is / });
  assert.equal(at + 8, bytes.length, "the regions cover the whole file");
  return out;
}

test("corruption: a flipped byte anywhere is refused with the message naming its region", () => {
  const bytes = encodeSnapshot(smallSnapshot());
  const found = regions(bytes);
  assert.deepEqual(
    found.map((r) => r.name),
    [
      "magic",
      "format version",
      "header length",
      "header",
      "header CRC",
      "descriptor of vcpu0",
      "data of vcpu0",
      "descriptor of devices/serial0",
      "data of devices/serial0",
      "descriptor of ram",
      "data of ram",
      "end marker",
    ],
  );
  for (const region of found) {
    const length = region.end - region.start;
    // every byte of small regions, 64 spread over large ones; every bit pattern once
    const step = Math.max(1, Math.floor(length / 64));
    for (let offset = region.start; offset < region.end; offset += step) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = bytes.slice();
        bad[offset] ^= mask;
        const e = refusal(bad);
        assert.match(e.message, region.message, `${region.name}: byte ${offset} ^ 0x${mask.toString(16)}`);
      }
    }
  }
});

test("corruption: truncation at every length is refused as truncated at that byte", () => {
  const bytes = encodeSnapshot(smallSnapshot());
  for (let length = 0; length < bytes.length; length++) {
    const e = refusal(bytes.subarray(0, length));
    assert.equal(e.reason, "truncated", `length ${length}: ${e.message}`);
    assert.equal(e.offset, length);
    assert.ok(e.message.startsWith(`snapshot truncated at byte ${length}: `), e.message);
  }
  const e = refusal(bytes.subarray(0, 20));
  assert.match(e.message, /^snapshot truncated at byte 20: the header needs bytes 16\.\.\d+$/);
  const ramTail = refusal(bytes.subarray(0, bytes.length - 9));
  assert.match(ramTail.message, /: the data of section "ram" needs bytes \d+\.\.\d+$/);
  const end = refusal(bytes.subarray(0, bytes.length - 1));
  assert.match(end.message, /: the end marker needs bytes \d+\.\.\d+$/);
});

test("corruption: wrong magic and foreign files", () => {
  for (const [file, shown] of [
    [text.encode("PINVMSNQ and more"), '"PINVMSNQ"'],
    [Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0), '"\\x89PNG\\x0d\\x0a\\x1a\\x0a"'],
    [text.encode("hi"), '"hi"'],
  ] as const) {
    const e = refusal(file);
    assert.equal(e.reason, "magic");
    assert.equal(e.message, `not a pinvm snapshot: it starts with ${shown}, not "PINVMSNP"`);
  }
});

test("version: a future or unknown format version is refused, naming both versions", () => {
  const future = refusal(
    buildFile({ version: 3, sections: [{ name: "ram", kind: 2, compression: 1, data: RAM_4K }] }),
  );
  assert.equal(future.reason, "version");
  assert.equal(
    future.message,
    "snapshot made by an incompatible version: format version 3 (written by pinvm 9.9.9, newer than this one); this pinvm reads format versions 1 to 2",
  );
  const zero = refusal(buildFile({ version: 0, header: "not even an object", sections: [] }));
  assert.equal(
    zero.message,
    "snapshot made by an incompatible version: format version 0 (written by another pinvm); this pinvm reads format versions 1 to 2",
  );
});

test("sections: missing required sections, wrong kinds, and RAM by default", () => {
  const bytes = encodeSnapshot(smallSnapshot());
  const missing = refusal(bytes, { json: ["vcpu0", "vcpu1"] });
  assert.equal(missing.reason, "missing-section");
  assert.equal(missing.section, "vcpu1");
  assert.equal(missing.message, 'snapshot has no section "vcpu1" (required JSON section)');
  assert.equal(
    refusal(bytes, { binary: ["vcpu0"] }).message,
    'snapshot section "vcpu0" is JSON, but a binary section is required',
  );
  assert.equal(
    refusal(bytes, { json: ["ram"] }).message,
    'snapshot section "ram" is binary, but a JSON section is required',
  );

  const noRam = { ...smallSnapshot(), binary: {} };
  assert.equal(
    refusal(encodeSnapshot(noRam)).message,
    'snapshot has no section "ram" (required binary section)',
  );
  assert.deepEqual(decodeSnapshot(encodeSnapshot(noRam), { binary: [] }).binary, {});
});

test("mismatch: vCPU count and pinning profile are refused with both values", () => {
  const bytes = encodeSnapshot(smallSnapshot());
  const vcpus = refusal(bytes, { vcpuCount: 2 });
  assert.equal(vcpus.reason, "mismatch");
  assert.equal(
    vcpus.message,
    "snapshot does not fit this machine: taken with 1 vCPU(s) but this machine has 2",
  );
  assert.equal(
    refusal(bytes, { crPin: "off" }).message,
    'snapshot does not fit this machine: taken with CR pinning profile "jun2020" but this machine uses "off"',
  );
  assert.equal(
    refusal(bytes, { memoryBytes: 128 * 1024 }).message,
    "snapshot does not fit this machine: RAM size 64 KiB but this machine has 128 KiB",
  );
  assert.deepEqual(decodeSnapshot(bytes, { memoryBytes: 65536, vcpuCount: 1, crPin: "jun2020" }).machine, {
    memoryBytes: 65536,
    vcpuCount: 1,
    crPin: "jun2020",
  });
});

test("malformed but CRC-consistent files are refused, naming the field", () => {
  const ram = { name: "ram", kind: 2, compression: 1, data: RAM_4K };
  const machine = { memoryBytes: 4096, vcpuCount: 1, crPin: "off" };
  const cases: [Uint8Array, RegExp][] = [
    [buildFile({ sections: [ram, ram] }), /^section "ram" \(section 2 of 2, byte \d+\): appears twice$/],
    [buildFile({ sections: [{ ...ram, kind: 3 }] }), /: unknown section kind 3$/],
    [buildFile({ sections: [{ ...ram, compression: 3 }] }), /: unknown compression method 3$/],
    [buildFile({ sections: [{ ...ram, reserved: 1 }] }), /: reserved field is 1, not 0$/],
    [
      buildFile({ sections: [{ ...ram, name: "bad name" }] }),
      /^section "bad name" .*: invalid section name$/,
    ],
    [
      buildFile({ sections: [ram, { name: "x", kind: 2, compression: 0, data: RAM_4K, dataLength: 4095 }] }),
      /^section "x" .*: stored without compression, but stored length 4096 differs from data length 4095$/,
    ],
    [
      buildFile({ sections: [ram, { name: "x", kind: 2, compression: 1, data: RAM_4K, dataLength: 100 }] }),
      /^section "x" .*: decompresses to more than the 100 bytes the descriptor allows$/,
    ],
    [
      buildFile({ sections: [ram, { name: "x", kind: 2, compression: 1, data: RAM_4K, dataLength: 5000 }] }),
      /^section "x" .*: decompresses to 4096 bytes, but the descriptor says 5000$/,
    ],
    [
      buildFile({ sections: [{ ...ram, stored: deflateSync(RAM_4K).subarray(0, 100) }] }),
      /^section "ram" .*: compressed data is corrupt/,
    ],
    [
      buildFile({
        sections: [
          ram,
          {
            name: "p",
            kind: 2,
            compression: 2,
            data: new Uint8Array(100),
            stored: deflateSync(Uint8Array.of(2)),
          },
        ],
      }),
      /^section "p" .*: zero-page data is malformed: the page map marks page 1, past the last page 0$/,
    ],
    [
      buildFile({
        sections: [
          ram,
          {
            name: "p",
            kind: 2,
            compression: 2,
            data: new Uint8Array(100),
            stored: deflateSync(new Uint8Array(200)),
          },
        ],
      }),
      /^section "p" .*: decompresses to more than the 101 bytes the descriptor allows$/,
    ],
    [
      buildFile({ sections: [{ ...ram, data: new Uint8Array(8192) }] }),
      /^section "ram" .*: holds 8 KiB of RAM but the header says the machine has 4 KiB$/,
    ],
    [
      buildFile({ sections: [{ name: "ram", kind: 1, compression: 0, data: text.encode("1") }] }),
      /^section "ram" .*: guest RAM must be a binary section$/,
    ],
    [
      buildFile({ sections: [ram, { name: "v", kind: 1, compression: 0, data: text.encode('{"a":') }] }),
      /^section "v" is not well-formed JSON: /,
    ],
    [
      buildFile({
        sections: [ram, { name: "v", kind: 1, compression: 0, data: Uint8Array.of(0x22, 0xff, 0x22) }],
      }),
      /^section "v" .*: JSON text is not valid UTF-8$/,
    ],
    [
      buildFile({
        sections: [ram, { name: "v", kind: 1, compression: 0, data: text.encode('{"r":{"$bigint":"12"}}') }],
      }),
      /^section "v" at r: "12" is not a hexadecimal bigint/,
    ],
    [
      buildFile({
        sections: [
          ram,
          { name: "v", kind: 1, compression: 0, data: text.encode('[{"$bigint":"0x1","b":2}]') },
        ],
      }),
      /^section "v" at \[0\]: an object with a "\$" key must be exactly/,
    ],
    [
      buildFile({
        sections: [ram, { name: "v", kind: 1, compression: 0, data: text.encode('{"__proto__":{}}') }],
      }),
      /^section "v" at __proto__: the key "__proto__" is not allowed$/,
    ],
    [
      buildFile({ header: { pinvmVersion: "1", machine, sectionCount: 1, extra: 1 }, sections: [ram] }),
      /^snapshot header is malformed: unknown field "extra"$/,
    ],
    [
      buildFile({
        header: { pinvmVersion: "1", machine: { ...machine, vcpuCount: 0 }, sectionCount: 1 },
        sections: [ram],
      }),
      /^snapshot header is malformed: machine.vcpuCount must be an integer from 1 to 256, not 0$/,
    ],
    [
      buildFile({
        header: { pinvmVersion: "1", machine: { ...machine, memoryBytes: -1 }, sectionCount: 1 },
        sections: [],
      }),
      /^snapshot header is malformed: machine.memoryBytes must be a positive integer, not -1$/,
    ],
    [
      buildFile({ header: { pinvmVersion: 3, machine, sectionCount: 0 }, sections: [] }),
      /^snapshot header is malformed: pinvmVersion must be a non-empty string/,
    ],
    [buildFile({ header: [], sections: [] }), /^snapshot header is malformed: not a JSON object$/],
    [
      buildFile({ sections: [ram], end: "PINVMEND!" }),
      /^snapshot has 1 unexpected bytes after the end marker/,
    ],
  ];
  for (const [file, message] of cases) {
    const e = refusal(file);
    assert.match(e.message, message);
  }
  const deep = "[".repeat(100) + "]".repeat(100);
  const e = refusal(
    buildFile({ sections: [ram, { name: "v", kind: 1, compression: 0, data: text.encode(deep) }] }),
  );
  assert.match(e.message, /nested deeper than 64 levels/);
});

test("encode: values JSON cannot carry exactly are refused with their path", () => {
  const base = smallSnapshot();
  const withJson = (value: unknown): SnapshotContents => ({ ...base, json: { v: value as SnapshotValue } });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const cases: [SnapshotContents, string][] = [
    [withJson({ a: undefined }), 'cannot save section "v" at a: undefined cannot be saved'],
    [withJson({ a: [1, NaN] }), 'cannot save section "v" at a[1]: NaN is not a finite number'],
    [
      withJson({ t: new Uint8Array(2) }),
      'cannot save section "v" at t: a Uint8Array object (use plain objects and arrays)',
    ],
    [withJson({ $bigint: "0x1" }), 'cannot save section "v" at $bigint: keys starting with "$" are reserved'],
    [withJson(cyclic), 'cannot save section "v" at self: a cycle (the value contains itself)'],
    [
      { ...base, json: { "no spaces": 1 } },
      'cannot save snapshot: section name "no spaces" is not valid (/^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$/)',
    ],
    [
      { ...base, json: { ram: 1 } },
      'cannot save snapshot: section "ram" is both a JSON and a binary section',
    ],
    [
      { ...base, binary: { ram: new Uint8Array(4096) } },
      'cannot save snapshot: section "ram" holds 4 KiB but machine.memoryBytes is 64 KiB',
    ],
    [
      { ...base, machine: { ...base.machine, crPin: "" } },
      'cannot save snapshot: machine.crPin must be a profile name, not ""',
    ],
  ];
  for (const [contents, message] of cases) {
    assert.throws(
      () => encodeSnapshot(contents),
      (e: unknown) => e instanceof SnapshotError && e.reason === "unencodable" && e.message === message,
      message,
    );
  }
});

test("fuzz: any damage to a file is a SnapshotError, never another exception", () => {
  const bytes = encodeSnapshot(smallSnapshot());
  const noise = randomBytes(4 * 600, 4242);
  const view = new DataView(noise.buffer);
  for (let n = 0; n < 600; n++) {
    const bad = bytes.slice();
    const r = view.getUint32(n * 4, true);
    const flips = 1 + (r % 4);
    for (let k = 0; k < flips; k++) bad[(r >>> (k * 3)) % bad.length] ^= 1 + ((r >>> 24) % 255);
    const cut = n % 3 === 0 ? bad.subarray(0, r % bad.length) : bad;
    try {
      decodeSnapshot(cut);
    } catch (e) {
      assert.ok(e instanceof SnapshotError, `mutation ${n}: ${String(e)}`);
    }
  }
});

// ------------------------------------------------------------------- RAM above 4 GiB (format 2)

/** A machine with 16 KiB below 4 GiB and `high` bytes at 4 GiB, with those sections. */
function highSnapshot(high: number, sections: Record<string, Uint8Array>) {
  return {
    pinvmVersion: "0.1.0",
    machine: { memoryBytes: 16384 + high, vcpuCount: 1, crPin: "off", ramAboveFourGiB: high },
    json: {},
    binary: { ram: new Uint8Array(16384), ...sections },
  };
}

test("format 2: RAM above 4 GiB travels in ram-high/N sections and makes the file version 2", () => {
  const high = new Uint8Array(8192);
  high[5] = 0xaa;
  high[8191] = 0x55;
  const bytes = encodeSnapshot(highSnapshot(8192, { "ram-high/0": high }));
  assert.equal(new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true), 2);
  const back = decodeSnapshot(bytes, { memoryBytes: 16384 + 8192 });
  assert.deepEqual(back.machine, { memoryBytes: 24576, vcpuCount: 1, crPin: "off", ramAboveFourGiB: 8192 });
  assert.equal(back.binary.ram.length, 16384);
  assert.deepEqual(back.binary["ram-high/0"], high);
  // Without RAM above 4 GiB the file is version 1, readable by older pinvms.
  const plain = encodeSnapshot({ ...smallSnapshot() });
  assert.equal(new DataView(plain.buffer, plain.byteOffset).getUint32(8, true), 1);
});

test("format 2: a missing, extra or mis-sized ram-high section is refused", () => {
  assert.throws(
    () => encodeSnapshot(highSnapshot(8192, {})),
    /cannot save snapshot: section "ram-high\/0" \(RAM above 4 GiB\) is missing/,
  );
  assert.throws(
    () => encodeSnapshot(highSnapshot(8192, { "ram-high/0": new Uint8Array(4096) })),
    /section "ram-high\/0" holds 4 KiB, not 8 KiB/,
  );
  assert.throws(
    () =>
      encodeSnapshot(
        highSnapshot(8192, { "ram-high/0": new Uint8Array(8192), "ram-high/1": new Uint8Array(8192) }),
      ),
    /section "ram-high\/1": not one of the 1 sections of RAM above 4 GiB/,
  );
  assert.throws(
    () =>
      encodeSnapshot({
        ...smallSnapshot(),
        binary: { ...smallSnapshot().binary, "ram-high/0": new Uint8Array(1) },
      }),
    /the machine has no RAM above 4 GiB/,
  );
  // A "ram" section holding all of memoryBytes although the header puts some above 4 GiB.
  assert.throws(
    () =>
      encodeSnapshot({
        ...highSnapshot(8192, { "ram-high/0": new Uint8Array(8192) }),
        binary: { ram: new Uint8Array(24576), "ram-high/0": new Uint8Array(8192) },
      }),
    /section "ram" holds 24 KiB but the RAM below 4 GiB is 16 KiB/,
  );
  assert.throws(
    () =>
      encodeSnapshot({
        ...highSnapshot(8192, { "ram-high/0": new Uint8Array(8192) }),
        machine: { memoryBytes: 16384, vcpuCount: 1, crPin: "off", ramAboveFourGiB: 16384 },
      }),
    /machine.ramAboveFourGiB must be a positive integer below memoryBytes, not 16384/,
  );
});

test("format 2: decoding refuses a header and sections that disagree about RAM above 4 GiB", () => {
  // Header says 8 KiB at 4 GiB, but the file carries no ram-high/0.
  const header = {
    pinvmVersion: "1",
    machine: { memoryBytes: 8192, vcpuCount: 1, crPin: "off", ramAboveFourGiB: 4096 },
    sectionCount: 1,
  };
  const missing = refusal(
    buildFile({ version: 2, header, sections: [{ name: "ram", kind: 2, compression: 0, data: RAM_4K }] }),
  );
  assert.equal(missing.reason, "missing-section");
  assert.match(missing.message, /no section "ram-high\/0"/);
  const wrongSize = refusal(
    buildFile({
      version: 2,
      header: { ...header, sectionCount: 2 },
      sections: [
        { name: "ram", kind: 2, compression: 0, data: RAM_4K },
        { name: "ram-high/0", kind: 2, compression: 0, data: new Uint8Array(8192) },
      ],
    }),
  );
  assert.equal(wrongSize.reason, "malformed");
  assert.match(wrongSize.message, /holds 8 KiB of RAM above 4 GiB but the header says it should hold 4 KiB/);
  // Version 1 has no ramAboveFourGiB.
  const v1 = refusal(
    buildFile({ version: 1, header, sections: [{ name: "ram", kind: 2, compression: 0, data: RAM_4K }] }),
  );
  assert.equal(v1.reason, "malformed");
  assert.match(v1.message, /machine has an unknown field "ramAboveFourGiB"/);
});
