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
