/**
 * The snapshot file format, for the VMM: `encodeSnapshot` writes a whole machine (header
 * with a machine summary, named JSON and binary sections) to one byte array, and
 * `decodeSnapshot` reads one back, validating everything before returning anything.
 * See format.ts for the layout.
 */
export {
  decodeSnapshot,
  encodeSnapshot,
  formatSize,
  DEFAULT_REQUIRED_BINARY,
  RAM_SECTION,
  SECTION_NAME,
  SNAPSHOT_FORMAT_VERSION,
  SNAPSHOT_MAGIC,
  type EncodeOptions,
  type MachineSummary,
  type SnapshotContents,
  type SnapshotExpectation,
} from "./format.js";
export { SnapshotError, type SnapshotErrorReason } from "./errors.js";
export type { SnapshotValue } from "./json-value.js";
