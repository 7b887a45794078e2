/**
 * System-management mode tests (src/cpu/smm.ts, ops/smm-ops.ts): SMI entry register state
 * (SDM Vol.3 Table 34-4), every field of the AMD64 state-save area at its offset (AMD APM
 * Vol.2 Table 10-2; offsets written here from the table, not from the implementation),
 * RSM round trips from long mode with paging and from real mode, SMBASE relocation (34.11),
 * invalid state → shutdown (Vol.2 RSM), the rsm hook, SMI/NMI blocking in SMM (34.5, 34.8)
 * and SMI priority (6.9), auto HALT restart (34.13.1); also VMCALL/VMMCALL and the
 * controlWrite source argument, which the hypervisor layer needs alongside SMM.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../helpers/asm.js";
import { createMachine, enterLong64, LAYOUT, runCode, type TestMachine } from "../helpers/machine.js";
import { assertFault, enterUser, faultMachine, lastFault, runForFault } from "../helpers/faults.js";
import { saveCpuState, loadCpuState, CPU_STATE_VERSION, type CpuState } from "../../src/cpu/state.js";
import { resetCpu } from "../../src/cpu/reset.js";
import { InstructionExit, type ControlRegister, type ControlWriteSource } from "../../src/cpu/hooks.js";
import { SEG } from "../../src/x86/segment.js";

const SMBASE = 0x30000;

/** Assemble a 16-bit SMI handler (origin 8000H, CS base = SMBASE) into SMRAM. */
function loadHandler(m: TestMachine, source: string, smbase = SMBASE): void {
  m.mem.load(smbase + 0x8000, assemble(source, 16, 0x8000));
}

/** Qword at a physical address as a bigint. */
function q(m: TestMachine, addr: number): bigint {
  return (BigInt(m.mem.read32(addr + 4)) << 32n) | BigInt(m.mem.read32(addr));
}

/** The state without the retired-instruction count (which RSM round trips advance). */
function withoutIcount(s: CpuState): Omit<CpuState, "icount"> {
  const { icount: _icount, ...rest } = s;
  return rest;
}

/** A long-mode context with distinctive values everywhere the save area looks. */
function longModeContext(): TestMachine {
  const m = createMachine();
  enterLong64(m);
  const { cpu } = m;
  for (let n = 0; n < 16; n++) {
    cpu.lo[n] = (0x11111111 * ((n % 15) + 1)) | 0;
    cpu.hi[n] = (0x01010101 * (n + 1)) | 0;
  }
  cpu.cr0 = 0x8001003f | 0; // PG WP NE ET TS EM MP PE
  cpu.cr4 = 0x6a0; // PAE PGE OSFXSR OSXMMEXCPT
  cpu.efer = 0xd01; // SCE LME LMA NXE
  cpu.drLo[6] = 0xffff0ff1 | 0;
  cpu.drLo[7] = 0x00000703;
  cpu.segBase[SEG.FS] = -0x100000000; // FFFFFFFF00000000H
  cpu.segBase[SEG.GS] = 0x7fff12345000;
  cpu.segSel[SEG.LDTR] = 0x48;
  cpu.segBase[SEG.LDTR] = -0x20000000000 + 0x4000; // FFFFFE0000004000H
  cpu.segLimit[SEG.LDTR] = 0xfff;
  cpu.segAttr[SEG.LDTR] = 0x82;
  cpu.segSel[SEG.TR] = 0x40;
  cpu.segBase[SEG.TR] = -0x20000000000 + 0x1000;
  cpu.segLimit[SEG.TR] = 0x67;
  cpu.segAttr[SEG.TR] = 0x8b;
  cpu.gdtrBase = -0x20000000000;
  cpu.gdtrLimit = 0x7f;
  cpu.idtrBase = -0x20000000000 + 0x2000;
  cpu.idtrLimit = 0xfff;
  cpu.setEflags(0xad7); // CF PF AF ZF SF IF OF
  cpu.rip = -0x7efff000; // FFFFFFFF81001000H
  cpu.updateMode();
  cpu.flushTlb(false);
  return m;
}

