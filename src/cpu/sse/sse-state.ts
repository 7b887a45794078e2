/** The SSE register file: XMM0-XMM15 and MXCSR (SDM Vol.1 10.2). */

/** SSE state. Each XMM register is four little-endian dwords at xmm[reg*4 .. reg*4+3]. */
export class SseState {
  /** XMM registers as 64 dwords. */
  readonly xmm = new Int32Array(64);
  /** Byte view of the same storage. */
  readonly bytes = new Uint8Array(this.xmm.buffer);
  /** Float32 view. */
  readonly f32 = new Float32Array(this.xmm.buffer);
  /** Float64 view. */
  readonly f64 = new Float64Array(this.xmm.buffer);
  /** Signed byte view. */
  readonly i8 = new Int8Array(this.xmm.buffer);
  /** Signed word view. */
  readonly i16 = new Int16Array(this.xmm.buffer);
  /** Unsigned word view. */
  readonly u16 = new Uint16Array(this.xmm.buffer);
  /** Unsigned dword view. */
  readonly u32 = new Uint32Array(this.xmm.buffer);
  /** MXCSR. */
  mxcsr = 0x1f80;

  /** Power-up / RESET values: registers 0, MXCSR 1F80H. */
  reset(): void {
    this.xmm.fill(0);
    this.mxcsr = 0x1f80;
  }
}
