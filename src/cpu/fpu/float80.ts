/**
 * float80.ts - public entry point of pinvm's x87 80-bit extended-precision soft-float
 * (Intel SDM Vol.1 ch.4 "Data Types" and ch.8 "Programming with the x87 FPU").
 *
 * Re-exports the representation and rounding core (float80-core.ts), arithmetic
 * (float80-arith.ts), comparison / partial remainder / scale / extract / round-to-integer
 * (float80-misc.ts) and format conversions incl. packed BCD (float80-conv.ts).
 */

export * from "./float80-core.js";
export * from "./float80-arith.js";
export * from "./float80-misc.js";
export * from "./float80-conv.js";