test("SMI entry loads the SMM state of SDM Table 34-4", () => {
  const m = longModeContext();
  const { cpu, hooks } = m;
  let seen: Record<string, unknown> | null = null;
  hooks.ioWrite = (port) => {
    if (port !== 0xb2) return;
    seen = {
      rip: cpu.instructionRip,
      rflags: cpu.getEflags(),
      cs: [cpu.segSel[SEG.CS], cpu.segBase[SEG.CS], cpu.segLimit[SEG.CS]],
      data: [SEG.DS, SEG.ES, SEG.FS, SEG.GS, SEG.SS].map((s) => [
        cpu.segSel[s],
        cpu.segBase[s],
        cpu.segLimit[s],
      ]),
      cr0: cpu.cr0 >>> 0,
      cr4: cpu.cr4,
      efer: cpu.efer,
      dr7: cpu.drLo[7],
      inSmm: cpu.inSmm,
      nmiBlocked: cpu.nmiBlocked,
      protectedMode: cpu.protectedMode,
      paging: cpu.paging,
      long64: cpu.long64,
      cpl: cpu.cpl,
      cr3: cpu.cr3,
      gdtr: [cpu.gdtrBase, cpu.gdtrLimit],
    };
  };
  loadHandler(m, "out 0xb2, al\nhlt");
  cpu.smiPending = true;
  assert.equal(cpu.run(100), "halt");
  assert.deepEqual(seen, {
    rip: 0x8000n,
    rflags: 0x2,
    cs: [0x3000, 0x30000, 0xffffffff],
    data: [0, 0, 0, 0, 0].map(() => [0, 0, 0xffffffff]),
    cr0: 0x00010032, // PE, EM, TS, PG cleared; WP, NE, ET, MP kept
    cr4: 0,
    efer: 0,
    dr7: 0x400,
    inSmm: true,
    nmiBlocked: true,
    protectedMode: false,
    paging: false,
    long64: false,
    cpl: 0,
    cr3: LAYOUT.pml4, // not changed by SMI entry
    gdtr: [-0x20000000000, 0x7f],
  });
  assert.equal(cpu.smiPending, false);
});

