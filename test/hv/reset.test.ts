/**
 * vcpu.reset(kind): every row of the power-up/RESET/INIT state table (src/x86/reset-state.ts,
 * SDM Vol.3 "Processor States Following Power-up, Reset, or INIT") checked through the host
 * API after each kind, starting from a vCPU whose every piece of state was changed first; plus
 * the hypervisor-owned rows: mp state, the local APIC, CR pins per the pins-on-init option.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { Hypervisor, MSR_SMBASE, type Vcpu, type VcpuResetKind } from "../../src/hv/index.js";
import { RESET_STATE, type RowAction, type StateRow } from "../../src/x86/reset-state.js";
import { MSR } from "../../src/x86/msr.js";
import { CPUID_SIGNATURE } from "../../src/cpu/ops/msr-cpuid.js";
import { flatSegment } from "../helpers/hv-guest.js";

const CR4_PINNED_RFC2019 = 0x4b564d09;
const CR4_SMEP = 1 << 20;

/** A VM with two vCPUs whose state is changed everywhere the table has a row. */
function dirtyVcpus(pinsOnInit: "keep" | "clear" = "keep") {
  const vm = new Hypervisor().createVm({ memoryBytes: 1 << 20, pinning: { profile: "rfc2019", pinsOnInit } });
  const vcpus = [vm.createVcpu(0), vm.createVcpu(1)];
  for (const v of vcpus) dirty(v);
  return { vm, vcpus };
}

function dirty(v: Vcpu): void {
  const data = { ...flatSegment(0x10, 3), base: 0x1000n };
  v.setSregs({
    cs: flatSegment(0x08, 11),
    ds: data,
    es: data,
    fs: data,
    gs: data,
    ss: data,
    ldt: { ...flatSegment(0x28, 2, 0), limit: 0x7f },
    tr: { ...flatSegment(0x30, 11, 0), limit: 0x67 },
    gdt: { base: 0x5000n, limit: 0x3f },
    idt: { base: 0x6000n, limit: 0x7ff },
    cr0: 0x60000011n | (1n << 16n) | (1n << 5n),
    cr2: 0x1234n,
    cr3: 0x7000n,
    cr4: BigInt(CR4_SMEP | 0x600 | 0x40000),
    cr8: 5n,
    efer: 0x801n,
  });
  const regs: Record<string, bigint> = {};
  for (const r of [
    "rax",
    "rbx",
    "rcx",
    "rdx",
    "rsi",
    "rdi",
    "rsp",
    "rbp",
    "r8",
    "r9",
    "r10",
    "r11",
    "r12",
    "r13",
    "r14",
    "r15",
  ]) {
    regs[r] = 0x1111_2222_3333_4444n;
  }
  v.setRegs({ ...regs, rip: 0x1234n, rflags: 0x246n });
  v.setDebugRegs({ db: [1n, 2n, 3n, 4n], dr6: 0xffff4ff1n, dr7: 0x403n });
  const fpu = v.getFpu();
  v.setFpu({
    ...fpu,
    fcw: 0x37f,
    fsw: 0x3800,
    ftw: 0x0fff,
    st: fpu.st.map((_, i) => new Uint8Array([i + 1, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f])),
    xmm: fpu.xmm.map((_, i) => new Uint8Array(16).fill(i + 1)),
    mxcsr: 0x1f00,
  });
  v.setXcr0(3n);
  v.setMsrs([
    { index: MSR.IA32_TIME_STAMP_COUNTER, value: 1_000_000n },
    { index: MSR.IA32_TSC_AUX, value: 7n },
    { index: MSR.IA32_PAT, value: 0x0606060606060606n },
    { index: MSR.IA32_STAR, value: 0x0023001000000000n },
    { index: MSR.IA32_LSTAR, value: 0xffff_8000_0000_1000n },
    { index: MSR_SMBASE, value: 0xa0000n },
    { index: MSR.IA32_MTRR_DEF_TYPE, value: 0x806n }, // E = 1, default type WB
    { index: MSR.IA32_MTRR_PHYSBASE0, value: 0x80000006n }, // 2 GiB, WB
    { index: MSR.IA32_MTRR_PHYSMASK0, value: 0xff80000800n }, // 2 GiB (mask bits 39:31, MAXPHYADDR 40), V = 1
    { index: CR4_PINNED_RFC2019, value: BigInt(CR4_SMEP) },
  ]);
}

