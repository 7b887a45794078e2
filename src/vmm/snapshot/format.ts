/**
 * The pinvm snapshot file: one versioned file holding a whole VM, written by
 * `encodeSnapshot` and read back, fully validated, by `decodeSnapshot`. Decoding is pure:
 * it either returns every section intact or throws one SnapshotError saying what is wrong
 * (truncated at byte N, CRC mismatch in section "ram", written by a newer pinvm, RAM size
 * 128 MiB but this machine has 64 MiB...). Nothing is applied to a machine here; the VMM
 * applies the contents only after every device and vCPU state has validated.
 *
 * Layout (all integers little-endian):
 *
 * ```
 * offset  size  field
 * 0       8     magic "PINVMSNP"
 * 8       4     format version (SNAPSHOT_FORMAT_VERSION)
 * 12      4     header length H
 * 16      H     header, UTF-8 JSON: {"pinvmVersion", "machine": MachineSummary, "sectionCount"}
 * 16+H    4     CRC-32 of bytes 0 .. 16+H-1
 * then sectionCount sections, each a descriptor followed by its stored bytes:
 *         2     name length L
 *         L     name (ASCII, see SECTION_NAME)
 *         1     kind: 1 = JSON (UTF-8 text of a SnapshotValue), 2 = binary
 *         1     compression: 0 = stored, 1 = DEFLATE (RFC 1951, via fflate),
 *                 2 = zero pages elided (pages.ts), then DEFLATE
 *         2     reserved, 0
 *         8     stored length S
 *         8     data length D (after decompression)
 *         4     CRC-32 of the D data bytes
 *         4     CRC-32 of the S stored bytes
 *         4     CRC-32 of this descriptor, from the name length up to here
 *         S     stored bytes
 * end     8     end marker "PINVMEND"; nothing may follow it
 * ```
 *
 * The first four fields and the header CRC keep their place in every format version, so
 * any pinvm can tell "corrupt" from "written by a newer pinvm".
 *
 * Versions: 1 holds guest RAM in one section "ram" of machine.memoryBytes bytes. 2 adds RAM
 * above 4 GiB: the header's machine.ramAboveFourGiB (bytes of RAM mapped at 4 GiB), "ram"
 * holding the rest (the RAM below the PCI hole), and sections "ram-high/0", "ram-high/1"...
 * holding the RAM at 4 GiB in 1 GiB pieces (the last one shorter). encodeSnapshot writes
 * version 1 when there is no RAM above 4 GiB, so such files stay readable by older pinvms,
 * and version 2 otherwise; decodeSnapshot reads both. encodeSnapshot writes
 * binary sections with compression 2 (guest RAM is mostly zero pages) and JSON sections as
 * stored text; decodeSnapshot reads all three methods for either kind.
 */
import { deflateSync, inflateSync } from "fflate";
import { crc32 } from "./crc32.js";
import { elideZeroPages, pageMapBytes, restoreZeroPages } from "./pages.js";
import { SnapshotError } from "./errors.js";
import { parseSnapshotValue, stringifySnapshotValue, type SnapshotValue } from "./json-value.js";

