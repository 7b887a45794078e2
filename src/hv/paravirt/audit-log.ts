/**
 * The per-VM audit log of CR-pinning violations: a bounded ring of the most recent entries
 * plus a running total, readable by the VMM at any time and saved/restored with the VM.
 * KVM only had a rate-limited printk (Heki's "heki: Blocked CR0 update"); pinvm keeps the
 * structured record the VMM needs to report an attack.
 */
import { HvError } from "../errors.js";
import type { PinProfile } from "./profiles.js";
import { PIN_PROFILES } from "./profiles.js";

/** What happened to the write that broke the pins. */
export type ViolationAction =
  /** The write was refused with #GP(0); the register is unchanged. */
  | "gp"
  /** The VMM asked for a denial exit: run() returns, #GP(0) is injected on resume. */
  | "exit"
  /** RSM: the restored value was corrected to honour the pins (SMRAM rewrite). */
  | "rewrite"
  /** RSM: the vCPU stops with an internal-error exit (jun2020). */
  | "internal-error"
  /** RSM: the value was restored as is (the version did not check RSM); recorded only. */
  | "allowed";

/** One recorded violation. Values are the low 32 bits of CR0/CR4 (all pinnable bits). */
export interface Violation {
  /** vCPU id. */
  vcpu: number;
  /**
   * Guest RIP of the instruction (MOV CR, LMSW, CLTS, RSM; for a task switch the JMP, CALL,
   * IRET or the instruction during whose event delivery it happened).
   */
  rip: bigint;
  /** Register written. */
  cr: "cr0" | "cr4";
  /** Value before the write. */
  old: number;
  /** Value the guest tried to load. */
  attempted: number;
  /** Bits pinned to 1 at the time. */
  pinnedHigh: number;
  /** Bits pinned to 0 at the time. */
  pinnedLow: number;
  /** Which path wrote the register: "mov", "lmsw", "clts", "task-switch" or "rsm". */
  source: string;
  /** The VM's ABI profile. */
  profile: PinProfile;
  /** 1-based VM-wide sequence number (equals the total count when it was appended). */
  sequence: number;
  /** Outcome. */
  action: ViolationAction;
}

/** Saved form of the audit log. */
export interface AuditLogState {
  /** Format version. */
  version: 1;
  /** Ring capacity. */
  capacity: number;
  /** Violations ever appended. */
  total: number;
  /** Retained entries, oldest first. */
  entries: Violation[];
}

/** Default number of retained entries. */
export const DEFAULT_AUDIT_CAPACITY = 4096;

const ACTIONS: readonly ViolationAction[] = ["gp", "exit", "rewrite", "internal-error", "allowed"];

/** Bounded log of violations; the VM's vCPUs append, the VMM reads. */
export class AuditLog {
  /** Maximum number of retained entries. */
  readonly capacity: number;
  private ring: Violation[] = [];
  private head = 0; // index of the oldest entry once the ring is full
  private count = 0;

  /** Creates an empty log keeping at most `capacity` entries (1..1_000_000). */
  constructor(capacity: number = DEFAULT_AUDIT_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1_000_000) {
      throw new HvError("bad-argument", `audit log capacity: expected 1..1000000, got ${String(capacity)}`);
    }
    this.capacity = capacity;
  }

  /** Violations ever appended (including those no longer retained). */
  get total(): number {
    return this.count;
  }

  /** Violations that fell out of the ring. */
  get dropped(): number {
    return this.count - this.ring.length;
  }

  /** Appends a violation, assigning its sequence number; returns the stored entry. */
  append(entry: Omit<Violation, "sequence">): Violation {
    const stored: Violation = { ...entry, sequence: this.count + 1 };
    this.count++;
    if (this.ring.length < this.capacity) {
      this.ring.push(stored);
    } else {
      this.ring[this.head] = stored;
      this.head = (this.head + 1) % this.capacity;
    }
    return { ...stored };
  }

  /** Retained entries, oldest first (copies). */
  entries(): Violation[] {
    const out = this.ring.slice(this.head).concat(this.ring.slice(0, this.head));
    return out.map((v) => ({ ...v }));
  }

  /** Saved state (plain data; bigints stay bigints). */
  save(): AuditLogState {
    return { version: 1, capacity: this.capacity, total: this.count, entries: this.entries() };
  }

  /**
   * Replaces the log with a saved state. Validates everything first; on error throws
   * HvError("bad-state") and leaves the log unchanged.
   */
  load(state: unknown): void {
    const parsed = parseAuditLogState(state, this.capacity);
    this.ring = parsed.entries;
    this.head = 0;
    this.count = parsed.total;
  }
}

