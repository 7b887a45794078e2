/**
 * float80.ts - public entry point of pinvm's x87 80-bit extended-precision soft-float
 * (Intel SDM Vol.1 ch.4 "Data Types" and ch.8 "Programming with the x87 FPU").
 *
 * Re-exports the representation and rounding core (float80-core.ts), arithmetic
 * (float80-arith.ts), comparison / partial remainder / scale / extract / round-to-integer
 * (float80-misc.ts) and format conversions incl. packed BCD (float80-conv.ts).
 *
 * Conventions: every operation takes the x87 control word `cw` (RC, PC, exception masks;
 * SDM Vol.1 8.1.5), writes its result into a caller-owned Float80 (no allocation) and returns
 * the status-word bits it raises (IE/DE/ZE/OE/UE/PE and C0-C3; SDM Vol.1 8.1.3). The caller
 * ORs the exception bits into the sticky status word and decides about unmasked exceptions
 * (SDM Vol.1 8.7): with IE/ZE/DE unmasked the destination must be left unchanged; with OE/UE
 * unmasked, register results are already bias-adjusted (SDM Vol.1 8.5.4/8.5.5) and memory
 * stores (FST m32/m64) must be suppressed.
 *
 * Deliberate deviations checked on silicon: pseudo-denormals are valid operands raising DE
 * (SDM Vol.1 8.2.2), not invalid; FPREM/FPREM1 condition codes after an invalid operation
 * are undefined and not modelled.
 *
 * Transcendentals (FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1) and the
 * FLDPI-style constants are not part of this library: they live in x87-transcendental.ts
 * (200-bit fixed point, one rounding) and ops/x87.ts.
 */

export * from "./float80-core.js";
export * from "./float80-arith.js";
export * from "./float80-misc.js";
export * from "./float80-conv.js";
