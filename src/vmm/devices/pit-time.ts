/**
 * Conversions between the virtual clock's nanoseconds and a device's input clock: the 8254's
 * 1.193182 MHz on the PC (the 14.31818 MHz crystal divided by 12), the MC146818's 32.768 kHz.
 * Done in two parts (whole seconds and the remainder) so that every product stays below 2^53
 * and the result is exact.
 */

/** The PC's PIT input clock in Hz. */
export const PIT_HZ = 1_193_182;
const NS_PER_S = 1_000_000_000;

/** Number of whole ticks of an `hz` clock from time 0 to `ns` nanoseconds. */
export function ticksAt(ns: number, hz: number): number {
  const seconds = Math.floor(ns / NS_PER_S);
  const rest = ns - seconds * NS_PER_S;
  return seconds * hz + Math.floor((rest * hz) / NS_PER_S);
}

/** The first nanosecond at which `ticksAt(ns, hz)` reaches `ticks`. */
export function nsAt(ticks: number, hz: number): number {
  const seconds = Math.floor(ticks / hz);
  const rest = ticks - seconds * hz;
  return seconds * NS_PER_S + Math.ceil((rest * NS_PER_S) / hz);
}

/** Number of whole PIT clock ticks from time 0 to `ns` nanoseconds. */
export function pitTicksAt(ns: number): number {
  return ticksAt(ns, PIT_HZ);
}

/** The first nanosecond at which `pitTicksAt` reaches `ticks`. */
export function pitNsAt(ticks: number): number {
  return nsAt(ticks, PIT_HZ);
}