/** The 8 bytes every snapshot file starts with. */
export const SNAPSHOT_MAGIC = "PINVMSNP";
/** The 8 bytes every snapshot file ends with. */
export const SNAPSHOT_END_MARKER = "PINVMEND";
/** The newest format version this pinvm writes and reads (see the module comment). */
export const SNAPSHOT_FORMAT_VERSION = 2;
/** The oldest format version this pinvm reads. */
export const MIN_SNAPSHOT_FORMAT_VERSION = 1;
/** The binary section holding guest RAM below 4 GiB: machine.memoryBytes - ramAboveFourGiB bytes. */
export const RAM_SECTION = "ram";
/** Prefix of the binary sections holding RAM at 4 GiB (format 2): "ram-high/0", "ram-high/1"... */
export const HIGH_RAM_SECTION_PREFIX = "ram-high/";
/** Bytes of RAM at 4 GiB per "ram-high/N" section (the last one may be shorter). */
export const HIGH_RAM_SECTION_BYTES = 2 ** 30;
/** Section names: 1-64 characters, a letter or digit first, then letters, digits, `._/-`. */
export const SECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$/;
/** Binary sections decodeSnapshot requires when the expectation names none: guest RAM. */
export const DEFAULT_REQUIRED_BINARY: readonly string[] = [RAM_SECTION];
/** Most sections one file may have. */
export const MAX_SECTIONS = 4096;
/** Largest header JSON accepted. */
export const MAX_HEADER_BYTES = 1 << 20;
/** Largest decompressed JSON section accepted. */
export const MAX_JSON_SECTION_BYTES = 64 << 20;
/** Largest decompressed binary section accepted (pinvm's RAM limit is below this). */
export const MAX_BINARY_SECTION_BYTES = 2 ** 32;
/** Largest vCPU count a header may state. */
export const MAX_VCPUS = 256;

/** The machine configuration a snapshot was taken with; a restore must match it. */
export interface MachineSummary {
  /** Guest RAM in bytes (the length of the "ram" section, if there is one). */
  memoryBytes: number;
  /** Number of vCPUs. */
  vcpuCount: number;
  /** CR pinning profile the machine ran with (`--cr-pin`), e.g. "off" or "jun2020". */
  crPin: string;
  /** Bytes of memoryBytes mapped at 4 GiB (format 2; absent = 0). */
  ramAboveFourGiB?: number;
}

/** Everything a snapshot holds. */
export interface SnapshotContents {
  /** Version string of the pinvm that wrote the file (informational, e.g. "0.1.0"). */
  pinvmVersion: string;
  /** The configuration of the machine the snapshot was taken on. */
  machine: MachineSummary;
  /** Named JSON sections: vCPU states, device states... (bigints allowed). */
  json: Record<string, SnapshotValue>;
  /** Named binary sections: guest RAM ("ram"), other large buffers. Stored compressed. */
  binary: Record<string, Uint8Array>;
}

/** What the restoring machine requires of a snapshot; every field is optional. */
export interface SnapshotExpectation {
  /** This machine's RAM size in bytes. */
  memoryBytes?: number;
  /** This machine's vCPU count. */
  vcpuCount?: number;
  /** This machine's CR pinning profile. */
  crPin?: string;
  /** JSON sections that must be present. */
  json?: readonly string[];
  /** Binary sections that must be present; default DEFAULT_REQUIRED_BINARY (guest RAM). */
  binary?: readonly string[];
}

/** Options of encodeSnapshot. */
export interface EncodeOptions {
  /** DEFLATE level for binary sections, 0 (fastest) to 9 (smallest); default 6. */
  level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
}

const KIND_JSON = 1;
const KIND_BINARY = 2;
const STORED = 0;
const DEFLATE = 1;
const ZERO_PAGES_DEFLATE = 2;
/** Fixed part of a section descriptor after the name. */
const DESCRIPTOR_TAIL = 1 + 1 + 2 + 8 + 8 + 4 + 4 + 4;

