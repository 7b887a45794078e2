/**
 * CR pinning end to end: guest code on real vCPUs discovers the feature through CPUID, pins
 * with WRMSR or the Heki hypercall, and every write path that would change a pinned bit —
 * MOV to CR4/CR0, LMSW, CLTS — faults with #GP(0) and leaves the register unchanged; the
 * violation is in the audit log and, when the VM asks for it, returned as an exit after the
 * #GP was injected (for every violation with `violations: "exit"`, per register with the
 * pinning option `denialExit`). SMM is exempt, and RSM restoring a violating CR4 does what
 * each profile's version did. VMCALL at CPL 3 returns -KVM_EPERM. INIT keeps or clears pins per the VM option; an INIT that arrives in SMM is
 * latched until RSM. Host setSregs is not subject to pins.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { Hypervisor, type Vcpu, type Vm, type VmOptions } from "../../src/hv/index.js";
import {
  GUEST,
  enterFlat32,
  faultRecord,
  installRecordingIdt,
  load16,
  load32,
  read32,
} from "../helpers/hv-guest.js";

const SMEP = 1 << 20;
const RFC_CR4_PINNED = 0x4b564d09;
const RFC_CR0_PINNED = 0x4b564d08;
const JUN_CR4_PINNED_HIGH = 0x4b564d0d;

function vmWith(options: Partial<VmOptions>, cpus = 1): { vm: Vm; vcpus: Vcpu[] } {
  const vm = new Hypervisor().createVm({ memoryBytes: 2 << 20, ...options });
  const vcpus = Array.from({ length: cpus }, (_, i) => vm.createVcpu(i));
  installRecordingIdt(vm, 3); // #GP handlers skip the 3-byte MOV CRn / LMSW / 0F 06 + pad
  return { vm, vcpus };
}

/** Guest: pin SMEP with `msr`, set CR4.SMEP, then try to clear it with MOV CR4 and record CR4. */
function pinThenClearSmep(msr: number): string {
  // Set the bit, then pin it (as Linux does): rfc2019 refuses any change of a pinned bit,
  // setting included.
  return [
    "mov eax, cr4",
    `or eax, ${SMEP}`,
    "mov cr4, eax",
    `mov ecx, ${msr}`,
    `mov eax, ${SMEP}`,
    "xor edx, edx",
    "wrmsr",
    "mov eax, cr4",
    `and eax, ${~SMEP >>> 0}`,
    "mov cr4, eax", // 3 bytes (0F 22 E0): faults, the handler skips it
    "mov eax, cr4",
    "mov [0x7000], eax",
    "hlt",
  ].join("\n");
}

test("CPUID shows KVM's leaves and the profile's CR-pin feature bit", () => {
  for (const [profile, bit] of [
    ["rfc2019", 14],
    ["jun2020", 15],
  ] as const) {
    const { vm, vcpus } = vmWith({ pinning: { profile } });
    load32(
      vm,
      [
        "mov eax, 1",
        "cpuid",
        "mov [0x7000], ecx",
        "mov eax, 0x40000000",
        "cpuid",
        "mov [0x7004], ebx",
        "mov [0x7008], ecx",
        "mov [0x700c], edx",
        "mov eax, 0x40000001",
        "cpuid",
        "mov [0x7010], eax",
        "hlt",
      ].join("\n"),
    );
    enterFlat32(vcpus[0], GUEST.code, vm);
    assert.equal(vcpus[0].run().kind, "hlt");
    assert.ok(read32(vm, 0x7000) & (1 << 31), "CPUID.1:ECX.hypervisor");
    const sig = Buffer.from(vm.readPhysical(0x7004, 12)).toString("latin1");
    assert.equal(sig, "KVMKVMKVM\0\0\0");
    assert.equal((read32(vm, 0x7010) >>> bit) & 1, 1, `${profile}: feature bit ${bit}`);
  }
});

