/**
 * The KVM-shaped vCPU API calls that the other hv tests only use in passing:
 * getMsrIndexList/getMsrs/setMsrs (KVM_GET_MSR_INDEX_LIST, KVM_GET/SET_MSRS: every listed
 * index readable, a listed round trip restores the state, all-or-nothing writes, typed errors),
 * setCpuid/getSupportedCpuid (KVM_SET_CPUID2 / KVM_GET_SUPPORTED_CPUID: what the guest's
 * CPUID returns, KVM's 40000000H signature, leaves missing from the table read 0, the
 * per-vCPU APIC ID in leaf 1, EDX after RESET = CPUID.1.EAX as SDM Vol.3 9.1.2 says),
 * getMpState/setMpState (KVM's five states) and getVcpuEvents/setVcpuEvents (NMI pending and
 * masked, SMI pending, latched INIT) and getFpu/setFpu (KVM_GET/SET_FPU), with the HvError
 * codes of bad arguments, including state saved from another vCPU or under another profile.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { Hypervisor, HvError, MSR_SMBASE, MSR_TSC_DEADLINE, type Vcpu, type Vm } from "../../src/hv/index.js";
import { MSR } from "../../src/x86/msr.js";
import { GUEST, enterFlat32, faultRecord, installRecordingIdt, load16, load32 } from "../helpers/hv-guest.js";

const PIN_MSRS = {
  off: [],
  rfc2019: [0x4b564d06, 0x4b564d07, 0x4b564d08, 0x4b564d09],
  jun2020: [0x4b564d08, 0x4b564d09, 0x4b564d0a, 0x4b564d0b, 0x4b564d0c, 0x4b564d0d],
  heki2024: [],
} as const;

function vm2(profile: keyof typeof PIN_MSRS = "off"): { vm: Vm; bsp: Vcpu; ap: Vcpu } {
  const vm = new Hypervisor().createVm({ memoryBytes: 2 << 20, pinning: { profile } });
  return { vm, bsp: vm.createVcpu(0), ap: vm.createVcpu(1) };
}

const code = (c: string) => (e: unknown) => e instanceof HvError && e.code === c;

test("getMsrIndexList lists the architectural MSRs, the APIC's, SMBASE and exactly the profile's pin MSRs", () => {
  for (const profile of ["off", "rfc2019", "jun2020", "heki2024"] as const) {
    const { bsp } = vm2(profile);
    const list = bsp.getMsrIndexList();
    for (const i of [
      MSR.IA32_EFER,
      MSR.IA32_PAT,
      MSR.IA32_TIME_STAMP_COUNTER,
      MSR.IA32_APIC_BASE,
      MSR_TSC_DEADLINE,
      MSR_SMBASE,
      MSR.IA32_MTRR_DEF_TYPE,
    ]) {
      assert.ok(list.includes(i), `${profile}: 0x${i.toString(16)} listed`);
    }
    const pins = list.filter((i) => i >= 0x4b564d00 && i <= 0x4b564dff).sort((a, b) => a - b);
    assert.deepEqual(pins, [...PIN_MSRS[profile]], profile);
    assert.equal(new Set(list).size, list.length, "no duplicates");
    // Every listed MSR can be read by the host.
    assert.equal(bsp.getMsrs(list).length, list.length);
  }
});

test("KVM_GET/SET_MSRS round trip over the index list restores a changed vCPU (jun2020)", () => {
  const { bsp } = vm2("jun2020");
  const list = bsp.getMsrIndexList();
  const saved = bsp.getMsrs(list);
  bsp.setMsrs([
    { index: MSR.IA32_PAT, value: 0x0606060606060606n },
    { index: MSR.IA32_LSTAR, value: 0xffff_8000_0000_1000n },
    { index: 0x4b564d0d, value: 1n << 20n }, // CR4_PINNED_HIGH: SMEP
    { index: MSR_SMBASE, value: 0xa0000n },
  ]);
  assert.equal(bsp.getMsr(0x4b564d0d), 1n << 20n);
  bsp.setMsrs(saved);
  assert.deepEqual(
    bsp.getMsrs(list).filter((e) => e.index !== MSR.IA32_TIME_STAMP_COUNTER),
    saved.filter((e) => e.index !== MSR.IA32_TIME_STAMP_COUNTER),
  );
});

test("setMsrs is all or nothing; unknown indices and impossible values are typed HvErrors", () => {
  const { bsp } = vm2("jun2020");
  const pat = bsp.getMsr(MSR.IA32_PAT);
  // An unknown index is refused before anything is written.
  assert.throws(
    () =>
      bsp.setMsrs([
        { index: MSR.IA32_PAT, value: 0n },
        { index: 0x12345, value: 0n },
      ]),
    code("bad-msr"),
  );
  assert.equal(bsp.getMsr(MSR.IA32_PAT), pat);
  // A value the MSR cannot hold (PAT type 2 is reserved, SDM Vol.3 Table 11-10) undoes the
  // entries before it.
  assert.throws(
    () =>
      bsp.setMsrs([
        { index: MSR.IA32_LSTAR, value: 0x1000n },
        { index: MSR.IA32_PAT, value: 2n },
      ]),
    code("bad-value"),
  );
  assert.equal(bsp.getMsr(MSR.IA32_PAT), pat);
  assert.equal(bsp.getMsr(MSR.IA32_LSTAR), 0n);
  // A pin both low and high is refused by the profile's host rule.
  bsp.setMsr(0x4b564d0d, 1n << 20n);
  assert.throws(() => bsp.setMsr(0x4b564d0c, 1n << 20n), code("bad-value"));
  // A read-only MSR accepts only the value it has (the index-list round trip above).
  assert.throws(() => bsp.setMsr(MSR.IA32_MTRRCAP, 0n), code("bad-value"));
  bsp.setMsr(MSR.IA32_MTRRCAP, bsp.getMsr(MSR.IA32_MTRRCAP));
  assert.throws(() => bsp.setMsrs({} as never), code("bad-argument"));
  assert.throws(() => bsp.getMsrs([MSR.IA32_PAT, -1]), code("bad-msr"));
  assert.throws(() => bsp.setMsr(MSR.IA32_PAT, 1n << 64n), HvError);
});

test("getSupportedCpuid: KVM's 40000000H signature, the hypervisor bit, the profile's 40000001H bit", () => {
  for (const [profile, bit] of [
    ["rfc2019", 14],
    ["jun2020", 15],
  ] as const) {
    const leaves = vm2(profile).bsp.getSupportedCpuid();
    const at = (fn: number) => leaves.find((l) => l.function === fn && l.index === 0);
    const kvm = at(0x40000000);
    assert.ok(kvm, "leaf 40000000H");
    assert.equal(kvm.eax, 0x40000001, "max hypervisor leaf");
    const sig = Buffer.alloc(12);
    sig.writeUInt32LE(kvm.ebx, 0);
    sig.writeUInt32LE(kvm.ecx, 4);
    sig.writeUInt32LE(kvm.edx, 8);
    assert.equal(sig.toString("latin1"), "KVMKVMKVM\0\0\0");
    assert.equal(((at(0x40000001)?.eax ?? 0) >>> bit) & 1, 1);
    assert.ok((at(1)?.ecx ?? 0) & (1 << 31), "CPUID.1:ECX[31] hypervisor present");
    assert.ok(at(0) && at(0x80000000), "basic and extended ranges");
  }
});

test("setCpuid: the guest's CPUID returns the table, 0 for missing leaves, its own APIC ID; RESET loads EDX = CPUID.1.EAX", () => {
  const { vm, ap } = vm2();
  const SIG = 0x000806c1;
  ap.setCpuid([
    { function: 0, index: 0, eax: 1, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 },
    { function: 1, index: 0, eax: SIG, ebx: 0, ecx: 0, edx: 0x00000001 | (1 << 9) },
  ]);
  load32(
    vm,
    [
      "xor eax, eax",
      "cpuid",
      "mov [0x7000], eax",
      "mov [0x7004], ebx",
      "mov eax, 1",
      "cpuid",
      "mov [0x7008], eax",
      "mov [0x700c], ebx",
      "mov eax, 7",
      "xor ecx, ecx",
      "cpuid",
      "mov [0x7010], ebx",
      "hlt",
    ].join("\n"),
  );
  enterFlat32(ap, GUEST.code, vm);
  ap.setMpState("runnable");
  assert.equal(ap.run().kind, "hlt");
  const d = (a: number) => new DataView(vm.readPhysical(a, 4).buffer).getUint32(0, true);
  assert.equal(d(0x7000), 1);
  assert.equal(d(0x7004), 0x756e6547);
  assert.equal(d(0x7008), SIG);
  assert.equal(d(0x700c) >>> 24, 1, "CPUID.1:EBX[31:24] = initial APIC ID of vCPU 1");
  assert.equal(d(0x7010), 0, "leaf 7 is not in the table");
  ap.reset("reset");
  assert.equal(Number(ap.getRegs().rdx), SIG, "EDX after RESET = CPUID.1.EAX (SDM Vol.3 9.1.2)");
  assert.throws(
    () =>
      ap.setCpuid([
        { function: 1, index: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 },
        { function: 1, index: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 },
      ]),
    code("bad-argument"),
  );
  assert.throws(() => ap.setCpuid([{ function: -1 } as never]), HvError);
});

test("mp state: BSP runnable, AP waiting for SIPI; HLT is halted; the five KVM states and their rules", () => {
  const { vm, bsp, ap } = vm2();
  assert.equal(bsp.getMpState(), "runnable");
  // After power-up an AP waits for a SIPI (SDM Vol.3 8.4.1; KVM: "uninitialized", see
  // docs/hypervisor.md). "uninitialized" is the VMM's to set: the vCPU does not run.
  assert.equal(ap.getMpState(), "init-received");
  ap.setMpState("uninitialized");
  assert.equal(ap.getMpState(), "uninitialized");
  assert.equal(ap.run().kind, "hlt");
  assert.equal(ap.getRegs().rip, 0xfff0n, "nothing ran");
  load32(vm, "hlt");
  enterFlat32(bsp, GUEST.code, vm);
  assert.equal(bsp.run().kind, "hlt");
  assert.equal(bsp.getMpState(), "halted");
  assert.throws(() => ap.setMpState("bogus" as never), code("bad-value"));
  assert.throws(() => ap.setMpState("sipi-received"), code("bad-state"), "no SIPI vector yet");
  // The VMM puts the AP in wait-for-SIPI with vector 9: it starts at 9000H, CS = 0900H.
  load16(vm, "hlt", 0x9000);
  ap.setMpState("init-received");
  assert.equal(ap.getMpState(), "init-received");
  ap.setVcpuEvents({ ...ap.getVcpuEvents(), sipiVector: 9 });
  ap.setMpState("sipi-received");
  assert.equal(ap.getMpState(), "sipi-received");
  assert.equal(ap.run().kind, "hlt");
  assert.equal(ap.getSregs().cs.selector, 0x900);
  assert.equal(ap.getSregs().cs.base, 0x9000n);
  // In SMM, INIT is blocked (SDM Vol.3 34.5): the INIT states are refused.
  ap.setVcpuEvents({ ...ap.getVcpuEvents(), smi: { smm: true, pending: false, latchedInit: false } });
  assert.throws(() => ap.setMpState("init-received"), code("bad-state"));
});

test("vCPU events: a pending NMI is taken through vector 2 unless NMIs are masked; a pending SMI enters SMM", () => {
  const { vm, bsp } = vm2();
  installRecordingIdt(vm);
  load32(vm, "nop\nhlt");
  enterFlat32(bsp, GUEST.code, vm);
  const ev = bsp.getVcpuEvents();
  bsp.setVcpuEvents({ ...ev, nmi: { pending: true, masked: true } });
  assert.equal(bsp.run().kind, "hlt");
  assert.equal(faultRecord(vm).count, 0, "masked: not delivered");
  assert.equal(bsp.getVcpuEvents().nmi.pending, true, "still pending");
  enterFlat32(bsp, GUEST.code, vm);
  bsp.setVcpuEvents({ ...bsp.getVcpuEvents(), nmi: { pending: true, masked: false } });
  assert.equal(bsp.run().kind, "hlt");
  assert.deepEqual(faultRecord(vm), { vector: 2, errorCode: -1, count: 1 });
  // SMI: the handler at SMBASE + 8000H (SDM Vol.3 34.4) halts in SMM.
  load16(vm, "hlt", 0x38000);
  enterFlat32(bsp, GUEST.code, vm);
  bsp.setVcpuEvents({ ...bsp.getVcpuEvents(), smi: { smm: false, pending: true, latchedInit: false } });
  assert.equal(bsp.run().kind, "hlt");
  const smi = bsp.getVcpuEvents().smi;
  assert.equal(smi.smm, true);
  assert.equal(smi.pending, false);
  assert.equal(bsp.getSregs().cs.base, 0x30000n, "CS base = SMBASE");
});

test("vCPU events refuse malformed input with typed errors and change nothing", () => {
  const { bsp } = vm2();
  const before = bsp.getVcpuEvents();
  assert.throws(
    () => bsp.setVcpuEvents({ ...before, smi: { smm: false, pending: false, latchedInit: true } }),
    code("bad-state"),
    "an INIT can only be latched in SMM",
  );
  assert.throws(() => bsp.setVcpuEvents({ ...before, nmi: { pending: 1 } } as never), code("bad-value"));
  assert.throws(() => bsp.setVcpuEvents({ ...before, sipiVector: 256 }), HvError);
  assert.throws(() => bsp.setVcpuEvents(null as never), code("bad-argument"));
  assert.deepEqual(bsp.getVcpuEvents(), before);
});

test("vCPU ids: out of range or duplicate is bad-vcpu", () => {
  const vm = new Hypervisor().createVm({ memoryBytes: 1 << 20 });
  vm.createVcpu(0);
  assert.throws(() => vm.createVcpu(0), code("bad-vcpu"));
  assert.throws(() => vm.createVcpu(-1), code("bad-vcpu"));
  assert.throws(() => vm.createVcpu(1.5), code("bad-vcpu"));
  assert.equal(vm.getVcpu(1), undefined);
});

test("KVM_GET/SET_FPU: x87 and SSE state round-trips exactly; the guest sees it; malformed input is refused", () => {
  const { vm, bsp } = vm2();
  const f = bsp.getFpu();
  const want = {
    ...f,
    fcw: 0x027f,
    fsw: 0x3800, // TOP = 7
    ftw: 0x3fff, // physical register 7 = ST(0) valid (bits 15:14 = 00), the others empty (11)
    fop: 0x123,
    st: f.st.map(
      (_, i) =>
        new Uint8Array([0, 0, 0, 0, 0, 0, 0, i === 0 ? 0x80 : 0, i === 0 ? 0xff : 0, i === 0 ? 0x3f : 0]),
    ),
    xmm: f.xmm.map((_, i) => new Uint8Array(16).fill(0x10 + i)),
    mxcsr: 0x1f80 | 0x6000, // RC = toward zero
  };
  bsp.setFpu(want);
  const got = bsp.getFpu();
  for (const k of ["fcw", "fsw", "ftw", "fop", "mxcsr"] as const) assert.equal(got[k], want[k], k);
  assert.deepEqual(
    got.st.map((b) => [...b]),
    want.st.map((b) => [...b]),
  );
  assert.deepEqual(
    got.xmm.map((b) => [...b]),
    want.xmm.map((b) => [...b]),
  );
  // ST(0) = 1.0 (80-bit 3FFF 8000000000000000H): the guest stores it as a double; XMM3 bytes 13H.
  load32(vm, ["fstp qword ptr [0x7000]", "movd eax, xmm3", "mov [0x7008], eax", "hlt"].join("\n"));
  enterFlat32(bsp, GUEST.code, vm);
  bsp.setSregs({ cr4: 1n << 9n }); // OSFXSR, so SSE instructions run
  assert.equal(bsp.run().kind, "hlt");
  assert.equal(new DataView(vm.readPhysical(0x7000, 8).buffer).getFloat64(0, true), 1.0);
  assert.equal(new DataView(vm.readPhysical(0x7008, 4).buffer).getUint32(0, true), 0x13131313);
  assert.throws(() => bsp.setFpu({ ...want, st: want.st.slice(1) }), HvError);
  assert.throws(() => bsp.setFpu({ ...want, mxcsr: -1 }), HvError);
});

test("state of the wrong vCPU or another profile is refused (bad-state) and changes nothing", () => {
  const { bsp, ap } = vm2("jun2020");
  bsp.setMsr(0x4b564d0d, 1n << 20n);
  const before = bsp.saveState();
  assert.throws(
    () => bsp.loadState(ap.saveState()),
    (e) => e instanceof HvError && e.code === "bad-state" && /vcpu 1/.test(e.message),
  );
  assert.throws(
    () => bsp.setLapic(ap.getLapic()),
    (e) => e instanceof HvError && e.code === "bad-state" && /ID/.test(e.message),
  );
  const other = vm2("rfc2019").bsp;
  assert.throws(
    () => other.loadState(before),
    (e) => e instanceof HvError && e.code === "bad-state" && /profile jun2020/.test(e.message),
  );
  assert.deepEqual(bsp.saveState(), before);
  assert.equal(bsp.getMsr(0x4b564d0d), 1n << 20n);
});