const utf8 = new TextEncoder();

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** "128 MiB", "1 GiB", "12 KiB" or "1234 bytes": RAM sizes as people say them. */
export function formatSize(bytes: number): string {
  if (bytes >= 2 ** 30 && bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30} GiB`;
  if (bytes >= 2 ** 20 && bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`;
  if (bytes >= 2 ** 10 && bytes % 2 ** 10 === 0) return `${bytes / 2 ** 10} KiB`;
  return `${bytes} bytes`;
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

// ------------------------------------------------------------------------------ validation

/**
 * Checks a machine summary of format `version`; `fail` gets the first problem. Format 1 has
 * no ramAboveFourGiB.
 */
function checkMachine(machine: unknown, version: number, fail: (message: string) => never): MachineSummary {
  if (typeof machine !== "object" || machine === null || Array.isArray(machine))
    fail("machine is not an object");
  const m = machine as Record<string, unknown>;
  for (const key of Object.keys(m)) {
    if (
      key !== "memoryBytes" &&
      key !== "vcpuCount" &&
      key !== "crPin" &&
      !(key === "ramAboveFourGiB" && version >= 2)
    )
      fail(`machine has an unknown field "${key}"`);
  }
  const { memoryBytes, vcpuCount, crPin, ramAboveFourGiB } = m;
  if (typeof memoryBytes !== "number" || !Number.isSafeInteger(memoryBytes) || memoryBytes <= 0) {
    fail(`machine.memoryBytes must be a positive integer, not ${JSON.stringify(memoryBytes)}`);
  }
  if (
    typeof vcpuCount !== "number" ||
    !Number.isInteger(vcpuCount) ||
    vcpuCount < 1 ||
    vcpuCount > MAX_VCPUS
  ) {
    fail(`machine.vcpuCount must be an integer from 1 to ${MAX_VCPUS}, not ${JSON.stringify(vcpuCount)}`);
  }
  if (typeof crPin !== "string" || crPin.length === 0 || crPin.length > 64) {
    fail(`machine.crPin must be a profile name, not ${JSON.stringify(crPin)}`);
  }
  if (ramAboveFourGiB !== undefined) {
    if (
      typeof ramAboveFourGiB !== "number" ||
      !Number.isSafeInteger(ramAboveFourGiB) ||
      ramAboveFourGiB <= 0 ||
      ramAboveFourGiB >= (memoryBytes as number)
    ) {
      fail(
        `machine.ramAboveFourGiB must be a positive integer below memoryBytes, not ${JSON.stringify(ramAboveFourGiB)}`,
      );
    }
    return {
      memoryBytes: memoryBytes as number,
      vcpuCount: vcpuCount as number,
      crPin: crPin as string,
      ramAboveFourGiB: ramAboveFourGiB as number,
    };
  }
  return { memoryBytes: memoryBytes as number, vcpuCount: vcpuCount as number, crPin: crPin as string };
}

/** Bytes of RAM in section "ram" for `machine`: all of it except what lies at 4 GiB. */
function lowRamBytes(machine: MachineSummary): number {
  return machine.memoryBytes - (machine.ramAboveFourGiB ?? 0);
}

/** Number of "ram-high/N" sections `machine` needs. */
function highRamSectionCount(machine: MachineSummary): number {
  return Math.ceil((machine.ramAboveFourGiB ?? 0) / HIGH_RAM_SECTION_BYTES);
}

/**
 * For a section name "ram-high/N": the length that section must have in `machine`, or a
 * string saying why there can be no such section. undefined for other names.
 */
function highRamSectionLength(name: string, machine: MachineSummary): number | string | undefined {
  if (!name.startsWith(HIGH_RAM_SECTION_PREFIX)) return undefined;
  const index = name.slice(HIGH_RAM_SECTION_PREFIX.length);
  const count = highRamSectionCount(machine);
  if (!/^(0|[1-9][0-9]{0,5})$/.test(index) || Number(index) >= count) {
    return count === 0
      ? "the machine has no RAM above 4 GiB"
      : `not one of the ${count} sections of RAM above 4 GiB (${HIGH_RAM_SECTION_PREFIX}0..${count - 1})`;
  }
  const high = machine.ramAboveFourGiB ?? 0;
  return Math.min(HIGH_RAM_SECTION_BYTES, high - Number(index) * HIGH_RAM_SECTION_BYTES);
}

function checkPinvmVersion(version: unknown, fail: (message: string) => never): string {
  if (typeof version !== "string" || version.length === 0 || version.length > 64) {
    fail(`pinvmVersion must be a non-empty string of at most 64 characters, not ${JSON.stringify(version)}`);
  }
  return version as string;
}

// -------------------------------------------------------------------------------- encoding

/** One section, ready to write. */
interface EncodedSection {
  descriptor: Uint8Array;
  stored: Uint8Array;
}

function encodeSection(
  name: string,
  kind: number,
  data: Uint8Array,
  compress: boolean,
  level: number,
): EncodedSection {
  const stored = compress
    ? deflateSync(elideZeroPages(data), { level: level as EncodeOptions["level"] })
    : data;
  const nameBytes = ascii(name);
  const descriptor = new Uint8Array(2 + nameBytes.length + DESCRIPTOR_TAIL);
  const view = new DataView(descriptor.buffer);
  view.setUint16(0, nameBytes.length, true);
  descriptor.set(nameBytes, 2);
  let at = 2 + nameBytes.length;
  view.setUint8(at, kind);
  view.setUint8(at + 1, compress ? ZERO_PAGES_DEFLATE : STORED);
  view.setUint16(at + 2, 0, true);
  view.setBigUint64(at + 4, BigInt(stored.length), true);
  view.setBigUint64(at + 12, BigInt(data.length), true);
  view.setUint32(at + 20, crc32(data), true);
  view.setUint32(at + 24, crc32(stored), true);
  at += 28;
  view.setUint32(at, crc32(descriptor.subarray(0, at)), true);
  return { descriptor, stored };
}

/**
 * The snapshot file for `contents`. Throws SnapshotError("unencodable") for a bad section
 * name, a name used twice, a JSON value JSON cannot carry exactly, or a "ram" section whose
 * length is not machine.memoryBytes.
 */
export function encodeSnapshot(contents: SnapshotContents, options: EncodeOptions = {}): Uint8Array {
  const fail = (message: string, section?: string): never => {
    throw new SnapshotError("unencodable", `cannot save snapshot: ${message}`, { section });
  };
  const pinvmVersion = checkPinvmVersion(contents.pinvmVersion, fail);
  const version = contents.machine?.ramAboveFourGiB === undefined ? 1 : 2;
  const machine = checkMachine(contents.machine, version, fail);
  const level = options.level ?? 6;
  const names = [...Object.keys(contents.json), ...Object.keys(contents.binary)];
  if (names.length > MAX_SECTIONS) fail(`${names.length} sections (at most ${MAX_SECTIONS})`);
  const sections: EncodedSection[] = [];
  for (const [name, value] of Object.entries(contents.json)) {
    if (!SECTION_NAME.test(name)) fail(`section name "${name}" is not valid (${SECTION_NAME})`, name);
    const text = utf8.encode(stringifySnapshotValue(value, name));
    if (text.length > MAX_JSON_SECTION_BYTES)
      fail(`section "${name}" is ${text.length} bytes of JSON (too big)`, name);
    sections.push(encodeSection(name, KIND_JSON, text, false, level));
  }
  for (const [name, data] of Object.entries(contents.binary)) {
    if (!SECTION_NAME.test(name)) fail(`section name "${name}" is not valid (${SECTION_NAME})`, name);
    if (Object.hasOwn(contents.json, name))
      fail(`section "${name}" is both a JSON and a binary section`, name);
    if (!(data instanceof Uint8Array)) fail(`binary section "${name}" is not a Uint8Array`, name);
    if (data.length > MAX_BINARY_SECTION_BYTES) fail(`binary section "${name}" is too big`, name);
    if (name === RAM_SECTION && data.length !== lowRamBytes(machine)) {
      fail(
        machine.ramAboveFourGiB === undefined
          ? `section "ram" holds ${formatSize(data.length)} but machine.memoryBytes is ${formatSize(machine.memoryBytes)}`
          : `section "ram" holds ${formatSize(data.length)} but the RAM below 4 GiB is ${formatSize(lowRamBytes(machine))}`,
        name,
      );
    }
    const highLength = highRamSectionLength(name, machine);
    if (typeof highLength === "string") fail(`section "${name}": ${highLength}`, name);
    if (typeof highLength === "number" && data.length !== highLength) {
      fail(`section "${name}" holds ${formatSize(data.length)}, not ${formatSize(highLength)}`, name);
    }
    sections.push(encodeSection(name, KIND_BINARY, data, true, level));
  }
  for (let i = 0; i < highRamSectionCount(machine); i++) {
    if (!Object.hasOwn(contents.binary, `${HIGH_RAM_SECTION_PREFIX}${i}`))
      fail(`section "${HIGH_RAM_SECTION_PREFIX}${i}" (RAM above 4 GiB) is missing`);
  }
  const header = utf8.encode(JSON.stringify({ pinvmVersion, machine, sectionCount: sections.length }));
  let total = 16 + header.length + 4 + SNAPSHOT_END_MARKER.length;
  for (const s of sections) total += s.descriptor.length + s.stored.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(ascii(SNAPSHOT_MAGIC), 0);
  view.setUint32(8, version, true);
  view.setUint32(12, header.length, true);
  out.set(header, 16);
  let at = 16 + header.length;
  view.setUint32(at, crc32(out.subarray(0, at)), true);
  at += 4;
  for (const s of sections) {
    out.set(s.descriptor, at);
    at += s.descriptor.length;
    out.set(s.stored, at);
    at += s.stored.length;
  }
  out.set(ascii(SNAPSHOT_END_MARKER), at);
  return out;
}

// -------------------------------------------------------------------------------- decoding

/** A bounds-checked little-endian reader over the file that names what it was reading. */
class Reader {
  private readonly view: DataView;
  /** Next byte to read. */
  at = 0;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Throws "truncated" unless `length` bytes of `what` are there at the current offset. */
  need(length: number, what: string, section?: string): void {
    if (this.at + length > this.bytes.length) {
      const last = this.at + length - 1;
      throw new SnapshotError(
        "truncated",
        `snapshot truncated at byte ${this.bytes.length}: ${what} needs bytes ${this.at}..${last}`,
        { offset: this.bytes.length, section },
      );
    }
  }

  u8(): number {
    return this.view.getUint8(this.at++);
  }

  u16(): number {
    const v = this.view.getUint16(this.at, true);
    this.at += 2;
    return v;
  }

  u32(): number {
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }

  u64(): bigint {
    const v = this.view.getBigUint64(this.at, true);
    this.at += 8;
    return v;
  }

  take(length: number): Uint8Array {
    const v = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return v;
  }
}

/** The parsed header JSON. */
interface Header {
  pinvmVersion: string;
  machine: MachineSummary;
  sectionCount: number;
}

function readHeaderJson(text: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(text));
  } catch {
    return undefined;
  }
}