test("rfc2019: MOV CR4 clearing pinned SMEP is #GP(0), CR4 unchanged, logged with RIP and values", () => {
  const { vm, vcpus } = vmWith({ pinning: { profile: "rfc2019" } });
  load32(vm, pinThenClearSmep(RFC_CR4_PINNED));
  enterFlat32(vcpus[0], GUEST.code, vm);
  assert.equal(vcpus[0].run().kind, "hlt");
  assert.deepEqual(faultRecord(vm), { vector: 13, errorCode: 0, count: 1 });
  assert.ok(read32(vm, 0x7000) & SMEP, "CR4.SMEP still set");
  const entries = vm.pinning.log.entries();
  assert.equal(entries.length, 1);
  const v = entries[0];
  assert.equal(v.cr, "cr4");
  assert.equal(v.vcpu, 0);
  assert.equal(v.source, "mov");
  assert.ok(v.old & SMEP);
  assert.equal(v.attempted & SMEP, 0);
  // RIP of the faulting MOV CR4 (0F 22 E0), found in the code bytes.
  const code = vm.readPhysical(GUEST.code, 64);
  let at = -1;
  for (let i = 0, seen = 0; i < 62; i++) {
    if (code[i] === 0x0f && code[i + 1] === 0x22 && code[i + 2] === 0xe0 && ++seen === 2) at = i;
  }
  assert.equal(v.rip, BigInt(GUEST.code + at), "RIP of the second MOV CR4, EAX");
});

test("violations 'exit': run() returns the violation after the #GP was injected", () => {
  const { vm, vcpus } = vmWith({ pinning: { profile: "jun2020" }, violations: "exit" });
  load32(vm, pinThenClearSmep(JUN_CR4_PINNED_HIGH));
  enterFlat32(vcpus[0], GUEST.code, vm);
  const exit = vcpus[0].run();
  assert.equal(exit.kind, "cr-pin-violation");
  if (exit.kind === "cr-pin-violation") assert.equal(exit.violation.cr, "cr4");
  // The #GP is already being delivered: the handler has run (count 1) by the next run() stop.
  assert.equal(vcpus[0].run().kind, "hlt");
  assert.equal(faultRecord(vm).count, 1);
  assert.ok(read32(vm, 0x7000) & SMEP);
});

test("LMSW and CLTS are checked too (CR0.TS pinned with a widened allowed mask)", () => {
  const TS = 1 << 3;
  const { vm, vcpus } = vmWith({ pinning: { profile: "rfc2019", allowedCr0: (1 << 16) | TS } });
  load32(
    vm,
    [
      "mov eax, cr0",
      `or eax, ${TS}`,
      "mov cr0, eax",
      `mov ecx, ${RFC_CR0_PINNED}`,
      `mov eax, ${TS}`,
      "xor edx, edx",
      "wrmsr",
      "clts", // 0F 06 (2 bytes) + nop: faults, handler skips 3
      "nop",
      "mov eax, cr0",
      "mov [0x7000], eax",
      "mov ax, 1", // LMSW with TS = 0: PE kept, TS cleared -> violation
      "lmsw ax", // 0F 01 F0 (3 bytes)
      "mov eax, cr0",
      "mov [0x7004], eax",
      "hlt",
    ].join("\n"),
  );
  enterFlat32(vcpus[0], GUEST.code, vm);
  assert.equal(vcpus[0].run().kind, "hlt");
  assert.equal(faultRecord(vm).count, 2);
  assert.ok(read32(vm, 0x7000) & TS, "CLTS refused");
  assert.ok(read32(vm, 0x7004) & TS, "LMSW refused");
  assert.deepEqual(
    vm.pinning.log.entries().map((e) => e.source),
    ["clts", "lmsw"],
  );
});

test("unpinned bits stay writable and the host's setSregs is not subject to pins", () => {
  const { vm, vcpus } = vmWith({ pinning: { profile: "rfc2019" } });
  load32(
    vm,
    [
      "mov eax, cr4",
      `or eax, ${SMEP}`,
      "mov cr4, eax",
      `mov ecx, ${RFC_CR4_PINNED}`,
      `mov eax, ${SMEP}`,
      "xor edx, edx",
      "wrmsr",
      "mov eax, cr4",
      "or eax, 0x80", // PGE
      "mov cr4, eax",
      "and eax, 0xffffff7f", // clear PGE only
      "mov cr4, eax",
      "mov [0x7000], eax",
      "hlt",
    ].join("\n"),
  );
  enterFlat32(vcpus[0], GUEST.code, vm);
  assert.equal(vcpus[0].run().kind, "hlt");
  assert.equal(faultRecord(vm).count, 0);
  assert.equal(read32(vm, 0x7000) & 0x80, 0);
  vcpus[0].setSregs({ cr4: 0n });
  assert.equal(vcpus[0].getSregs().cr4, 0n);
});

