/**
 * The seed thread's question, answered by experiment: a guest changes its vCPUs' state
 * (registers, control registers, MSRs, x87, the local APIC, CR pins on both vCPUs) and then
 * resets the machine through 0xCF9. The machine resets the vCPUs either with one
 * `vcpu.reset("reset")` each (the full vCPU reset the thread proposed) or by writing every
 * piece of RESET state through the set-APIs and zeroing the pin MSRs with host writes (the
 * way the thread settled). The complete vCPU state afterwards — everything the host API
 * can read, plus the processor's whole saved state — must be identical bit for bit.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { PcMachine, type ResetStyle } from "../../src/vmm/machine.js";
import type { Vcpu } from "../../src/hv/index.js";
import { enterFlat32, load32 } from "../helpers/hv-guest.js";

const CR4_PINNED_RFC2019 = 0x4b564d09;
const CR0_PINNED_RFC2019 = 0x4b564d08;

/** Everything observable about a vCPU through the host API and the saved processor state. */
function completeState(v: Vcpu): unknown {
  const saved = v.saveState();
  // Instruction and time counters are bookkeeping, not architectural state: the TSC value
  // itself is compared through the MSR list.
  // The processor keeps MSRs it has never been written as absent map entries; the values
  // themselves are compared for every index through getMsrs below.
  const {
    icount: _icount,
    tscOffset: _tscOffset,
    msrs: _msrs,
    ...cpu
  } = saved.cpu as unknown as Record<string, unknown>;
  const { localTime: _l, tscDelta: _t, retired: _r, ...hv } = saved.hv as unknown as Record<string, unknown>;
  return {
    regs: v.getRegs(),
    sregs: v.getSregs(),
    fpu: v.getFpu(),
    debug: v.getDebugRegs(),
    xcr0: v.getXcr0(),
    msrs: v.getMsrs(v.getMsrIndexList()),
    lapic: v.getLapic(),
    mpState: v.getMpState(),
    events: v.getVcpuEvents(),
    cpu,
    hv,
  };
}

function stateAfterReset(style: ResetStyle): { bsp: unknown; ap: unknown; pinsBefore: bigint[] } {
  const m = new PcMachine({
    memoryBytes: 4 << 20,
    cpus: 2,
    pinning: { profile: "rfc2019" },
    resetStyle: style,
  });
  const [bsp, ap] = m.vcpus;
  let captured: { bsp: unknown; ap: unknown } | null = null;
  const pinsBefore: bigint[] = [];
  m.setBoot((machine) => {
    if (machine.resets === 0) {
      const vm = machine.vm;
      // BSP: pin SMEP (and set it), set STAR and LSTAR, load x87 constants, enable its APIC
      // with a timer, then reset the machine through 0xCF9 (06H: hard reset).
      load32(
        vm,
        [
          `mov ecx, ${CR4_PINNED_RFC2019}`,
          "mov eax, 0x100000",
          "xor edx, edx",
          "wrmsr",
          "mov eax, cr4",
          "or eax, 0x100000",
          "mov cr4, eax",
          "mov ecx, 0xc0000081",
          "mov eax, 0x12345678",
          "mov edx, 0x00230010",
          "wrmsr",
          "fld1",
          "fldpi",
          "mov eax, [0xfee000f0]",
          "or eax, 0x1ff",
          "mov [0xfee000f0], eax",
          "mov dword ptr [0xfee00380], 1000000",
          "mov ebx, 0xdeadbeef",
          "mov dx, 0xcf9",
          "mov al, 6",
          "out dx, al",
          "hlt",
        ].join("\n"),
        0x10000,
      );
      // AP: pin CR0.WP, change CR0 and DR7, then halt.
      load32(
        vm,
        [
          `mov ecx, ${CR0_PINNED_RFC2019}`,
          "mov eax, 0x10000",
          "xor edx, edx",
          "wrmsr",
          "mov eax, cr0",
          "or eax, 0x10000",
          "mov cr0, eax",
          "mov eax, 0x401",
          "mov dr7, eax",
          "1: hlt",
          "jmp 1b",
        ].join("\n"),
        0x11000,
      );
      enterFlat32(bsp, 0x10000, vm);
      enterFlat32(ap, 0x11000, vm);
      ap.setMpState("runnable");
    } else if (captured === null) {
      captured = { bsp: completeState(bsp), ap: completeState(ap) };
    }
  });
  // Let the AP pin first: run it alone, then the machine.
  ap.run(1000);
  pinsBefore.push(ap.getMsr(CR0_PINNED_RFC2019));
  const result = m.run({ maxInstructions: 2000 });
  assert.equal(m.resets >= 1, true, `the guest reset the machine (result ${result.kind})`);
  assert.ok(captured, "state captured after the reset");
  const c = captured as { bsp: unknown; ap: unknown };
  return { ...c, pinsBefore };
}

test("RESET by vcpu.reset('reset') and by the VMM's set-API writes leave identical vCPU state", () => {
  const byVcpu = stateAfterReset("vcpu");
  const byVmm = stateAfterReset("vmm");
  // The guest did pin before the reset, so the comparison is not of two untouched vCPUs.
  assert.equal(byVcpu.pinsBefore[0], 0x10000n);
  assert.deepEqual(byVmm.bsp, byVcpu.bsp);
  assert.deepEqual(byVmm.ap, byVcpu.ap);
  // And the state is the RESET state: pins cleared, real mode at F000:FFF0.
  const bsp = byVcpu.bsp as {
    regs: { rip: bigint };
    sregs: { cs: { selector: number } };
    msrs: { index: number; value: bigint }[];
  };
  assert.equal(bsp.regs.rip, 0xfff0n);
  assert.equal(bsp.sregs.cs.selector, 0xf000);
  assert.equal(bsp.msrs.find((e) => e.index === CR4_PINNED_RFC2019)?.value, 0n);
});