function checkHeader(json: unknown, version: number): Header {
  const fail = (message: string): never => {
    throw new SnapshotError("malformed", `snapshot header is malformed: ${message}`, { offset: 16 });
  };
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail("not a JSON object");
  const h = json as Record<string, unknown>;
  for (const key of Object.keys(h)) {
    if (key !== "pinvmVersion" && key !== "machine" && key !== "sectionCount") fail(`unknown field "${key}"`);
  }
  const pinvmVersion = checkPinvmVersion(h.pinvmVersion, fail);
  const machine = checkMachine(h.machine, version, fail);
  const count = h.sectionCount;
  if (typeof count !== "number" || !Number.isInteger(count) || count < 0 || count > MAX_SECTIONS) {
    fail(`sectionCount must be an integer from 0 to ${MAX_SECTIONS}, not ${JSON.stringify(count)}`);
  }
  return { pinvmVersion, machine, sectionCount: count as number };
}

/** Refuses a snapshot taken on a machine configured differently from `expect`. */
function checkExpectation(machine: MachineSummary, expect: SnapshotExpectation): void {
  const refuse = (message: string): never => {
    throw new SnapshotError("mismatch", `snapshot does not fit this machine: ${message}`);
  };
  if (expect.memoryBytes !== undefined && expect.memoryBytes !== machine.memoryBytes) {
    refuse(
      `RAM size ${formatSize(machine.memoryBytes)} but this machine has ${formatSize(expect.memoryBytes)}`,
    );
  }
  if (expect.vcpuCount !== undefined && expect.vcpuCount !== machine.vcpuCount) {
    refuse(`taken with ${machine.vcpuCount} vCPU(s) but this machine has ${expect.vcpuCount}`);
  }
  if (expect.crPin !== undefined && expect.crPin !== machine.crPin) {
    refuse(`taken with CR pinning profile "${machine.crPin}" but this machine uses "${expect.crPin}"`);
  }
}