/** SMM: a handler at SMBASE+8000H that clears SMEP in the saved CR4 image, then RSM. */
function installSmmHandler(vm: Vm): void {
  load16(vm, "and dword ptr cs:[0xff48], 0xffefffff\nrsm", 0x38000);
}

/**
 * Guest: set `bit` of `cr` (default CR4.SMEP), pin it through `msr`, SMI itself through its
 * APIC, then record `cr` at 0x7000.
 */
function pinThenSelfSmi(msr: number, cr: "cr0" | "cr4" = "cr4", bit: number = SMEP): string {
  return [
    `mov eax, ${cr}`,
    `or eax, ${bit}`,
    `mov ${cr}, eax`,
    `mov ecx, ${msr}`,
    `mov eax, ${bit}`,
    "xor edx, edx",
    "wrmsr",
    "mov eax, [0xfee000f0]",
    "or eax, 0x1ff",
    "mov [0xfee000f0], eax",
    "mov dword ptr [0xfee00310], 0",
    "mov dword ptr [0xfee00300], 0x4200", // SMI to APIC ID 0
    "nop",
    `mov eax, ${cr}`,
    "mov [0x7000], eax",
    "hlt",
  ].join("\n");
}

test("RSM restoring a CR4 without pinned SMEP: rfc2019 lets it through, 'rewrite' forces it back", () => {
  for (const rsm of [undefined, "rewrite"] as const) {
    const { vm, vcpus } = vmWith({ pinning: { profile: "rfc2019", ...(rsm ? { rsm } : {}) } });
    installSmmHandler(vm);
    load32(vm, pinThenSelfSmi(RFC_CR4_PINNED));
    enterFlat32(vcpus[0], GUEST.code, vm);
    assert.equal(vcpus[0].run().kind, "hlt");
    const smep = read32(vm, 0x7000) & SMEP;
    if (rsm === "rewrite") assert.ok(smep, "rewrite: SMEP restored from the pins");
    else assert.equal(smep, 0, "rfc2019 v1 had no RSM check: the SMM handler dropped SMEP");
  }
});

test("RSM restoring a violating CR4 under jun2020 stops the vCPU with an internal error", () => {
  const { vm, vcpus } = vmWith({ pinning: { profile: "jun2020" } });
  installSmmHandler(vm);
  load32(vm, pinThenSelfSmi(JUN_CR4_PINNED_HIGH));
  enterFlat32(vcpus[0], GUEST.code, vm);
  const exit = vcpus[0].run();
  assert.equal(exit.kind, "internal-error");
  // Still in SMM, on the RSM.
  assert.equal(vcpus[0].getVcpuEvents().smi.smm, true);
});

test("CR writes inside SMM are not checked against the pins", () => {
  const { vm, vcpus } = vmWith({ pinning: { profile: "jun2020" } });
  // Handler: clear SMEP in the live CR4 (it is 0 in SMM already; set and clear it), record, RSM.
  load16(
    vm,
    [
      "mov eax, cr4",
      `or eax, ${SMEP}`,
      "mov cr4, eax",
      `and eax, ${~SMEP >>> 0}`,
      "mov cr4, eax",
      "rsm",
    ].join("\n"),
    0x38000,
  );
  load32(vm, pinThenSelfSmi(JUN_CR4_PINNED_HIGH));
  enterFlat32(vcpus[0], GUEST.code, vm);
  assert.equal(vcpus[0].run().kind, "hlt");
  assert.equal(faultRecord(vm).count, 0);
  assert.ok(read32(vm, 0x7000) & SMEP, "SMEP restored by RSM from the unmodified save area");
});

