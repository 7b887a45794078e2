/** Exception and interrupt vectors (SDM Vol.3 6.3.1, Table 6-1; 6.15 exception classes). */

/** Architectural exception vectors. */
export const VEC = {
  DE: 0,
  DB: 1,
  NMI: 2,
  BP: 3,
  OF: 4,
  BR: 5,
  UD: 6,
  NM: 7,
  DF: 8,
  TS: 10,
  NP: 11,
  SS: 12,
  GP: 13,
  PF: 14,
  MF: 16,
  AC: 17,
  MC: 18,
  XM: 19,
  VE: 20,
  CP: 21,
} as const;

/** Vectors that push an error code (SDM Vol.3 Table 6-1). */
export function hasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17 || vector === 21;
}

/** Exception class used for double-fault detection (SDM Vol.3 6.15, Table 6-4/6-5). */
export const enum ExceptionClass {
  Benign = 0,
  Contributory = 1,
  PageFault = 2,
}

/** Classify a vector per SDM Vol.3 Table 6-4. */
export function exceptionClass(vector: number): ExceptionClass {
  if (vector === 0 || (vector >= 10 && vector <= 13)) return ExceptionClass.Contributory;
  if (vector === 14) return ExceptionClass.PageFault;
  return ExceptionClass.Benign;
}

/** #PF error-code bits (SDM Vol.3 4.7, Figure 4-12). */
export const PF_ERR = {
  P: 1 << 0,
  W: 1 << 1,
  U: 1 << 2,
  RSVD: 1 << 3,
  ID: 1 << 4,
  PK: 1 << 5,
} as const;
