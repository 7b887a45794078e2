/**
 * The one error type of the snapshot file format: every refusal by `decodeSnapshot` (and
 * every value `encodeSnapshot` cannot write) is a SnapshotError whose message says exactly
 * what is wrong and where, so that `pinvm --snapshot-load` can print it as one line.
 */

/** What kind of problem a SnapshotError reports (for callers that branch on it). */
export type SnapshotErrorReason =
  /** The file ends before a field or section it announces. */
  | "truncated"
  /** The first 8 bytes are not "PINVMSNP": not a pinvm snapshot at all. */
  | "magic"
  /** A format version this pinvm cannot read (usually: written by a newer pinvm). */
  | "version"
  /** A CRC-32 does not match: the header, a section descriptor, or a section's data. */
  | "crc"
  /** A field holds an impossible value (bad length, unknown kind, malformed JSON...). */
  | "malformed"
  /** A section the caller requires is absent. */
  | "missing-section"
  /** The snapshot is intact but was taken on a differently configured machine. */
  | "mismatch"
  /** encodeSnapshot was given something it cannot store. */
  | "unencodable";

/** A snapshot that cannot be read (or contents that cannot be written), with the reason. */
export class SnapshotError extends Error {
  /** Machine-readable category of the problem. */
  readonly reason: SnapshotErrorReason;
  /** Byte offset in the file the problem was found at, when there is one. */
  readonly offset: number | undefined;
  /** Name of the section concerned, when there is one. */
  readonly section: string | undefined;

  /** Creates the error; `message` is the full human-readable text. */
  constructor(
    reason: SnapshotErrorReason,
    message: string,
    where: { offset?: number; section?: string } = {},
  ) {
    super(message);
    this.name = "SnapshotError";
    this.reason = reason;
    this.offset = where.offset;
    this.section = where.section;
  }
}