/** BSP code: INIT then SIPI (vector 8) to APIC ID 1. */
const INIT_SIPI = [
  "mov eax, [0xfee000f0]",
  "or eax, 0x1ff",
  "mov [0xfee000f0], eax",
  "mov dword ptr [0xfee00310], 0x01000000",
  "mov dword ptr [0xfee00300], 0x00004500",
  "mov dword ptr [0xfee00310], 0x01000000",
  "mov dword ptr [0xfee00300], 0x00004608",
  "hlt",
].join("\n");

for (const [profile, msr, expectKept] of [
  ["rfc2019", RFC_CR4_PINNED, true],
  ["jun2020", JUN_CR4_PINNED_HIGH, false],
] as const) {
  test(`${profile}: pins of an AP after INIT-SIPI are ${expectKept ? "kept" : "cleared"} by default`, () => {
    const { vm, vcpus } = vmWith({ pinning: { profile } }, 2);
    const [bsp, ap] = vcpus;
    // The AP pins SMEP first (run alone), then the BSP restarts it with INIT-SIPI.
    load32(vm, [`mov ecx, ${msr}`, `mov eax, ${SMEP}`, "xor edx, edx", "wrmsr", "hlt"].join("\n"), 0x11000);
    enterFlat32(ap, 0x11000, vm);
    ap.setMpState("runnable");
    assert.equal(ap.run().kind, "hlt");
    load16(vm, "hlt", 0x8000);
    load32(vm, INIT_SIPI);
    enterFlat32(bsp, GUEST.code, vm);
    assert.equal(bsp.run().kind, "hlt");
    assert.equal(ap.run().kind, "hlt");
    assert.equal(ap.getSregs().cs.selector, 0x800, "the AP was restarted at the SIPI vector");
    assert.equal(ap.getMsr(msr), expectKept ? BigInt(SMEP) : 0n);
  });
}

test("an INIT that arrives while the target is in SMM is latched and taken after RSM", () => {
  const { vm, vcpus } = vmWith({}, 2);
  const [bsp, ap] = vcpus;
  // The AP enters SMM (SMI sent by the host through the vCPU events) and its handler spins
  // until the BSP has sent INIT, then leaves with RSM.
  load16(vm, "1: cmp dword ptr cs:[0x0], 0\nje 1b\nrsm", 0x38000);
  load32(vm, "1: jmp 1b", 0x11000);
  enterFlat32(ap, 0x11000, vm);
  ap.setMpState("runnable");
  ap.setVcpuEvents({ ...ap.getVcpuEvents(), smi: { smm: false, pending: true, latchedInit: false } });
  assert.equal(ap.run(1000).kind, "budget-exhausted");
  assert.equal(ap.getVcpuEvents().smi.smm, true);
  load32(
    vm,
    [
      "mov eax, [0xfee000f0]",
      "or eax, 0x1ff",
      "mov [0xfee000f0], eax",
      "mov dword ptr [0xfee00310], 0x01000000",
      "mov dword ptr [0xfee00300], 0x00004500",
      "hlt",
    ].join("\n"),
  );
  enterFlat32(bsp, GUEST.code, vm);
  assert.equal(bsp.run().kind, "hlt");
  assert.equal(ap.run(1000).kind, "budget-exhausted");
  assert.equal(ap.getVcpuEvents().smi.latchedInit, true, "INIT latched in SMM");
  assert.equal(ap.getVcpuEvents().smi.smm, true);
  // Release the handler: it RSMs, then the latched INIT puts the AP in wait-for-SIPI.
  vm.writePhysical(0x30000, new Uint8Array([1, 0, 0, 0]));
  assert.equal(ap.run(1000).kind, "hlt");
  assert.equal(ap.getMpState(), "init-received");
  assert.equal(ap.getVcpuEvents().smi.latchedInit, false);
});