test("the AMD64 state-save area holds every field at its documented offset (from 64-bit mode)", () => {
  const m = longModeContext();
  const { cpu } = m;
  loadHandler(m, "hlt");
  cpu.smiPending = true;
  assert.equal(cpu.run(10), "halt");
  const b = SMBASE;
  const seg = (off: number) => [
    m.mem.read16(b + off),
    m.mem.read16(b + off + 2),
    m.mem.read32(b + off + 4),
    q(m, b + off + 8),
  ];
  // ES, CS, SS, DS, FS, GS at FE00H + 10H*n: selector, attributes, limit, base.
  assert.deepEqual(seg(0xfe00), [0x10, 0xc093, 0xffffffff, 0n]);
  assert.deepEqual(seg(0xfe10), [0x08, 0xa09b, 0xffffffff, 0n]);
  assert.deepEqual(seg(0xfe20), [0x10, 0xc093, 0xffffffff, 0n]);
  assert.deepEqual(seg(0xfe30), [0x10, 0xc093, 0xffffffff, 0n]);
  assert.deepEqual(seg(0xfe40), [0x10, 0xc093, 0xffffffff, 0xffffffff00000000n]);
  assert.deepEqual(seg(0xfe50), [0x10, 0xc093, 0xffffffff, 0x7fff12345000n]);
  // GDTR FE60H (limit +4, base +8), LDTR FE70H, IDTR FE80H, TR FE90H.
  assert.equal(m.mem.read32(b + 0xfe64), 0x7f);
  assert.equal(q(m, b + 0xfe68), 0xfffffe0000000000n);
  assert.deepEqual(seg(0xfe70), [0x48, 0x82, 0xfff, 0xfffffe0000004000n]);
  assert.equal(m.mem.read32(b + 0xfe84), 0xfff);
  assert.equal(q(m, b + 0xfe88), 0xfffffe0000002000n);
  assert.deepEqual(seg(0xfe90), [0x40, 0x8b, 0x67, 0xfffffe0000001000n]);
  // I/O restart RIP/RCX/RSI/RDI/dword FEA0H-FEC7H, I/O restart FEC8H, auto HALT FEC9H: 0.
  for (let o = 0xfea0; o < 0xfec8; o += 4) assert.equal(m.mem.read32(b + o), 0, `offset ${o.toString(16)}`);
  assert.equal(m.mem.read8(b + 0xfec8), 0);
  assert.equal(m.mem.read8(b + 0xfec9), 0);
  assert.equal(q(m, b + 0xfed0), 0xd01n); // EFER
  assert.equal(m.mem.read32(b + 0xfefc), 0x00020064); // SMM revision identifier
  assert.equal(m.mem.read32(b + 0xff00), SMBASE);
  assert.equal(q(m, b + 0xff48), 0x6a0n); // CR4
  assert.equal(q(m, b + 0xff50), BigInt(LAYOUT.pml4)); // CR3
  assert.equal(q(m, b + 0xff58), 0x8001003fn); // CR0
  assert.equal(q(m, b + 0xff60), 0x703n); // DR7
  assert.equal(q(m, b + 0xff68), 0xffff0ff1n); // DR6
  assert.equal(q(m, b + 0xff70), 0xad7n); // RFLAGS
  assert.equal(q(m, b + 0xff78), 0xffffffff81001000n); // RIP
  // R15 at FF80H down to RAX at FFF8H.
  for (let n = 0; n < 16; n++) {
    const want = (BigInt(0x01010101 * (n + 1)) << 32n) | BigInt(0x11111111 * ((n % 15) + 1));
    assert.equal(q(m, b + 0xfff8 - 8 * n), want, `GPR ${n}`);
  }
});

test("the state-save area from real mode", () => {
  const m = createMachine();
  const { cpu } = m;
  cpu.segSel[SEG.CS] = 0x1234;
  cpu.segBase[SEG.CS] = 0x12340;
  cpu.segSel[SEG.DS] = 0x2000;
  cpu.segBase[SEG.DS] = 0x20000;
  cpu.segSel[SEG.SS] = 0x0700;
  cpu.segBase[SEG.SS] = 0x7000;
  cpu.rip = 0x100;
  cpu.lo[0] = 0xaa55;
  cpu.lo[4] = 0xfffe;
  cpu.setEflags(0x43);
  cpu.updateMode();
  loadHandler(m, "hlt");
  cpu.smiPending = true;
  assert.equal(cpu.run(10), "halt");
  const b = SMBASE;
  assert.deepEqual([m.mem.read16(b + 0xfe10), m.mem.read16(b + 0xfe12)], [0x1234, 0x9b]);
  assert.equal(m.mem.read32(b + 0xfe14), 0xffff);
  assert.equal(q(m, b + 0xfe18), 0x12340n);
  assert.deepEqual([m.mem.read16(b + 0xfe30), m.mem.read16(b + 0xfe32)], [0x2000, 0x93]);
  assert.equal(q(m, b + 0xfe38), 0x20000n);
  assert.equal(m.mem.read16(b + 0xfe20), 0x0700);
  assert.equal(q(m, b + 0xff58), 0x60000010n); // CR0 after RESET
  assert.equal(q(m, b + 0xff48), 0n);
  assert.equal(q(m, b + 0xfed0), 0n);
  assert.equal(q(m, b + 0xff70), 0x43n);
  assert.equal(q(m, b + 0xff78), 0x100n);
  assert.equal(q(m, b + 0xfff8), 0xaa55n);
  assert.equal(q(m, b + 0xffd8), 0xfffen); // RSP (register 4)
});

