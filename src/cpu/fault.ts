/**
 * Architectural faults as host exceptions: an instruction that faults throws a CpuFault,
 * the execution loop catches it and delivers the exception (SDM Vol.3 6.5 "Exception
 * Classifications": faults leave the state as before the instruction).
 */

/** A fault or trap raised while executing one instruction. */
export class CpuFault {
  /** Vector number (0-31). */
  readonly vector: number;
  /** Error code, or -1 when the exception has none. */
  readonly errorCode: number;
  /** Create a fault. */
  constructor(vector: number, errorCode: number) {
    this.vector = vector;
    this.errorCode = errorCode;
  }
}

/** Raise #GP with an error code (default 0). */
export function gp(errorCode = 0): never {
  throw new CpuFault(13, errorCode);
}

/** Raise #UD. */
export function ud(): never {
  throw new CpuFault(6, -1);
}

/** Raise #SS with an error code. */
export function ss(errorCode = 0): never {
  throw new CpuFault(12, errorCode);
}

/** Raise #NP with an error code. */
export function np(errorCode: number): never {
  throw new CpuFault(11, errorCode);
}

/** Raise #TS with an error code. */
export function ts(errorCode: number): never {
  throw new CpuFault(10, errorCode);
}

/** Raise #DE. */
export function de(): never {
  throw new CpuFault(0, -1);
}

/** Raise #NM. */
export function nm(): never {
  throw new CpuFault(7, -1);
}
