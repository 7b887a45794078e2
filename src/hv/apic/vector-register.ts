/**
 * The 256-bit vector registers IRR, ISR and TMR (SDM Vol.3 10.8.4, Figure 10-20): bit n
 * stands for vector n, held as eight 32-bit words, word i at MMIO offset base + 10H*i and
 * x2APIC MSR base + i.
 */

/** A 256-bit register, one bit per vector. */
export type VectorRegister = Uint32Array;

/** A new all-zero 256-bit register. */
export function newVectorRegister(): VectorRegister {
  return new Uint32Array(8);
}

/** Sets the bit of `vector`. */
export function setVector(register: VectorRegister, vector: number): void {
  register[vector >>> 5] |= 1 << (vector & 31);
}

/** Clears the bit of `vector`. */
export function clearVector(register: VectorRegister, vector: number): void {
  register[vector >>> 5] &= ~(1 << (vector & 31));
}

/** Whether the bit of `vector` is set. */
export function testVector(register: VectorRegister, vector: number): boolean {
  return (register[vector >>> 5] & (1 << (vector & 31))) !== 0;
}

/** The highest set vector, or -1 when the register is empty. */
export function highestVector(register: VectorRegister): number {
  for (let word = 7; word >= 0; word--) {
    const bits = register[word];
    if (bits !== 0) return word * 32 + 31 - Math.clz32(bits);
  }
  return -1;
}