/** Reads one section at r.at into `contents`. */
function readSection(
  r: Reader,
  index: number,
  count: number,
  header: Header,
  contents: SnapshotContents,
): void {
  const start = r.at;
  const label = `section ${index + 1} of ${count}`;
  r.need(2, `the descriptor of ${label}`);
  const nameLength = r.u16();
  r.need(nameLength + DESCRIPTOR_TAIL, `the descriptor of ${label}`);
  const nameBytes = r.take(nameLength);
  const kind = r.u8();
  const compression = r.u8();
  const reserved = r.u16();
  const storedLength = r.u64();
  const dataLength = r.u64();
  const dataCrc = r.u32();
  const storedCrc = r.u32();
  const descriptorEnd = r.at;
  const descriptorCrc = r.u32();
  const computed = crc32(r.bytes.subarray(start, descriptorEnd));
  if (computed !== descriptorCrc) {
    throw new SnapshotError(
      "crc",
      `CRC mismatch in the descriptor of ${label} at byte ${start} (stored ${hex32(descriptorCrc)}, computed ${hex32(computed)}): the file is corrupt`,
      { offset: start },
    );
  }
  const name = String.fromCharCode(...nameBytes);
  const fail = (message: string): never => {
    throw new SnapshotError("malformed", `section "${name}" (${label}, byte ${start}): ${message}`, {
      offset: start,
      section: name,
    });
  };
  if (!SECTION_NAME.test(name)) fail(`invalid section name`);
  if (Object.hasOwn(contents.json, name) || Object.hasOwn(contents.binary, name)) fail("appears twice");
  if (kind !== KIND_JSON && kind !== KIND_BINARY) fail(`unknown section kind ${kind}`);
  if (compression !== STORED && compression !== DEFLATE && compression !== ZERO_PAGES_DEFLATE) {
    fail(`unknown compression method ${compression}`);
  }
  if (reserved !== 0) fail(`reserved field is ${reserved}, not 0`);
  const limit = kind === KIND_JSON ? MAX_JSON_SECTION_BYTES : MAX_BINARY_SECTION_BYTES;
  if (dataLength > BigInt(limit)) fail(`data length ${dataLength} exceeds the limit of ${limit} bytes`);
  if (storedLength > BigInt(Number.MAX_SAFE_INTEGER)) fail(`stored length ${storedLength} is impossible`);
  const length = Number(dataLength);
  if (compression === STORED && storedLength !== dataLength) {
    fail(
      `stored without compression, but stored length ${storedLength} differs from data length ${dataLength}`,
    );
  }
  if (name === RAM_SECTION && (kind !== KIND_BINARY || length !== lowRamBytes(header.machine))) {
    fail(
      kind !== KIND_BINARY
        ? "guest RAM must be a binary section"
        : header.machine.ramAboveFourGiB === undefined
          ? `holds ${formatSize(length)} of RAM but the header says the machine has ${formatSize(header.machine.memoryBytes)}`
          : `holds ${formatSize(length)} of RAM but the header says the machine has ${formatSize(lowRamBytes(header.machine))} below 4 GiB`,
    );
  }
  const highLength = highRamSectionLength(name, header.machine);
  if (typeof highLength === "string") fail(highLength);
  if (typeof highLength === "number" && (kind !== KIND_BINARY || length !== highLength)) {
    fail(
      kind !== KIND_BINARY
        ? "guest RAM must be a binary section"
        : `holds ${formatSize(length)} of RAM above 4 GiB but the header says it should hold ${formatSize(highLength)}`,
    );
  }
  r.need(Number(storedLength), `the data of section "${name}"`, name);
  const storedAt = r.at;
  const stored = r.take(Number(storedLength));
  const storedComputed = crc32(stored);
  if (storedComputed !== storedCrc) {
    throw new SnapshotError(
      "crc",
      `CRC mismatch in section "${name}" (stored bytes ${storedAt}..${r.at - 1}: stored ${hex32(storedCrc)}, computed ${hex32(storedComputed)}): the file is corrupt`,
      { offset: storedAt, section: name },
    );
  }
  let data: Uint8Array;
  if (compression === STORED)
    data = new Uint8Array(stored); // a copy, even of a Node Buffer
  else {
    // One byte of room past the promised length reveals data that inflates to more.
    if (stored.length === 0) fail("compressed data is empty");
    // The inflated size is known (DEFLATE) or bounded (page map + every page); one byte of
    // room past it reveals data that inflates to more.
    const limit = compression === DEFLATE ? length : pageMapBytes(length) + length;
    const out = new Uint8Array(limit + 1);
    let inflated: Uint8Array;
    try {
      inflated = inflateSync(stored, { out });
    } catch (e) {
      // fflate copies a stored block with TypedArray.set, which throws RangeError past `out`.
      if (e instanceof RangeError)
        return fail(`decompresses to more than the ${limit} bytes the descriptor allows`);
      return fail(`compressed data is corrupt (${(e as Error).message})`);
    }
    if (inflated.length > limit) fail(`decompresses to more than the ${limit} bytes the descriptor allows`);
    if (compression === DEFLATE) {
      if (inflated.length !== length)
        fail(`decompresses to ${inflated.length} bytes, but the descriptor says ${length}`);
      data = out.subarray(0, length);
    } else {
      const restored = restoreZeroPages(inflated, length);
      if (typeof restored === "string") return fail(`zero-page data is malformed: ${restored}`);
      data = restored;
    }
  }
  const dataComputed = crc32(data);
  if (dataComputed !== dataCrc) {
    throw new SnapshotError(
      "crc",
      `CRC mismatch in section "${name}" (decompressed data: stored ${hex32(dataCrc)}, computed ${hex32(dataComputed)}): the file is corrupt`,
      { offset: storedAt, section: name },
    );
  }
  if (kind === KIND_BINARY) {
    contents.binary[name] = data;
    return;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    return fail("JSON text is not valid UTF-8");
  }
  contents.json[name] = parseSnapshotValue(text, name);
}

