/**
 * The saved state of a LocalApic: a versioned plain object (bigints for the two 64-bit
 * values), and its validation. `parseLocalApicState` checks every field before anything is
 * loaded, so a refused state leaves the APIC unchanged; it throws HvError("bad-state") naming
 * the field.
 */
import { HvError } from "../errors.js";
import { apicBaseReservedBits, apicModeOf } from "./apic-base.js";
import {
  DFR_BITS,
  DIVIDE_CONFIG_WRITABLE,
  ICR_BITS,
  LVT,
  LVT_ENTRIES,
  LVT_READ_ONLY,
  LVT_WRITABLE,
  SVR_BITS,
} from "./registers.js";

/** The version of LocalApicState this code writes and reads. */
export const LOCAL_APIC_STATE_VERSION = 1;

/** Saved timer state (see timer.ts). */
export interface LocalApicTimerState {
  divideConfig: number;
  initialCount: number;
  running: boolean;
  startTime: number;
  countStart: number;
  tscDeadline: bigint;
}

/** Events latched for the vCPU and not yet taken. */
export interface LocalApicEventState {
  init: boolean;
  /** Start-up vector, or -1. */
  sipi: number;
  nmi: boolean;
  smi: boolean;
  /** An ExtINT message waiting for the vCPU's INTA to the 8259. */
  extInt: boolean;
}

/** Everything a LocalApic holds, as a plain object (LocalApic.save / load). */
export interface LocalApicState {
  version: typeof LOCAL_APIC_STATE_VERSION;
  /** The initial APIC ID; load refuses a state saved from another APIC. */
  apicId: number;
  apicBase: bigint;
  xapicId: number;
  tpr: number;
  ldr: number;
  dfr: number;
  svr: number;
  /** The ESR as software reads it. */
  esr: number;
  /** Errors detected since the last ESR write (SDM Vol.3 10.5.3). */
  pendingEsr: number;
  icrLow: number;
  icrHigh: number;
  irr: number[];
  isr: number[];
  tmr: number[];
  /** LVT entries in LVT_ENTRIES order. */
  lvt: number[];
  timer: LocalApicTimerState;
  events: LocalApicEventState;
  /** Last level seen on LINT0 and LINT1. */
  lint: [boolean, boolean];
}

/** What a state must agree with: the identity and features of the APIC loading it. */
export interface LocalApicStateContext {
  apicId: number;
  maxPhysAddr: number;
  x2apicSupported: boolean;
  tscDeadlineSupported: boolean;
}

function fail(field: string, why: string): never {
  throw new HvError("bad-state", `local APIC state: ${field} ${why}`);
}

function record(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(field, "is not an object");
  return value as Record<string, unknown>;
}

function u32(value: unknown, field: string, allowed = 0xffffffff): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    fail(field, `must be an integer in 0..FFFFFFFFH, got ${String(value)}`);
  }
  if ((value & ~allowed) !== 0) fail(field, `has reserved bits set: ${value.toString(16)}H`);
  return value;
}

function bool(value: unknown, field: string): boolean {
  if (typeof value !== "boolean") fail(field, `must be a boolean, got ${String(value)}`);
  return value;
}

function words(value: unknown, field: string, length: number, allowed: (i: number) => number): number[] {
  if (!Array.isArray(value) || value.length !== length) fail(field, `must be an array of ${length} numbers`);
  return value.map((word, i) => u32(word, `${field}[${i}]`, allowed(i)));
}

