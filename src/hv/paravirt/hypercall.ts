/**
 * The KVM hypercall ABI (Linux Documentation/virt/kvm/x86/hypercalls.rst): VMCALL/VMMCALL
 * with the number in RAX and up to four arguments in RBX, RCX, RDX, RSI; the result goes to
 * RAX and no other register changes. Semantics follow kvm_emulate_hypercall (arch/x86/kvm/
 * x86.c): outside 64-bit mode the number and arguments are truncated to 32 bits and so is
 * the result; a hypercall from CPL > 0 returns -KVM_EPERM in RAX (it does not raise #UD;
 * #UD at CPL > 0 is the Hyper-V hypercall rule in kvm_hv_hypercall); an unknown number
 * returns -KVM_ENOSYS (-1000). Either way the instruction completes and RIP advances.
 *
 * Implemented: KVM_HC_VAPIC_POLL_IRQ (1) -> 0, and for heki2024 KVM_HC_LOCK_CR_UPDATE (13),
 * see heki.ts. In other profiles 13 is an unknown number (CONFIG_HEKI absent).
 */
import { HvError } from "../errors.js";
import type { HekiConfigureEvent, VcpuPinning } from "./cr-pinning.js";
import { KVM_ERRNO, KVM_HC } from "./profiles.js";

/** The registers a hypercall reads (64-bit values). */
export interface HypercallRegs {
  /** Hypercall number. */
  rax: bigint;
  /** a0. */
  rbx: bigint;
  /** a1. */
  rcx: bigint;
  /** a2. */
  rdx: bigint;
  /** a3. */
  rsi: bigint;
}

/** Where the hypercall was made. */
export interface HypercallContext {
  /** Current privilege level 0..3. */
  cpl: number;
  /** True in 64-bit mode (IA32_EFER.LMA = 1 and CS.L = 1): KVM's is_64_bit_hypercall. */
  longMode64: boolean;
  /** The calling vCPU. */
  vcpu: VcpuPinning;
}

/** Heki configure exit (KVM_EXIT_HEKI_CONFIGURE = 40): the pin is already in force. */
export interface HekiConfigureExit {
  /** Exit kind. */
  kind: "heki-configure";
  /** Register pinned. */
  cr: HekiConfigureEvent["cr"];
  /** Mask OR-ed in. */
  mask: number;
}

/** Exits a hypercall can cause. */
export type HypercallExit = HekiConfigureExit;

/**
 * Result: write `rax` and advance RIP past VMCALL; or return `exit` from run() and, when the
 * VMM resumes the vCPU, write `raxOnResume` and advance RIP (complete_heki_configure_exit).
 */
export type HypercallResult = { rax: bigint } | { exit: HypercallExit; raxOnResume: bigint };

const U64_MAX = (1n << 64n) - 1n;

function u64(what: string, value: unknown): bigint {
  if (typeof value !== "bigint" || value < 0n || value > U64_MAX) {
    throw new HvError("bad-value", `hypercall ${what}: expected a bigint in 0..2^64-1`);
  }
  return value;
}

/** Emulates one KVM hypercall. */
export function handleHypercall(regs: HypercallRegs, ctx: HypercallContext): HypercallResult {
  if (!Number.isInteger(ctx.cpl) || ctx.cpl < 0 || ctx.cpl > 3) {
    throw new HvError("bad-value", `hypercall cpl: expected 0..3, got ${String(ctx.cpl)}`);
  }
  if (typeof ctx.longMode64 !== "boolean")
    throw new HvError("bad-value", "hypercall longMode64: expected a boolean");
  const width = ctx.longMode64 ? 64 : 32;
  const arg = (what: string, value: unknown) => BigInt.asUintN(width, u64(what, value));
  const nr = arg("rax", regs.rax);
  const a0 = arg("rbx", regs.rbx);
  const a1 = arg("rcx", regs.rcx);
  const a2 = arg("rdx", regs.rdx);
  arg("rsi", regs.rsi); // a3: no implemented hypercall uses it
  const result = (ret: number): bigint => BigInt.asUintN(width, BigInt(ret));

  if (ctx.cpl !== 0) return { rax: result(-KVM_ERRNO.EPERM) };
  if (nr === BigInt(KVM_HC.VAPIC_POLL_IRQ)) return { rax: 0n };
  if (nr === BigInt(KVM_HC.LOCK_CR_UPDATE) && ctx.vcpu.vm.profile === "heki2024") {
    const lock = ctx.vcpu.vm.lockCrUpdate(a0, a1, a2);
    if (lock.event) {
      return { exit: { kind: "heki-configure", cr: lock.event.cr, mask: lock.event.mask }, raxOnResume: 0n };
    }
    return { rax: result(lock.ret) };
  }
  return { rax: result(-KVM_ERRNO.ENOSYS) };
}