/**
 * Reads and validates a whole snapshot file. Checks, in order: magic, header CRC, format
 * version, header fields, the machine against `expect` (RAM size, vCPU count, pinning
 * profile), then every section (descriptor CRC, name, kind, lengths, stored-bytes CRC,
 * decompressed length, data CRC, JSON well-formedness), the end marker, that nothing
 * follows it, and that the sections `expect` requires are present with the right kind.
 * Throws SnapshotError on the first problem; returns the contents only if all is well.
 */
export function decodeSnapshot(bytes: Uint8Array, expect: SnapshotExpectation = {}): SnapshotContents {
  const r = new Reader(bytes);
  const magic = ascii(SNAPSHOT_MAGIC);
  const prefix = bytes.subarray(0, magic.length);
  if (!prefix.every((b, i) => b === magic[i])) {
    const shown = Array.from(prefix, (b) =>
      b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c
        ? String.fromCharCode(b)
        : `\\x${b.toString(16).padStart(2, "0")}`,
    ).join("");
    throw new SnapshotError(
      "magic",
      `not a pinvm snapshot: it starts with "${shown}", not "${SNAPSHOT_MAGIC}"`,
      {
        offset: 0,
      },
    );
  }
  r.need(16, "the file header");
  r.at = 8;
  const version = r.u32();
  const headerLength = r.u32();
  if (headerLength > MAX_HEADER_BYTES) {
    throw new SnapshotError(
      "malformed",
      `snapshot header length ${headerLength} exceeds ${MAX_HEADER_BYTES} bytes: the file is corrupt`,
      { offset: 12 },
    );
  }
  r.need(headerLength + 4, "the header");
  const headerText = r.take(headerLength);
  const headerEnd = r.at;
  const headerCrc = r.u32();
  const computed = crc32(bytes.subarray(0, headerEnd));
  if (computed !== headerCrc) {
    throw new SnapshotError(
      "crc",
      `CRC mismatch in the snapshot header (bytes 0..${headerEnd - 1}: stored ${hex32(headerCrc)}, computed ${hex32(computed)}): the file is corrupt`,
      { offset: 0 },
    );
  }
  const headerJson = readHeaderJson(headerText);
  if (version < MIN_SNAPSHOT_FORMAT_VERSION || version > SNAPSHOT_FORMAT_VERSION) {
    const writer = (headerJson as { pinvmVersion?: unknown } | undefined)?.pinvmVersion;
    const by = typeof writer === "string" ? `pinvm ${writer}` : "another pinvm";
    const reads = `this pinvm reads format versions ${MIN_SNAPSHOT_FORMAT_VERSION} to ${SNAPSHOT_FORMAT_VERSION}`;
    throw new SnapshotError(
      "version",
      version > SNAPSHOT_FORMAT_VERSION
        ? `snapshot made by an incompatible version: format version ${version} (written by ${by}, newer than this one); ${reads}`
        : `snapshot made by an incompatible version: format version ${version} (written by ${by}); ${reads}`,
      { offset: 8 },
    );
  }
  if (headerJson === undefined) {
    throw new SnapshotError("malformed", "snapshot header is malformed: not well-formed UTF-8 JSON", {
      offset: 16,
    });
  }
  const header = checkHeader(headerJson, version);
  checkExpectation(header.machine, expect);
  const contents: SnapshotContents = {
    pinvmVersion: header.pinvmVersion,
    machine: header.machine,
    json: {},
    binary: {},
  };
  for (let i = 0; i < header.sectionCount; i++) readSection(r, i, header.sectionCount, header, contents);
  r.need(SNAPSHOT_END_MARKER.length, "the end marker");
  const endAt = r.at;
  const end = String.fromCharCode(...r.take(SNAPSHOT_END_MARKER.length));
  if (end !== SNAPSHOT_END_MARKER) {
    throw new SnapshotError(
      "malformed",
      `snapshot end marker at byte ${endAt} is ${JSON.stringify(end)}, not "${SNAPSHOT_END_MARKER}": the file is corrupt`,
      { offset: endAt },
    );
  }
  if (r.at !== bytes.length) {
    throw new SnapshotError(
      "malformed",
      `snapshot has ${bytes.length - r.at} unexpected bytes after the end marker (from byte ${r.at})`,
      { offset: r.at },
    );
  }
  const highSections = Array.from(
    { length: highRamSectionCount(header.machine) },
    (_, i) => `${HIGH_RAM_SECTION_PREFIX}${i}`,
  );
  for (const [names, kind, other] of [
    [expect.json ?? [], "JSON", contents.binary],
    [[...(expect.binary ?? DEFAULT_REQUIRED_BINARY), ...highSections], "binary", contents.json],
  ] as const) {
    const own = kind === "JSON" ? contents.json : contents.binary;
    for (const name of names) {
      if (Object.hasOwn(own, name)) continue;
      throw new SnapshotError(
        "missing-section",
        Object.hasOwn(other, name)
          ? `snapshot section "${name}" is ${kind === "JSON" ? "binary" : "JSON"}, but a ${kind} section is required`
          : `snapshot has no section "${name}" (required ${kind} section)`,
        { section: name },
      );
    }
  }
  return contents;
}