test("RSM restores a 64-bit context with paging exactly; a handler's edit of RAX takes effect", () => {
  const m = longModeContext();
  const { cpu } = m;
  const before = saveCpuState(cpu);
  loadHandler(m, "mov dword ptr cs:[0xfff8], 0x89abcdef\nmov dword ptr cs:[0xfffc], 0x01234567\nrsm");
  cpu.smiPending = true;
  assert.equal(cpu.run(3), "limit");
  assert.equal(cpu.inSmm, false);
  const after = saveCpuState(cpu);
  assert.equal(after.icount, before.icount + 3);
  const expected = { ...before, gprs: before.gprs.map((g) => [...g]) as [number, number][] };
  expected.gprs[0] = [0x89abcdef, 0x01234567];
  assert.deepEqual(withoutIcount(after), withoutIcount(expected));
  assert.equal(cpu.long64, true);
  assert.equal(cpu.paging, true);
  assert.equal(cpu.rip, -0x7efff000);
});

test("RSM restores a real-mode context and execution continues there", () => {
  const m = createMachine();
  const { cpu } = m;
  resetCpu(cpu, "power-up", 0x6f1);
  cpu.segSel[SEG.CS] = 0x1000;
  cpu.segBase[SEG.CS] = 0x10000;
  cpu.rip = 0x200;
  cpu.updateMode();
  m.mem.load(0x10200, assemble("inc bx\nhlt", 16, 0x200));
  const before = saveCpuState(cpu);
  loadHandler(m, "mov eax, 0x1234\nrsm");
  cpu.smiPending = true;
  assert.equal(cpu.run(2), "limit");
  // The handler's EAX does not survive: RAX comes back from SMRAM.
  assert.deepEqual(withoutIcount(saveCpuState(cpu)), withoutIcount(before));
  assert.equal(cpu.run(10), "halt");
  assert.equal(cpu.lo[3], 1);
  assert.equal(cpu.rip, 0x202);
});

test("SMBASE relocation: the value written at FF00H is used by the next SMI", () => {
  const m = createMachine();
  const { cpu } = m;
  const newBase = 0x50000;
  loadHandler(m, `mov dword ptr cs:[0xff00], ${newBase}\nrsm`);
  m.mem.load(0x7c00, assemble("nop\nnop\nhlt", 16, 0x7c00));
  cpu.segSel[SEG.CS] = 0;
  cpu.segBase[SEG.CS] = 0;
  cpu.rip = 0x7c00;
  cpu.updateMode();
  cpu.smiPending = true;
  cpu.run(2);
  assert.equal(cpu.smbase, newBase);
  assert.equal(cpu.inSmm, false);
  assert.equal(cpu.rip, 0x7c00);
  cpu.smiPending = true;
  cpu.lo[3] = 0;
  let csAtEntry = -1;
  m.hooks.ioRead = () => {
    csAtEntry = cpu.segBase[SEG.CS];
    return 0;
  };
  m.mem.load(newBase + 0x8000, assemble("in al, 0x80\nmov bx, 0x5a5a\nrsm", 16, 0x8000));
  assert.equal(cpu.run(100), "halt");
  assert.equal(csAtEntry, newBase);
  assert.equal(m.mem.read32(newBase + 0xff00), newBase); // saved by the second SMI at the new base
  assert.equal(m.mem.read32(newBase + 0xfefc), 0x00020064);
  assert.equal(cpu.lo[3] & 0xffff, 0); // BX restored from SMRAM
});