/** Snapshot of what the rows describe, through the host API. */
function observe(v: Vcpu) {
  const r = v.getRegs();
  const s = v.getSregs();
  const f = v.getFpu();
  const d = v.getDebugRegs();
  const seg = (x: typeof s.cs) => ({
    selector: x.selector,
    base: Number(x.base),
    limit: x.limit,
    attr: x.type | (x.s << 4) | (x.dpl << 5) | (x.present << 7),
  });
  return {
    eflags: Number(r.rflags),
    rip: Number(r.rip),
    cs: seg(s.cs),
    ss: seg(s.ss),
    ds: seg(s.ds),
    es: seg(s.es),
    fs: seg(s.fs),
    gs: seg(s.gs),
    edx: Number(r.rdx),
    eax: Number(r.rax),
    otherGprs: [r.rbx, r.rcx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r15].map(Number),
    cr0: Number(s.cr0),
    cr2: Number(s.cr2),
    cr3: Number(s.cr3),
    cr4: Number(s.cr4),
    cr8: Number(s.cr8),
    efer: Number(s.efer),
    gdtr: { base: Number(s.gdt.base), limit: s.gdt.limit },
    idtr: { base: Number(s.idt.base), limit: s.idt.limit },
    ldtr: seg(s.ldt),
    tr: seg(s.tr),
    dr0to3: d.db.map(Number),
    dr6: Number(d.dr6),
    dr7: Number(d.dr7),
    x87: { fcw: f.fcw, fsw: f.fsw, ftw: f.ftw, st: f.st.map((b) => [...b].join(",")) },
    mxcsr: f.mxcsr,
    xmm: f.xmm.map((b) => [...b].join(",")),
    tsc: Number(v.getMsr(MSR.IA32_TIME_STAMP_COUNTER)),
    tscAux: Number(v.getMsr(MSR.IA32_TSC_AUX)),
    pat: v.getMsr(MSR.IA32_PAT),
    xcr0: Number(v.getXcr0()),
    apicBase: v.getMsr(MSR.IA32_APIC_BASE),
    smbase: Number(v.getMsr(MSR_SMBASE)),
    mtrr: [MSR.IA32_MTRR_DEF_TYPE, MSR.IA32_MTRR_PHYSBASE0, MSR.IA32_MTRR_PHYSMASK0].map((i) =>
      Number(v.getMsr(i)),
    ),
    otherMsrs: [v.getMsr(MSR.IA32_STAR), v.getMsr(MSR.IA32_LSTAR)],
    pins: v.getMsr(CR4_PINNED_RFC2019),
    mpState: v.getMpState(),
  };
}

function action<T>(row: StateRow<T>, kind: VcpuResetKind): RowAction<T> {
  return kind === "power-on" ? row.powerUp : kind === "reset" ? row.reset : row.init;
}

