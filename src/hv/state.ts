/**
 * The vCPU register state as the hypervisor API shows it to the VMM, shaped after KVM's
 * `struct kvm_regs` / `struct kvm_sregs`: plain objects with 64-bit values as bigints (these
 * calls are host-side and rare, so exactness beats speed here; the CPU itself never sees a
 * bigint). Segment registers carry their hidden (descriptor-cache) part, as in
 * `struct kvm_segment`, so a VMM can put a vCPU straight into protected or long mode.
 */

/** General-purpose registers, RIP and RFLAGS (KVM_GET_REGS / KVM_SET_REGS). */
export interface Regs {
  rax: bigint;
  rbx: bigint;
  rcx: bigint;
  rdx: bigint;
  rsi: bigint;
  rdi: bigint;
  rsp: bigint;
  rbp: bigint;
  r8: bigint;
  r9: bigint;
  r10: bigint;
  r11: bigint;
  r12: bigint;
  r13: bigint;
  r14: bigint;
  r15: bigint;
  rip: bigint;
  rflags: bigint;
}

/** Register names of Regs in the CPU's GPR numbering (RAX=0 .. R15=15). */
export const GPR_NAMES = [
  "rax",
  "rcx",
  "rdx",
  "rbx",
  "rsp",
  "rbp",
  "rsi",
  "rdi",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
] as const;

/** Every key a Regs object has. */
export const REGS_KEYS: readonly (keyof Regs)[] = [...GPR_NAMES, "rip", "rflags"];

/**
 * One segment register, visible selector plus hidden descriptor cache (`struct
 * kvm_segment`). `limit` is in bytes (already scaled by G), as the processor holds it.
 */
export interface Segment {
  selector: number;
  base: bigint;
  limit: number;
  /** Descriptor type field (4 bits). */
  type: number;
  /** S: 1 for code/data, 0 for system segments. */
  s: number;
  dpl: number;
  present: number;
  avl: number;
  /** L: 64-bit code segment. */
  l: number;
  /** D/B: 32-bit default operand / stack size. */
  db: number;
  /** G: limit granularity (informational; `limit` is already in bytes). */
  g: number;
}

/** Every key a Segment object has. */
export const SEGMENT_KEYS: readonly (keyof Segment)[] = [
  "selector",
  "base",
  "limit",
  "type",
  "s",
  "dpl",
  "present",
  "avl",
  "l",
  "db",
  "g",
];

/** GDTR or IDTR. */
export interface DescriptorTable {
  base: bigint;
  limit: number;
}

/** Segment, system-table and control registers (KVM_GET_SREGS / KVM_SET_SREGS). */
export interface Sregs {
  cs: Segment;
  ds: Segment;
  es: Segment;
  fs: Segment;
  gs: Segment;
  ss: Segment;
  tr: Segment;
  ldt: Segment;
  gdt: DescriptorTable;
  idt: DescriptorTable;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
}

/** Segment-register keys of Sregs in the CPU's segment numbering (SEG.ES .. SEG.TR). */
export const SEGMENT_NAMES = ["es", "cs", "ss", "ds", "fs", "gs", "ldt", "tr"] as const;

/** Every key an Sregs object has. */
export const SREGS_KEYS: readonly (keyof Sregs)[] = [
  ...SEGMENT_NAMES,
  "gdt",
  "idt",
  "cr0",
  "cr2",
  "cr3",
  "cr4",
  "cr8",
  "efer",
];

/**
 * x87 and SSE state (KVM_GET_FPU / KVM_SET_FPU, `struct kvm_fpu`). `st` holds the eight data
 * registers in stack order ST(0)..ST(7), each as 10 little-endian bytes (the FXSAVE layout);
 * `ftw` is the full 16-bit tag word (2 bits per physical register, SDM Vol.1 8.1.7).
 */
export interface Fpu {
  fcw: number;
  fsw: number;
  ftw: number;
  /** Last x87 opcode (11 bits). */
  fop: number;
  /** Last instruction pointer and its CS selector. */
  fip: bigint;
  fcs: number;
  /** Last data pointer and its DS selector. */
  fdp: bigint;
  fds: number;
  st: Uint8Array[];
  /** XMM0..XMM15, 16 little-endian bytes each. */
  xmm: Uint8Array[];
  mxcsr: number;
}

/** Every key an Fpu object has. */
export const FPU_KEYS: readonly (keyof Fpu)[] = [
  "fcw",
  "fsw",
  "ftw",
  "fop",
  "fip",
  "fcs",
  "fdp",
  "fds",
  "st",
  "xmm",
  "mxcsr",
];

/** DR0-DR3, DR6, DR7 (KVM_GET_DEBUGREGS / KVM_SET_DEBUGREGS). */
export interface DebugRegs {
  db: bigint[];
  dr6: bigint;
  dr7: bigint;
}

/** One MSR index and value (an entry of `struct kvm_msrs`). */
export interface MsrEntry {
  index: number;
  value: bigint;
}

/**
 * The vCPU's multiprocessing state (KVM_GET_MP_STATE / KVM_SET_MP_STATE): an AP waits for
 * INIT ("uninitialized") and then for a SIPI ("init-received"); "sipi-received" is a SIPI
 * that has arrived but not yet started the processor; "halted" is HLT.
 */
export type MpState = "uninitialized" | "init-received" | "sipi-received" | "runnable" | "halted";

/** All MpState values. */
export const MP_STATES: readonly MpState[] = [
  "uninitialized",
  "init-received",
  "sipi-received",
  "runnable",
  "halted",
];

/**
 * An exception the VMM queued with setVcpuEvents (KVM_SET_VCPU_EVENTS with
 * `exception.pending`): delivered through the IDT before the next guest instruction, as
 * KVM injects it on the next VM entry. `errorCode` is required exactly for the vectors
 * that push one (SDM Vol.3 6.13: 8, 10-14, 17, 21) and null otherwise; `cr2` (only for #PF,
 * KVM's exception payload) is written to CR2 when the exception is delivered.
 */
export interface PendingException {
  vector: number;
  errorCode: number | null;
  cr2?: bigint;
}

/**
 * Pending and blocked events (KVM_GET_VCPU_EVENTS / KVM_SET_VCPU_EVENTS). The processor
 * delivers the exceptions it raises itself inside the instruction that raises them, so
 * `exception` is non-null only while one queued by the VMM waits for the next run().
 */
export interface VcpuEvents {
  exception: PendingException | null;
  /** One-instruction interrupt shadow after STI / MOV SS. */
  interruptShadow: boolean;
  nmi: { pending: boolean; masked: boolean };
  smi: { smm: boolean; pending: boolean; latchedInit: boolean };
  /** A SIPI vector received in wait-for-SIPI and not yet acted on, or -1. */
  sipiVector: number;
}

/** One CPUID leaf/subleaf as the guest sees it (an entry of `struct kvm_cpuid2`). */
export interface CpuidEntry {
  function: number;
  index: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}
