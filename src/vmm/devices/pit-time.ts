/**
 * Conversions between the virtual clock's nanoseconds and the 8254's input clock, 1.193182 MHz
 * on the PC (the 14.31818 MHz crystal divided by 12). Done in two parts (whole seconds and the
 * remainder) so that every product stays below 2^53 and the result is exact.
 */

/** The PC's PIT input clock in Hz. */
export const PIT_HZ = 1_193_182;
const NS_PER_S = 1_000_000_000;

/** Number of whole PIT clock ticks from time 0 to `ns` nanoseconds. */
export function pitTicksAt(ns: number): number {
  const seconds = Math.floor(ns / NS_PER_S);
  const rest = ns - seconds * NS_PER_S;
  return seconds * PIT_HZ + Math.floor((rest * PIT_HZ) / NS_PER_S);
}

/** The first nanosecond at which `pitTicksAt` reaches `ticks`. */
export function pitNsAt(ticks: number): number {
  const seconds = Math.floor(ticks / PIT_HZ);
  const rest = ticks - seconds * PIT_HZ;
  return seconds * NS_PER_S + Math.ceil((rest * NS_PER_S) / PIT_HZ);
}