test("RSM with an invalid state in SMRAM enters shutdown", () => {
  const cases: [string, string][] = [
    ["CR0.PG without PE", "mov dword ptr cs:[0xff58], 0x80000010"],
    ["CR0.NW without CD", "mov dword ptr cs:[0xff58], 0x20000011"],
    ["CR0 upper half", "mov dword ptr cs:[0xff5c], 1"],
    ["CR4 reserved bit 31", "mov dword ptr cs:[0xff48], 0x80000020"],
    ["EFER reserved bit", "mov dword ptr cs:[0xfed0], 0x10d01"],
    ["long mode without PAE", "mov dword ptr cs:[0xff48], 0"],
    ["non-canonical RIP", "mov dword ptr cs:[0xff7c], 0x00010000"],
  ];
  for (const [name, edit] of cases) {
    const m = longModeContext();
    let reason = "";
    m.hooks.shutdown = (r) => {
      reason = r;
    };
    loadHandler(m, `${edit}\nrsm`);
    m.cpu.smiPending = true;
    assert.equal(m.cpu.run(100), "shutdown", name);
    assert.match(reason, /RSM/, name);
    assert.equal(m.cpu.shutdownState, true, name);
  }
});

test("RSM outside SMM is #UD", () => {
  const m = faultMachine(64);
  assertFault(runForFault(m, "rsm", 64), 6);
});

test("rsm hook: continue sees the SMRAM values, a replacement is committed, exit abandons RSM", () => {
  // continue
  let m = longModeContext();
  const calls: [number, number][] = [];
  m.hooks.rsm = (cr0, cr4) => {
    calls.push([cr0, cr4]);
    return "continue";
  };
  loadHandler(m, "rsm");
  m.cpu.smiPending = true;
  m.cpu.run(1);
  assert.deepEqual(calls, [[0x8001003f, 0x6a0]]);
  assert.equal(m.cpu.cr4, 0x6a0);

  // replace: CR4.SMEP forced on, CR0.WP forced off
  m = longModeContext();
  m.hooks.rsm = (cr0, cr4) => ({ cr0: (cr0 & ~0x10000) >>> 0, cr4: (cr4 | 0x100000) >>> 0 });
  loadHandler(m, "rsm");
  m.cpu.smiPending = true;
  m.cpu.run(1);
  assert.equal(m.cpu.inSmm, false);
  assert.equal(m.cpu.cr4, 0x1006a0);
  assert.equal(m.cpu.cr0 >>> 0, 0x8000003f);

  // a replacement that is invalid shuts down like an invalid SMRAM
  m = longModeContext();
  m.hooks.rsm = (cr0) => ({ cr0, cr4: 0 });
  loadHandler(m, "rsm");
  m.cpu.smiPending = true;
  assert.equal(m.cpu.run(1), "shutdown");

  // exit: nothing changes, still in SMM on the RSM; a later run() completes it
  m = longModeContext();
  let decision: "exit" | "continue" = "exit";
  m.hooks.rsm = () => decision;
  loadHandler(m, "mov ax, 7\nrsm");
  m.cpu.smiPending = true;
  assert.equal(m.cpu.run(100), "exit");
  assert.equal(m.cpu.inSmm, true);
  assert.equal(m.cpu.rip, 0x8003); // RSM follows the 3-byte MOV
  assert.ok(m.cpu.lastExit instanceof InstructionExit);
  assert.equal(m.cpu.icount, 1); // the MOV retired, the RSM did not
  const inSmm = saveCpuState(m.cpu);
  assert.equal(m.cpu.run(100), "exit"); // asked again: still nothing changes
  assert.deepEqual(saveCpuState(m.cpu), inSmm);
  decision = "continue";
  assert.equal(m.cpu.run(1), "limit");
  assert.equal(m.cpu.inSmm, false);
  assert.equal(m.cpu.long64, true);
  assert.equal(m.cpu.icount, 2);

  // a hook may also throw the exit itself
  m = longModeContext();
  m.hooks.rsm = () => {
    throw new InstructionExit("rsm audit");
  };
  loadHandler(m, "rsm");
  m.cpu.smiPending = true;
  assert.equal(m.cpu.run(100), "exit");
  assert.equal(m.cpu.lastExit?.reason, "rsm audit");
  assert.equal(m.cpu.inSmm, true);
  assert.equal(m.cpu.rip, 0x8000);
});