/** Checks `input` field by field and returns it typed; throws HvError("bad-state"). */
export function parseLocalApicState(input: unknown, context: LocalApicStateContext): LocalApicState {
  const s = record(input, "state");
  if (s.version !== LOCAL_APIC_STATE_VERSION) {
    fail("version", `is ${String(s.version)}, expected ${LOCAL_APIC_STATE_VERSION}`);
  }
  const apicId = u32(s.apicId, "apicId");
  if (apicId !== context.apicId) fail("apicId", `is ${apicId}, but this APIC's ID is ${context.apicId}`);
  if (typeof s.apicBase !== "bigint") fail("apicBase", "must be a bigint");
  const reserved = apicBaseReservedBits(context.maxPhysAddr, context.x2apicSupported);
  if (s.apicBase < 0n || (s.apicBase & reserved) !== 0n) fail("apicBase", "has reserved bits set");
  if (apicModeOf(s.apicBase) === "invalid") fail("apicBase", "has EXTD set without EN");
  const irrLow = (i: number) => (i === 0 ? 0xffff0000 : 0xffffffff);
  const timerWritable = LVT_WRITABLE[LVT.TIMER] | (context.tscDeadlineSupported ? 0x40000 : 0);
  const lvt = words(s.lvt, "lvt", LVT_ENTRIES.length, (i) =>
    i === LVT.TIMER ? timerWritable : LVT_WRITABLE[i] | LVT_READ_ONLY,
  );
  if ((lvt[LVT.TIMER] & 0x60000) === 0x60000) fail("lvt[timer]", "selects the reserved timer mode 11B");
  const dfr = u32(s.dfr, "dfr");
  if ((dfr & DFR_BITS.RESERVED_ONES) !== DFR_BITS.RESERVED_ONES) fail("dfr", "bits 27:0 must be all ones");
  const t = record(s.timer, "timer");
  const running = bool(t.running, "timer.running");
  const initialCount = u32(t.initialCount, "timer.initialCount");
  const countStart = u32(t.countStart, "timer.countStart");
  if (typeof t.startTime !== "number" || !Number.isFinite(t.startTime)) {
    fail("timer.startTime", "must be a finite number");
  }
  if (running && (initialCount === 0 || countStart === 0)) {
    fail("timer.running", "is set with a zero initial or start count");
  }
  if (typeof t.tscDeadline !== "bigint" || t.tscDeadline < 0n || t.tscDeadline >> 64n !== 0n) {
    fail("timer.tscDeadline", "must be a bigint in 0..2^64-1");
  }
  const e = record(s.events, "events");
  const sipi = e.sipi;
  if (typeof sipi !== "number" || !Number.isInteger(sipi) || sipi < -1 || sipi > 0xff) {
    fail("events.sipi", `must be -1 or a vector 0..255, got ${String(sipi)}`);
  }
  if (!Array.isArray(s.lint) || s.lint.length !== 2) fail("lint", "must be an array of 2 booleans");
  return {
    version: LOCAL_APIC_STATE_VERSION,
    apicId,
    apicBase: s.apicBase,
    xapicId: u32(s.xapicId, "xapicId", 0xff),
    tpr: u32(s.tpr, "tpr", 0xff),
    ldr: u32(s.ldr, "ldr", 0xff000000),
    dfr,
    svr: u32(s.svr, "svr", SVR_BITS.WRITABLE),
    esr: u32(s.esr, "esr", 0xff),
    pendingEsr: u32(s.pendingEsr, "pendingEsr", 0xff),
    icrLow: u32(s.icrLow, "icrLow", ICR_BITS.WRITABLE_LOW),
    icrHigh: u32(s.icrHigh, "icrHigh"),
    irr: words(s.irr, "irr", 8, irrLow),
    isr: words(s.isr, "isr", 8, irrLow),
    tmr: words(s.tmr, "tmr", 8, irrLow),
    lvt,
    timer: {
      divideConfig: u32(t.divideConfig, "timer.divideConfig", DIVIDE_CONFIG_WRITABLE),
      initialCount,
      running,
      startTime: t.startTime,
      countStart,
      tscDeadline: t.tscDeadline,
    },
    events: {
      init: bool(e.init, "events.init"),
      sipi,
      nmi: bool(e.nmi, "events.nmi"),
      smi: bool(e.smi, "events.smi"),
      extInt: bool(e.extInt, "events.extInt"),
    },
    lint: [bool(s.lint[0], "lint[0]"), bool(s.lint[1], "lint[1]")],
  };
}