test("heki2024: KVM_HC_LOCK_CR_UPDATE from the guest pins SMEP for every vCPU of the VM", () => {
  const { vm, vcpus } = vmWith({ pinning: { profile: "heki2024" } }, 2);
  const [bsp, ap] = vcpus;
  load32(
    vm,
    [
      "mov eax, cr4",
      `or eax, ${SMEP}`,
      "mov cr4, eax",
      "mov eax, 13",
      "mov ebx, 4",
      `mov ecx, ${SMEP}`,
      "xor edx, edx",
      "vmcall",
      "mov [0x7000], eax",
      "mov eax, cr4",
      `and eax, ${~SMEP >>> 0}`,
      "mov cr4, eax", // refused
      "hlt",
    ].join("\n"),
  );
  enterFlat32(bsp, GUEST.code, vm);
  assert.equal(bsp.run().kind, "hlt");
  assert.equal(read32(vm, 0x7000), 0, "hypercall returned 0");
  assert.equal(faultRecord(vm).count, 1);
  // The AP: setting SMEP is fine, clearing it is refused (per-VM pins).
  load32(
    vm,
    [
      "mov eax, cr4",
      `or eax, ${SMEP}`,
      "mov cr4, eax",
      `and eax, ${~SMEP >>> 0}`,
      "mov cr4, eax",
      "hlt",
    ].join("\n"),
    0x11000,
  );
  enterFlat32(ap, 0x11000, vm);
  ap.setMpState("runnable");
  assert.equal(ap.run().kind, "hlt");
  assert.equal(faultRecord(vm).count, 2);
  assert.ok(ap.getSregs().cr4 & BigInt(SMEP));
});

test("an unknown hypercall from the guest returns -KVM_ENOSYS (-1000) in RAX", () => {
  const { vm, vcpus } = vmWith({});
  load32(vm, ["mov eax, 12345", "vmcall", "mov [0x7000], eax", "hlt"].join("\n"));
  enterFlat32(vcpus[0], GUEST.code, vm);
  assert.equal(vcpus[0].run().kind, "hlt");
  assert.equal(read32(vm, 0x7000) | 0, -1000);
});

test("denialExit (per register): the violation is an exit with action 'exit' after #GP(0) was injected; other registers stay #GP", () => {
  const WP = 1 << 16;
  const { vm, vcpus } = vmWith({ pinning: { profile: "jun2020", denialExit: ["cr4"] } });
  load32(
    vm,
    [
      ...pinThenClearSmep(JUN_CR4_PINNED_HIGH).split("\n").slice(0, -3), // up to the refused MOV CR4
      "mov eax, cr0",
      `or eax, ${WP}`,
      "mov cr0, eax",
      "mov ecx, 0x4b564d0b", // CR0_PINNED_HIGH
      `mov eax, ${WP}`,
      "xor edx, edx",
      "wrmsr",
      "mov eax, cr0",
      `and eax, ${~WP >>> 0}`,
      "mov cr0, eax", // refused: #GP only (no denial exit for CR0)
      "mov eax, cr4",
      "mov [0x7000], eax",
      "hlt",
    ].join("\n"),
  );
  enterFlat32(vcpus[0], GUEST.code, vm);
  const exit = vcpus[0].run();
  assert.equal(exit.kind, "cr-pin-violation");
  if (exit.kind === "cr-pin-violation") {
    assert.equal(exit.violation.cr, "cr4");
    assert.equal(exit.violation.action, "exit");
  }
  // The #GP(0) was injected before run() returned: RIP is at the #GP handler (IDT vector 13).
  assert.equal(vcpus[0].getRegs().rip, BigInt(GUEST.stubs + 13 * 32));
  assert.equal(vcpus[0].run().kind, "hlt", "CR0's violation is no exit");
  assert.equal(faultRecord(vm).count, 2);
  assert.deepEqual(
    vm.pinning.log.entries().map((e) => [e.cr, e.action]),
    [
      ["cr4", "exit"],
      ["cr0", "gp"],
    ],
  );
  assert.ok(read32(vm, 0x7000) & SMEP);
});