test("an SMI raised in SMM stays pending until RSM, then is taken before the next instruction", () => {
  const m = createMachine();
  enterLong64(m);
  const { cpu } = m;
  let outs = 0;
  m.hooks.ioWrite = (port) => {
    if (port !== 0xb2) return;
    outs++;
    if (outs === 1) cpu.smiPending = true;
    assert.equal(cpu.inSmm, true);
  };
  loadHandler(m, "out 0xb2, al\nnop\nnop\nrsm");
  m.mem.load(LAYOUT.code, assemble("inc rbx\nhlt", 64, LAYOUT.code));
  cpu.rip = LAYOUT.code;
  cpu.lo[3] = 0;
  cpu.smiPending = true;
  assert.equal(cpu.run(1000), "halt");
  assert.equal(outs, 2); // one handler run per SMI, no nesting
  assert.equal(cpu.lo[3], 1);
  assert.equal(cpu.smiPending, false);
});

test("NMI is blocked in SMM and delivered after RSM; SMI wins over NMI and INTR, whatever IF", () => {
  const m = faultMachine(64);
  const { cpu } = m;
  const nmiHandler = 0x6000;
  m.mem.load(nmiHandler, assemble("mov r15, 0x77\nhlt", 64, nmiHandler));
  const g = LAYOUT.idt + 2 * 16;
  m.mem.write32(g, (0x08 << 16) | nmiHandler);
  m.mem.write32(g + 4, 0x8e00);
  let pendingInSmm: boolean[] = [];
  m.hooks.ioWrite = (port) => {
    if (port === 0xb2) cpu.nmiPending = true;
    if (port === 0xb3) pendingInSmm = [cpu.inSmm, cpu.nmiPending];
  };
  loadHandler(m, "out 0xb2, al\nnop\nout 0xb3, al\nrsm");
  m.mem.load(LAYOUT.code, assemble("nop\nnop\nhlt", 64, LAYOUT.code));
  cpu.rip = LAYOUT.code;
  cpu.smiPending = true;
  assert.equal(cpu.run(1000), "halt");
  assert.deepEqual(pendingInSmm, [true, true]);
  assert.equal(cpu.lo[15], 0x77); // delivered after RSM, before the first NOP
  assert.equal(cpu.nmiBlocked, true); // the NMI handler has not executed IRET

  // NMI blocked before the SMI stays blocked after RSM (SDM Vol.3 34.8).
  const m2 = faultMachine(64);
  m2.mem.load(LAYOUT.code, assemble("nop\nhlt", 64, LAYOUT.code));
  loadHandler(m2, "rsm");
  m2.cpu.rip = LAYOUT.code;
  m2.cpu.nmiBlocked = true;
  m2.cpu.nmiPending = true;
  m2.cpu.smiPending = true;
  assert.equal(m2.cpu.run(1000), "halt");
  assert.equal(m2.cpu.nmiPending, true);
  assert.equal(m2.cpu.nmiBlocked, true);

  // SMI, NMI and INTR pending together with IF=0: the SMI is taken first.
  const m3 = faultMachine(64);
  let acks = 0;
  m3.cpu.acknowledgeInterrupt = () => {
    acks++;
    return 0x30;
  };
  let state: unknown[] = [];
  m3.hooks.ioWrite = () => {
    state = [m3.cpu.inSmm, m3.cpu.nmiPending, m3.cpu.intrPending, acks];
  };
  loadHandler(m3, "out 0xb2, al\nhlt");
  m3.cpu.setEflags(0x2);
  m3.cpu.nmiPending = true;
  m3.cpu.intrPending = true;
  m3.cpu.smiPending = true;
  m3.cpu.rip = LAYOUT.code;
  m3.cpu.run(100);
  assert.deepEqual(state, [true, true, true, 0]);
});