for (const kind of ["power-on", "reset", "init"] as const) {
  test(`reset('${kind}') applies its column of the state table to every row`, () => {
    const { vcpus } = dirtyVcpus();
    const [bsp, ap] = vcpus;
    const before = observe(bsp);
    const tscBefore = before.tsc;
    bsp.reset(kind);
    ap.reset(kind);
    const after = observe(bsp);
    const T = RESET_STATE;
    // Rows asserted below; at the end it must hold every row of the table (bar `tlb`).
    const covered = new Set<string>();
    const check = <K extends keyof typeof after>(name: K, row: StateRow<unknown>, expected: unknown) => {
      covered.add(name);
      const a = action(row, kind);
      const want = a === "unchanged" ? before[name] : expected;
      assert.deepEqual(after[name], want, `row ${String(name)} after ${kind}`);
    };
    const seg = (v: { selector: number; base: number; limit: number; attr: number }) => ({
      ...v,
      attr: v.attr & 0xff,
    });
    const setOf = <T>(row: StateRow<T>): T | undefined => {
      const a = action(row, kind);
      return a === "unchanged" ? undefined : a.set;
    };
    check("eflags", T.eflags, setOf(T.eflags));
    check("rip", T.rip, setOf(T.rip));
    for (const name of ["cs", "ss", "ds", "es", "fs", "gs", "ldtr", "tr"] as const) {
      const row = T[name];
      const v = setOf(row);
      check(name, row, v && seg(v));
    }
    check("edx", T.edx, CPUID_SIGNATURE);
    check("eax", T.eax, setOf(T.eax));
    check("otherGprs", T.otherGprs, Array(8).fill(setOf(T.otherGprs)));
    // CR0: 60000010H on power-up/RESET; INIT keeps CD/NW, sets ET, clears the rest.
    assert.equal(after.cr0, kind === "init" ? (before.cr0 & 0x60000000) | 0x10 : 0x60000010, "row cr0");
    covered.add("cr0");
    for (const name of [
      "cr2",
      "cr3",
      "cr4",
      "cr8",
      "efer",
      "dr6",
      "dr7",
      "mxcsr",
      "xcr0",
      "smbase",
    ] as const) {
      check(name, T[name] as StateRow<unknown>, setOf(T[name] as StateRow<unknown>));
    }
    check("gdtr", T.gdtr, setOf(T.gdtr));
    check("idtr", T.idtr, setOf(T.idtr));
    check("dr0to3", T.dr0to3, Array(4).fill(setOf(T.dr0to3)));
    const x87 = setOf(T.x87);
    check(
      "x87",
      T.x87,
      x87 && { fcw: x87.fcw, fsw: x87.fsw, ftw: x87.ftw, st: Array(8).fill("0,0,0,0,0,0,0,0,0,0") },
    );
    check("xmm", T.xmm, Array(16).fill(new Array(16).fill(0).join(",")));
    check("tscAux", T.tscAux, setOf(T.tscAux));
    const pat = setOf(T.pat);
    check("pat", T.pat, pat && (BigInt(pat[1]) << 32n) | BigInt(pat[0]));
    check("mtrr", T.mtrr, Array(3).fill(setOf(T.mtrr)));
    check("otherMsrs", T.otherMsrs, [0n, 0n]);
    // TSC: 0 after power-up/RESET (nothing has run since), counting on from before INIT.
    if (kind === "init") assert.ok(after.tsc >= tscBefore, "row tsc: INIT leaves the TSC running");
    else assert.equal(after.tsc, 0, "row tsc");
    covered.add("tsc");
    // IA32_APIC_BASE: FEE00000H | EN, BSP bit on vCPU 0 only; unchanged by INIT.
    const apicRow = setOf(T.apicBase);
    assert.equal(
      after.apicBase,
      apicRow === undefined ? before.apicBase : BigInt(apicRow) | 0x100n,
      "row apicBase (BSP)",
    );
    assert.equal(
      observe(ap).apicBase,
      apicRow === undefined ? 0xfee00800n : BigInt(apicRow),
      "row apicBase (AP)",
    );
    covered.add("apicBase");
    // mp state: the BSP runs from the reset vector, an AP waits for a SIPI.
    assert.equal(after.mpState, "runnable");
    assert.equal(observe(ap).mpState, "init-received");
    // CR pins: cleared by power-on and RESET, kept by INIT with pinsOnInit "keep".
    assert.equal(after.pins, kind === "init" ? BigInt(CR4_SMEP) : 0n, "CR4 pins");
    // Every row of the table was asserted. `tlb` ("flush" for all three) is not observable
    // through the host API, and from the guest every way back to paging after a reset
    // (CR0.PG and CR3/CR4 loads) flushes anyway.
    assert.deepEqual(
      [...covered].sort(),
      Object.keys(RESET_STATE)
        .filter((k) => k !== "tlb")
        .sort(),
    );
  });
}

test("INIT clears the pins when the VM was created with pinsOnInit 'clear'", () => {
  const { vcpus } = dirtyVcpus("clear");
  vcpus[0].reset("init");
  assert.equal(vcpus[0].getMsr(CR4_PINNED_RFC2019), 0n);
});

test("reset refuses an unknown kind", () => {
  const { vcpus } = dirtyVcpus();
  assert.throws(() => vcpus[0].reset("warm" as never), /expected power-on, reset or init/);
});