test("VMCALL at CPL 3 completes with -KVM_EPERM in RAX (no #UD) and pins nothing", () => {
  const { vm, vcpus } = vmWith({ pinning: { profile: "heki2024" } });
  const v = vcpus[0];
  // Heki lock of CR4.SMEP from ring 3, then a store to an MMIO exit range ends run().
  vm.addMmioExitRange(0xd0000000, 0x1000);
  load32(
    vm,
    ["mov eax, 13", "mov ebx, 4", `mov ecx, ${SMEP}`, "xor edx, edx", "vmcall", "mov [0xd0000000], eax"].join(
      "\n",
    ),
  );
  enterFlat32(v, GUEST.code, vm);
  const s = v.getSregs();
  v.setSregs({ cs: { ...s.cs, selector: 0x1b, dpl: 3 }, ss: { ...s.ss, selector: 0x23, dpl: 3 } });
  const exit = v.run();
  assert.equal(exit.kind, "mmio-write");
  assert.equal(faultRecord(vm).count, 0, "no exception (#UD would be vector 6)");
  assert.equal(Number(v.getRegs().rax & 0xffffffffn) | 0, -1, "-KVM_EPERM");
  assert.equal(vm.pinning.hekiPins().cr4, 0);
});

test("heki2024: a lock by one vCPU binds another vCPU that was already running (its next run() sees it)", () => {
  const { vm, vcpus } = vmWith({ pinning: { profile: "heki2024" } }, 2);
  const [bsp, ap] = vcpus;
  // The AP sets SMEP (no pins yet), spins until the BSP has locked it, then tries to clear it.
  load32(
    vm,
    [
      "mov eax, cr4",
      `or eax, ${SMEP}`,
      "mov cr4, eax",
      "1: cmp dword ptr [0x7100], 0",
      "je 1b",
      `and eax, ${~SMEP >>> 0}`,
      "mov cr4, eax", // refused: #GP, handler skips it
      "mov eax, cr4",
      "mov [0x7000], eax",
      "hlt",
    ].join("\n"),
    0x11000,
  );
  enterFlat32(ap, 0x11000, vm);
  ap.setMpState("runnable");
  assert.equal(ap.run(500).kind, "budget-exhausted");
  load32(
    vm,
    [
      "mov eax, cr4",
      `or eax, ${SMEP}`,
      "mov cr4, eax",
      "mov eax, 13",
      "mov ebx, 4",
      `mov ecx, ${SMEP}`,
      "xor edx, edx",
      "vmcall",
      "mov dword ptr [0x7100], 1",
      "hlt",
    ].join("\n"),
  );
  enterFlat32(bsp, GUEST.code, vm);
  assert.equal(bsp.run().kind, "hlt");
  assert.equal(vm.pinning.hekiPins().cr4, SMEP);
  assert.equal(ap.run().kind, "hlt");
  assert.deepEqual(faultRecord(vm), { vector: 13, errorCode: 0, count: 1 });
  assert.ok(read32(vm, 0x7000) & SMEP, "SMEP still set on the AP");
  assert.equal(vm.pinning.log.entries()[0].vcpu, 1);
});

test("RSM restoring a CR0 without pinned WP: jun2020 internal error, rfc2019 'rewrite' forces WP back", () => {
  const WP = 1 << 16;
  for (const [options, msr] of [
    [{ profile: "jun2020" }, 0x4b564d0b],
    [{ profile: "rfc2019", rsm: "rewrite" }, RFC_CR0_PINNED],
  ] as const) {
    const { vm, vcpus } = vmWith({ pinning: options });
    // SMM handler: clear WP in the saved CR0 image (SMBASE + FF58H, KVM's 64-bit layout), RSM.
    load16(vm, `and dword ptr cs:[0xff58], ${~WP >>> 0}\nrsm`, 0x38000);
    load32(vm, pinThenSelfSmi(msr, "cr0", WP));
    enterFlat32(vcpus[0], GUEST.code, vm);
    const exit = vcpus[0].run();
    if (options.profile === "jun2020") {
      assert.equal(exit.kind, "internal-error");
      assert.equal(vcpus[0].getVcpuEvents().smi.smm, true, "stopped on the RSM, still in SMM");
    } else {
      assert.equal(exit.kind, "hlt");
      assert.ok(read32(vm, 0x7000) & WP, "WP restored from the pins");
    }
    const [entry] = vm.pinning.log.entries();
    assert.equal(entry.cr, "cr0");
    assert.equal(entry.source, "rsm");
    assert.equal(entry.attempted & WP, 0);
  }
});