test("auto HALT restart: RSM returns to HLT, or past it when the handler clears the flag", () => {
  for (const clear of [false, true]) {
    const m = createMachine();
    enterLong64(m);
    const { cpu } = m;
    m.mem.load(LAYOUT.code, assemble("hlt\ninc rbx\nhlt", 64, LAYOUT.code));
    cpu.rip = LAYOUT.code;
    cpu.lo[3] = 0;
    assert.equal(cpu.run(10), "halt");
    assert.equal(cpu.rip, LAYOUT.code + 1);
    loadHandler(m, `${clear ? "mov byte ptr cs:[0xfec9], 0\n" : ""}rsm`);
    cpu.smiPending = true;
    assert.equal(cpu.run(10), "halt");
    assert.equal(m.mem.read8(SMBASE + 0xfec9), clear ? 0 : 1);
    assert.equal(cpu.inSmm, false);
    if (clear) {
      assert.equal(cpu.lo[3], 1);
      assert.equal(cpu.rip, LAYOUT.code + 5); // HLT, INC RBX (3 bytes), HLT
    } else {
      assert.equal(cpu.lo[3], 0);
      assert.equal(cpu.rip, LAYOUT.code + 1);
    }
  }
});

test("SMBASE is 30000H after power-up and RESET and survives INIT; SMM state is saved and loaded", () => {
  const m = createMachine();
  const { cpu } = m;
  resetCpu(cpu, "power-up", 0x6f1);
  assert.equal(cpu.smbase, 0x30000);
  cpu.smbase = 0xa0000;
  resetCpu(cpu, "init", 0x6f1);
  assert.equal(cpu.smbase, 0xa0000);
  resetCpu(cpu, "reset", 0x6f1);
  assert.equal(cpu.smbase, 0x30000);

  loadHandler(m, "nop\nhlt");
  cpu.segBase[SEG.CS] = 0;
  cpu.rip = 0x7c00;
  cpu.updateMode();
  cpu.smiPending = true;
  cpu.run(1);
  cpu.smiPending = true;
  cpu.smbase = 0x50000;
  const s = saveCpuState(cpu);
  assert.equal(s.version, CPU_STATE_VERSION);
  assert.deepEqual(
    [s.smbase, s.inSmm, s.smiPending, s.nmiBlocked, s.nmiBlockedAtSmi],
    [0x50000, true, true, true, false],
  );
  const m2 = createMachine();
  loadCpuState(m2.cpu, JSON.parse(JSON.stringify(s)) as CpuState);
  assert.deepEqual(saveCpuState(m2.cpu), s);
  assert.throws(() => loadCpuState(m2.cpu, { ...s, smbase: -1 }), /smbase/);
  assert.throws(() => loadCpuState(m2.cpu, { ...s, inSmm: 1 as unknown as boolean }), /inSmm/);
  // A version-1 state (no SMM fields) loads as "never saw an SMI".
  const { smbase: _a, inSmm: _b, smiPending: _c, nmiBlockedAtSmi: _d, ...v1 } = s;
  loadCpuState(m2.cpu, { ...v1, version: 1 } as CpuState);
  assert.deepEqual([m2.cpu.smbase, m2.cpu.inSmm, m2.cpu.smiPending], [0x30000, false, false]);
});

test("VMCALL and VMMCALL: #UD unless the hypercall hook handles them; the hook sees CPL and RIP", () => {
  for (const insn of ["vmcall", "vmmcall"]) {
    const m = faultMachine(64);
    assertFault(runForFault(m, insn, 64), 6);

    const m2 = faultMachine(64);
    const seen: [number, bigint][] = [];
    m2.hooks.hypercall = () => {
      seen.push([m2.cpu.cpl, m2.cpu.instructionRip]);
      m2.cpu.lo[0] = m2.cpu.lo[0] + 0x100;
      return true;
    };
    runCode(m2, `mov eax, 7\n${insn}\nmov ebx, eax`, 64);
    assert.equal(lastFault(m2), null);
    assert.equal(m2.cpu.lo[3], 0x107);
    assert.deepEqual(seen, [[0, BigInt(LAYOUT.code + 5)]]);

    // At CPL 3 the call still reaches the hook; refused → #UD at CPL 3.
    const m3 = faultMachine(64);
    enterUser(m3, 64);
    const cpls: number[] = [];
    m3.hooks.hypercall = () => {
      cpls.push(m3.cpu.cpl);
      return false;
    };
    assertFault(runForFault(m3, insn, 64), 6);
    assert.deepEqual(cpls, [3]);
  }
});