function bad(message: string): never {
  throw new HvError("bad-state", `audit log: ${message}`);
}

function isU32(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
}

function parseViolation(raw: unknown, where: string): Violation {
  if (typeof raw !== "object" || raw === null) bad(`${where}: expected an object`);
  const v = raw as Record<string, unknown>;
  const keys = ["vcpu", "rip", "cr", "old", "attempted", "pinnedHigh", "pinnedLow", "source", "profile"];
  for (const key of [...keys, "sequence", "action"]) if (!(key in v)) bad(`${where}.${key}: missing`);
  if (!Number.isInteger(v.vcpu) || (v.vcpu as number) < 0) bad(`${where}.vcpu: bad value`);
  if (typeof v.rip !== "bigint" || v.rip < 0n || v.rip >= 1n << 64n)
    bad(`${where}.rip: expected a u64 bigint`);
  if (v.cr !== "cr0" && v.cr !== "cr4") bad(`${where}.cr: expected "cr0" or "cr4"`);
  for (const key of ["old", "attempted", "pinnedHigh", "pinnedLow"]) {
    if (!isU32(v[key])) bad(`${where}.${key}: expected a u32 number`);
  }
  if (typeof v.source !== "string") bad(`${where}.source: expected a string`);
  if (!PIN_PROFILES.includes(v.profile as PinProfile)) bad(`${where}.profile: unknown profile`);
  if (!Number.isInteger(v.sequence) || (v.sequence as number) < 1) bad(`${where}.sequence: bad value`);
  if (!ACTIONS.includes(v.action as ViolationAction)) bad(`${where}.action: unknown action`);
  return {
    vcpu: v.vcpu as number,
    rip: v.rip,
    cr: v.cr,
    old: v.old as number,
    attempted: v.attempted as number,
    pinnedHigh: v.pinnedHigh as number,
    pinnedLow: v.pinnedLow as number,
    source: v.source,
    profile: v.profile as PinProfile,
    sequence: v.sequence as number,
    action: v.action as ViolationAction,
  };
}

/** Validates a saved audit log against the capacity of the log that will hold it. */
function parseAuditLogState(state: unknown, capacity: number): { total: number; entries: Violation[] } {
  if (typeof state !== "object" || state === null) bad("expected an object");
  const s = state as Record<string, unknown>;
  if (s.version !== 1) bad(`unsupported version ${String(s.version)} (expected 1)`);
  if (s.capacity !== capacity) bad(`capacity ${String(s.capacity)} differs from this VM's ${capacity}`);
  if (!Number.isSafeInteger(s.total) || (s.total as number) < 0) bad("total: expected a count");
  if (!Array.isArray(s.entries)) bad("entries: expected an array");
  const total = s.total as number;
  if (s.entries.length > capacity || s.entries.length > total) bad("more entries than capacity or total");
  const entries = s.entries.map((e, i) => parseViolation(e, `entries[${i}]`));
  // Retained entries are the last ones appended: consecutive sequence numbers ending at total.
  entries.forEach((e, i) => {
    if (e.sequence !== total - entries.length + 1 + i) bad(`entries[${i}].sequence: not consecutive`);
  });
  return { total, entries };
}