test("controlWrite is told the writing instruction (and SMM); RSM does not call it", () => {
  const m = createMachine();
  enterLong64(m);
  const { cpu } = m;
  const writes: [ControlRegister, ControlWriteSource, number, boolean][] = [];
  m.hooks.controlWrite = (reg, _ol, _oh, _nl, _nh, source) => {
    // The opcode byte after 0F at CS:RIP of the instruction (paging is identity or off).
    const at = cpu.segBase[SEG.CS] + Number(cpu.instructionRip);
    writes.push([reg, source, m.mem.read8(at + 1), cpu.inSmm]);
    return true;
  };
  runCode(
    m,
    [
      "mov rax, cr0",
      "mov cr0, rax",
      "lmsw ax",
      "clts",
      "mov rax, cr4",
      "mov cr4, rax",
      "mov rax, cr3",
      "mov cr3, rax",
      "mov ecx, 0xc0000080",
      "rdmsr",
      "wrmsr",
      "mov rax, cr4",
      "or eax, 0x40000",
      "mov cr4, rax",
      "xor ecx, ecx",
      "xor edx, edx",
      "mov eax, 3",
      "xsetbv",
    ].join("\n"),
    64,
  );
  assert.deepEqual(writes, [
    ["cr0", "mov", 0x22, false],
    ["cr0", "lmsw", 0x01, false],
    ["cr0", "clts", 0x06, false],
    ["cr4", "mov", 0x22, false],
    ["cr3", "mov", 0x22, false],
    ["efer", "wrmsr", 0x30, false],
    ["cr4", "mov", 0x22, false],
    ["xcr0", "xsetbv", 0x01, false],
  ]);
  writes.length = 0;
  loadHandler(m, "mov eax, cr0\nmov cr0, eax\nrsm");
  cpu.smiPending = true;
  cpu.run(3);
  assert.equal(cpu.inSmm, false);
  assert.deepEqual(writes, [["cr0", "mov", 0x22, true]]);
});

test("an SMI raised inside a hot loop is taken at the next block boundary, compiled or not", () => {
  for (const jitThreshold of [Infinity, 1]) {
    const m = createMachine();
    enterLong64(m);
    const { cpu } = m;
    cpu.jitThreshold = jitThreshold;
    // One self-looping block; its MMIO load raises the SMI (as a chipset register might).
    const src =
      "mov esi, 0x30000000\nxor ebx, ebx\nmov ecx, 1000\n1:\nmov eax, [rsi]\ninc rbx\ndec ecx\njnz 1b\nhlt";
    m.mem.load(LAYOUT.code, assemble(src, 64, LAYOUT.code));
    cpu.rip = LAYOUT.code;
    let reads = 0;
    m.mem.addMmio(0x30000000, 0x1000, {
      read: () => {
        if (++reads === 500) cpu.smiPending = true;
        return 0;
      },
      write: () => {},
    });
    let saved: bigint[] = [];
    m.hooks.ioWrite = () => {
      saved = [q(m, SMBASE + 0xff78), q(m, SMBASE + 0xffe0)]; // RIP, RBX
    };
    loadHandler(m, "out 0xb3, al\nrsm");
    assert.equal(cpu.run(1e6), "halt");
    assert.deepEqual(saved, [BigInt(LAYOUT.code + 12), 500n], `jitThreshold ${jitThreshold}`);
    assert.equal(cpu.lo[3], 1000);
  }
});
