/**
 * Hardware task switching (SDM Vol.3 7.3, Table 7-1; Vol.2 JMP/CALL TASK-GATE and
 * TASK-STATE-SEGMENT, INT n TASK-GATE, IRET TASK-RETURN): CALL/JMP to a TSS and through a
 * task gate, events through IDT task gates (with the error code on the new stack), IRET
 * back through the link, 16-bit TSSs, busy/NT/link rules, CR3 loading, the T bit, the fault
 * cases before and after the commit point, a hypervisor veto of the CR0.TS write, IA-32e
 * mode (#GP) and the interpreter/JIT agreeing on a loop of task switches.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, runCode, type TestMachine } from "../helpers/machine.js";
import { assemble } from "../helpers/asm.js";
import {
  protected32World,
  long64World,
  setGate32,
  setGate64,
  gate,
  segDesc,
  tssDesc,
  data32,
  writeTable,
  loadSeg,
  peek32,
  STUBS,
  WORLD,
  type Desc,
} from "../helpers/descriptors.js";
import { SEG } from "../../src/x86/segment.js";
import type { ControlRegister, ControlWriteSource } from "../../src/cpu/hooks.js";

const TSS_A = WORLD.tss; // selector 0x28, the running task
const TSS_B = 0x6000; // selector 0x48
const TSS_16 = 0x7000; // selector 0x58
const TSS_C = 0x6800; // selector 0x60
const LDT = 0x7800; // selector 0x78
const CODE_B = 0x310000;
const CODE_C = 0x320000;
const CODE_16 = 0xa000;
const DATA = 0x8000;
const NT = 0x4000;
const BUSY = 0x200;
const TS = 8;

/** GDT entries from 0x48 (see the selector constants above). */
function extras(): Desc[] {
  return [
    tssDesc(TSS_B, 0x67), // 0x48
    gate(0x48, 0, 5, 3), // 0x50: task gate DPL 3 → B
    segDesc(TSS_16, 0x2b, 1, 0, { s: false }), // 0x58: 16-bit TSS
    tssDesc(TSS_C, 0x67), // 0x60
    gate(0x48, 0, 5, 0), // 0x68: task gate DPL 0 → B
    data32(0, false), // 0x70: not-present data
    segDesc(LDT, 0x17, 2, 0, { s: false }), // 0x78: LDT
    tssDesc(TSS_B, 0x67, true), // 0x80: a busy TSS (aliases B's TSS)
  ];
}

interface Tss32 {
  eip: number;
  esp?: number;
  cs?: number;
  ss?: number;
  ds?: number;
  es?: number;
  eflags?: number;
  cr3?: number;
  ldt?: number;
  trap?: boolean;
  regs?: number[];
}

/** Fill a 32-bit TSS (SDM Vol.3 Figure 7-2) at `base` for a ring-0 flat task. */
function tss32(m: TestMachine, base: number, t: Tss32): void {
  const w32 = (off: number, v: number): void => m.mem.write32(base + off, v);
  for (let off = 0; off < 0x68; off += 4) w32(off, 0);
  w32(0, 0xdead); // link: must be overwritten by CALL/events only
  w32(0x1c, t.cr3 ?? 0);
  w32(0x20, t.eip);
  w32(0x24, t.eflags ?? 2);
  const regs = t.regs ?? [0x10, 0x11, 0x12, 0x13, t.esp ?? 0x70000, 0x15, 0x16, 0x17];
  regs[4] = t.esp ?? 0x70000;
  regs.forEach((v, n) => w32(0x28 + n * 4, v));
  const segs = [t.es ?? 0x10, t.cs ?? 0x08, t.ss ?? 0x10, t.ds ?? 0x10, 0x10, 0x10];
  segs.forEach((v, n) => w32(0x48 + n * 4, v));
  w32(0x60, t.ldt ?? 0);
  w32(0x64, (0x68 << 16) | (t.trap ? 1 : 0));
}

/** The world of protected32World plus the task descriptors; B's code at CODE_B. */
function world(codeB = "mov dword ptr [0x8000], 0xb0b\nhlt\niretd", gdt: Desc[] = extras()): TestMachine {
  const m = createMachine();
  protected32World(m, gdt);
  m.mem.load(CODE_B, assemble(codeB, 32, CODE_B));
  tss32(m, TSS_B, { eip: CODE_B });
  return m;
}

function descHi(m: TestMachine, sel: number): number {
  return peek32(m, WORLD.gdt + (sel & 0xfff8) + 4);
}

function vecAndErr(m: TestMachine): [number, number] {
  return [m.cpu.lo[7], m.cpu.lo[6]];
}

/** Continue after a HLT. */
function resume(m: TestMachine): string {
  m.cpu.halted = false;
  return m.cpu.run(1_000_000);
}

test("CALL to a TSS: state saved, B loaded with NT, link and both busy; IRET returns and frees B", () => {
  const m = world();
  const { cpu } = m;
  const src = "mov eax, 0xaa\nmov ebp, 0x1234\ncall 0x48:0\nafter:\nmov ecx, 0xcc\nhlt";
  const code = assemble(src + "\nhlt\n", 32, 0x100000);
  assert.equal(runCode(m, src, 32), "halt");
  // In task B, halted.
  assert.equal(peek32(m, DATA), 0xb0b);
  assert.equal(cpu.segSel[SEG.TR], 0x48);
  assert.equal(cpu.segBase[SEG.TR], TSS_B);
  assert.equal(cpu.lo[4] >>> 0, 0x70000);
  assert.equal(cpu.lo[1], 0x11, "ECX from B's TSS");
  assert.ok(cpu.getEflags() & NT, "NT set in the nested task");
  assert.ok(cpu.cr0 & TS, "CR0.TS set");
  assert.equal(peek32(m, TSS_B) & 0xffff, 0x28, "B's link = A");
  assert.ok(descHi(m, 0x48) & BUSY, "B busy");
  assert.ok(descHi(m, 0x28) & BUSY, "A stays busy (CALL)");
  // A's TSS holds its state: EIP after the CALL (7 bytes at offset 10), EAX, EBP, ESP.
  const callEnd = 0x100000 + 5 + 5 + 7;
  assert.equal(code[10], 0x9a);
  assert.equal(peek32(m, TSS_A + 0x20), callEnd);
  assert.equal(peek32(m, TSS_A + 0x28), 0xaa);
  assert.equal(peek32(m, TSS_A + 0x28 + 5 * 4), 0x1234);
  assert.equal(peek32(m, TSS_A + 0x28 + 4 * 4), 0x90000);
  assert.equal(peek32(m, TSS_A + 0x4c) & 0xffff, 0x08);
  assert.equal(peek32(m, TSS_A + 0x24) & NT, 0);
  // IRET in B: back to A through the link.
  assert.equal(resume(m), "halt");
  assert.equal(cpu.segSel[SEG.TR], 0x28);
  assert.equal(cpu.lo[1], 0xcc, "A continued after the CALL");
  assert.equal(cpu.lo[0], 0xaa, "EAX restored from A's TSS");
  assert.equal(cpu.lo[5], 0x1234);
  assert.equal(cpu.getEflags() & NT, 0);
  assert.equal(descHi(m, 0x48) & BUSY, 0, "IRET frees B");
  assert.ok(descHi(m, 0x28) & BUSY);
  // B's TSS: EIP after its IRET, NT cleared in the saved image.
  assert.equal(peek32(m, TSS_B + 0x20), CODE_B + 10 + 1 + 1);
  assert.equal(peek32(m, TSS_B + 0x24) & NT, 0);
});

test("JMP to a TSS: A freed, B busy, no NT, link untouched, EFLAGS and registers from the TSS", () => {
  const m = world("hlt");
  tss32(m, TSS_B, { eip: CODE_B, eflags: 0x8c3, regs: [1, 2, 3, 4, 0, 6, 7, 8] });
  const { cpu } = m;
  assert.equal(runCode(m, "jmp 0x48:0", 32), "halt");
  assert.equal(cpu.segSel[SEG.TR], 0x48);
  assert.equal(cpu.getEflags(), 0x8c3);
  assert.deepEqual(
    [0, 1, 2, 3, 5, 6, 7].map((r) => cpu.lo[r]),
    [1, 2, 3, 4, 6, 7, 8],
  );
  assert.equal(descHi(m, 0x28) & BUSY, 0, "JMP frees A");
  assert.ok(descHi(m, 0x48) & BUSY);
  assert.equal(peek32(m, TSS_B), 0xdead, "no link");
  assert.equal(peek32(m, TSS_A + 0x20), 0x100000 + 7);
});

test("task gates in the GDT: DPL checked against CPL and RPL (not the TSS's DPL)", () => {
  const toRing3 = "push 0x23\npush 0x60000\npush 0x202\npush 0x1b\npush offset user\niretd\nuser:\n";
  // DPL-3 gate to a DPL-0 TSS from ring 3: allowed.
  const m = world("hlt");
  assert.equal(runCode(m, toRing3 + "call 0x53:0", 32), "halt");
  assert.equal(m.cpu.segSel[SEG.TR], 0x48);
  assert.equal(m.cpu.cpl, 0);
  // DPL-0 gate from ring 3 → #GP(gate); DPL-0 TSS from ring 3 → #GP(TSS).
  const m2 = world("hlt");
  runCode(m2, toRing3 + "call 0x68:0", 32);
  assert.deepEqual(vecAndErr(m2), [13, 0x68]);
  assert.equal(m2.cpu.segSel[SEG.TR], 0x28);
  const m3 = world("hlt");
  runCode(m3, toRing3 + "jmp 0x48:0", 32);
  assert.deepEqual(vecAndErr(m3), [13, 0x48]);
  // RPL 3 > DPL 0 at CPL 0 → #GP(TSS).
  const m4 = world("hlt");
  runCode(m4, "jmp 0x4b:0", 32);
  assert.deepEqual(vecAndErr(m4), [13, 0x48]);
});

test("16-bit TSS: CALL loads 16-bit state (upper halves FFFFH), IRET saves the 16-bit format", () => {
  const m = world("hlt");
  const { cpu, mem } = m;
  mem.load(CODE_16, assemble("mov word ptr ds:[0x8000], 0x1616\nhlt\niret", 16, CODE_16));
  const b = TSS_16;
  for (let off = 0; off < 0x2c; off += 2) mem.write16(b + off, 0);
  mem.write16(b + 0x0e, CODE_16); // IP
  mem.write16(b + 0x10, 0x0002); // FLAGS
  [0x1, 0x2, 0x3, 0x4, 0x7000, 0x6, 0x7, 0x8].forEach((v, n) => mem.write16(b + 0x12 + n * 2, v));
  [0x10, 0x38, 0x10, 0x10].forEach((v, n) => mem.write16(b + 0x22 + n * 2, v)); // ES CS SS DS
  assert.equal(runCode(m, "mov ebx, 0xbbbbbbbb\ncall 0x58:0\nmov ecx, 0xc\nhlt", 32), "halt");
  assert.equal(peek32(m, DATA) & 0xffff, 0x1616);
  assert.equal(cpu.segSel[SEG.TR], 0x58);
  assert.equal(cpu.codeSize, 2);
  assert.equal(cpu.lo[0] >>> 0, 0xffff0001);
  assert.equal(cpu.lo[4] >>> 0, 0xffff7000);
  assert.equal(cpu.segSel[SEG.FS], 0);
  assert.equal(cpu.segSel[SEG.GS], 0);
  assert.equal(mem.read16(b) & 0xffff, 0x28, "link");
  assert.ok(cpu.getEflags() & NT);
  assert.equal(resume(m), "halt");
  assert.equal(cpu.segSel[SEG.TR], 0x28);
  assert.equal(cpu.lo[1], 0xc);
  assert.equal(cpu.lo[3] >>> 0, 0xbbbbbbbb);
  assert.equal(mem.read16(b + 0x0e), CODE_16 + 6 + 1 + 1, "IP after the IRET");
  assert.equal(mem.read16(b + 0x10) & NT, 0, "NT cleared in the image");
  assert.equal(mem.read16(b + 0x12), 1, "AX saved as 16 bits");
  assert.equal(descHi(m, 0x58) & BUSY, 0);
});

test("CR3 is loaded from the new 32-bit TSS when paging is on, and offered to the hook", () => {
  const m = world("mov eax, dword ptr [0x400000]\nhlt");
  const { cpu, mem } = m;
  // Two 32-bit page directories with 4 MiB pages: identity, and one mapping 4M → 8M.
  for (const pd of [0x20000, 0x21000]) for (let n = 0; n < 4; n++) mem.write32(pd + n * 4, (n << 22) | 0x83);
  mem.write32(0x21000 + 4, (2 << 22) | 0x83);
  mem.write32(0x400000, 0x4444);
  mem.write32(0x800000, 0x8888);
  tss32(m, TSS_B, { eip: CODE_B, cr3: 0x21000 });
  const seen: string[] = [];
  m.hooks.controlWrite = (reg: ControlRegister, _o, _oh, v, _vh, src: ControlWriteSource) => {
    seen.push(`${reg}:${(v >>> 0).toString(16)}:${src}`);
    return true;
  };
  cpu.cr4 = 0x10; // PSE
  cpu.cr3 = 0x20000;
  cpu.cr0 = 0x80000011 | 0;
  cpu.updateMode();
  cpu.flushTlb(false);
  assert.equal(runCode(m, "mov ebx, dword ptr [0x400000]\ncall 0x48:0", 32), "halt");
  assert.equal(cpu.lo[0], 0x8888, "B sees its own address space");
  assert.equal(cpu.cr3, 0x21000);
  assert.equal(peek32(m, TSS_A + 0x28 + 3 * 4), 0x4444, "A's EBX saved");
  assert.equal(peek32(m, TSS_A + 0x1c), 0, "CR3 is not saved (static field)");
  assert.deepEqual(seen, ["cr3:21000:task-switch", "cr0:80000019:task-switch"]);
});

test("Table 7-1 before the commit point: #NP, busy #GP, limit #TS; nothing changes", () => {
  const check = (m: TestMachine, src: string, expect: [number, number]): void => {
    runCode(m, src, 32);
    assert.deepEqual(vecAndErr(m), expect, src);
    assert.equal(m.cpu.segSel[SEG.TR], 0x28);
    assert.equal(m.cpu.cr0 & TS, 0);
    assert.equal(peek32(m, TSS_A + 0x20), 0, "old TSS not written");
    assert.ok(descHi(m, 0x28) & BUSY);
  };
  const notPresent = extras();
  notPresent[0] = segDesc(TSS_B, 0x67, 9, 0, { s: false, p: false });
  check(world("hlt", notPresent), "jmp 0x48:0", [11, 0x48]);
  check(world("hlt"), "jmp 0x80:0", [13, 0x80]); // busy TSS
  check(world("hlt"), "call 0x28:0", [13, 0x28]); // the running task is busy
  const gateToBusy = extras();
  gateToBusy[4] = gate(0x80, 0, 5, 0);
  check(world("hlt", gateToBusy), "call 0x68:0", [13, 0x80]);
  const gateToLdt = extras();
  gateToLdt[4] = gate(0x4c, 0, 5, 0);
  check(world("hlt", gateToLdt), "call 0x68:0", [13, 0x4c]);
  const gateNotPresent = extras();
  gateNotPresent[4] = gate(0x48, 0, 5, 0, 0, false);
  check(world("hlt", gateNotPresent), "call 0x68:0", [11, 0x68]);
  const inLdt = world("hlt");
  writeTable(inLdt, LDT, [tssDesc(TSS_B, 0x67)]);
  loadSeg(inLdt.cpu, SEG.LDTR, 0x78);
  check(inLdt, "jmp 0x04:0", [13, 0x04]); // a TSS descriptor in the LDT
  const short = extras();
  short[0] = tssDesc(TSS_B, 0x66);
  check(world("hlt", short), "call 0x48:0", [10, 0x48]);
  const short16 = extras();
  short16[2] = segDesc(TSS_16, 0x2a, 1, 0, { s: false });
  check(world("hlt", short16), "call 0x58:0", [10, 0x58]);
});

test("IRET with NT=1: the link must name a busy TSS in the GDT (#TS(link)); NT=0 is a normal IRET", () => {
  const iretNt = (link: number): TestMachine => {
    const m = world("hlt");
    m.mem.write16(TSS_A, link);
    runCode(m, "pushfd\nor dword ptr [esp], 0x4000\npopfd\niretd", 32);
    return m;
  };
  assert.deepEqual(vecAndErr(iretNt(0x48)), [10, 0x48], "available TSS");
  assert.deepEqual(vecAndErr(iretNt(0x4c)), [10, 0x4c], "TI=1");
  assert.deepEqual(vecAndErr(iretNt(0x10)), [10, 0x10], "not a TSS");
  assert.deepEqual(vecAndErr(iretNt(0x1000)), [10, 0x1000], "outside the GDT");
  const m = iretNt(0x80);
  assert.equal(m.cpu.segSel[SEG.TR], 0x80, "busy TSS: switched");
  assert.equal(m.cpu.rip, CODE_B + 1);
});

test("Table 7-1 after the commit point: faults are delivered in the new task", () => {
  // DS not present → #NP(DS) with TR, CS:EIP, SS:ESP of the new task.
  const m = world("hlt");
  tss32(m, TSS_B, { eip: CODE_B, ds: 0x70 });
  runCode(m, "jmp 0x48:0", 32);
  assert.deepEqual(vecAndErr(m), [11, 0x70]);
  const { cpu } = m;
  assert.equal(cpu.segSel[SEG.TR], 0x48);
  assert.equal(cpu.segSel[SEG.DS], 0x70, "the new selector is visible");
  const sp = cpu.lo[4] >>> 0;
  assert.equal(sp, 0x70000 - 12, "frame on B's stack (error code popped by the stub)");
  assert.equal(peek32(m, sp), CODE_B, "return address: B's first instruction");
  assert.ok(cpu.cr0 & TS);
  // A DS with DPL 0 and RPL 3 → #TS(DS); a CS whose RPL differs from its DPL → #TS(CS).
  const m1 = world("hlt");
  tss32(m1, TSS_B, { eip: CODE_B, cs: 0x0b });
  setGate32(m1, 10, gate(0x60, 0, 5, 0));
  m1.mem.load(CODE_C, assemble("pop eax\nhlt", 32, CODE_C));
  tss32(m1, TSS_C, { eip: CODE_C, esp: 0x68000 });
  runCode(m1, "jmp 0x48:0", 32);
  assert.equal(m1.cpu.segSel[SEG.TR], 0x60, "#TS taken through a task gate");
  assert.equal(m1.cpu.lo[0], 0x08, "#TS(CS)");
  const m2 = world("hlt");
  tss32(m2, TSS_B, { eip: CODE_B, ds: 0x13 });
  runCode(m2, "jmp 0x48:0", 32);
  assert.deepEqual(vecAndErr(m2), [10, 0x10]);
  // EIP beyond the CS limit → #GP(0) in the new task.
  const m3 = world("hlt");
  tss32(m3, TSS_B, { eip: 0x1234, cs: 0x38 });
  m3.mem.write32(TSS_B + 0x20, 0x12345);
  runCode(m3, "jmp 0x48:0", 32);
  assert.deepEqual(vecAndErr(m3), [13, 0]);
  assert.equal(m3.cpu.segSel[SEG.TR], 0x48);
});

test("exception through an IDT task gate: error code on the new stack, faulting EIP saved, IRET back", () => {
  // #TS from a bad LDT in task B is delivered through a task gate to task C.
  const m = world("hlt");
  const { cpu, mem } = m;
  tss32(m, TSS_B, { eip: CODE_B, ldt: 0x10 });
  mem.load(CODE_C, assemble("pop eax\nhlt", 32, CODE_C));
  tss32(m, TSS_C, { eip: CODE_C, esp: 0x68000 });
  setGate32(m, 10, gate(0x60, 0, 5, 0));
  runCode(m, "jmp 0x48:0", 32);
  assert.equal(cpu.segSel[SEG.TR], 0x60);
  assert.equal(cpu.lo[0], 0x10, "#TS(LDT selector)");
  assert.equal(cpu.lo[4] >>> 0, 0x68000);
  assert.equal(mem.read16(TSS_C), 0x48, "C linked to B");
  assert.equal(peek32(m, TSS_B + 0x20), CODE_B, "B's saved EIP: its first instruction");
  assert.ok(cpu.getEflags() & NT);

  // #GP in task A through a task gate; the handler task fixes EAX and IRETs back.
  const m2 = world("hlt");
  // The handler skips the 2-byte MOV DS in A's saved EIP, as a classic #GP task would.
  m2.mem.load(
    CODE_C,
    assemble("l:\npop ecx\nmov dword ptr [0x8000], ecx\nadd dword ptr [0x5020], 2\niretd\njmp l", 32, CODE_C),
  );
  tss32(m2, TSS_C, { eip: CODE_C, esp: 0x68000 });
  setGate32(m2, 13, gate(0x60, 0, 5, 0));
  const src = "mov ax, 0x28\nmov ds, ax\nmov ebx, 7\nhlt";
  assert.equal(runCode(m2, src, 32), "halt");
  assert.equal(peek32(m2, DATA), 0x28, "#GP(0x28) error code");
  assert.equal(peek32(m2, TSS_A + 0x20), 0x100000 + 4 + 2, "faulting EIP saved (+2 by the handler)");
  assert.equal(m2.cpu.segSel[SEG.TR], 0x28, "back in A");
  assert.equal(m2.cpu.lo[3], 7);
  assert.equal(m2.mem.read16(TSS_C), 0x28, "C was linked to A");
  assert.equal(descHi(m2, 0x60) & BUSY, 0, "C freed by its IRET");
});

test("INT n through a task gate: gate DPL checked for software interrupts, EIP after INT saved", () => {
  const m = world();
  setGate32(m, 0x40, gate(0x48, 0, 5, 0));
  runCode(m, "int 0x40\nmov ecx, 0xcc\nhlt", 32);
  assert.equal(m.cpu.segSel[SEG.TR], 0x48);
  assert.equal(peek32(m, TSS_A + 0x20), 0x100000 + 2);
  assert.equal(peek32(m, TSS_B) & 0xffff, 0x28);
  assert.equal(m.cpu.lo[4] >>> 0, 0x70000, "no error code, no frame");
  assert.equal(resume(m), "halt");
  assert.equal(m.cpu.lo[1], 0xcc);
  // From ring 3 through a DPL-0 task gate → #GP(IDT entry).
  const m2 = world("hlt");
  setGate32(m2, 0x40, gate(0x48, 0, 5, 0));
  runCode(m2, "push 0x23\npush 0x60000\npush 0x202\npush 0x1b\npush offset u\niretd\nu:\nint 0x40", 32);
  assert.deepEqual(vecAndErr(m2), [13, 0x40 * 8 + 2]);
});

test("#DF through a task gate: a kernel stack overflow reaches a handler with a fresh stack", () => {
  const m = world("hlt");
  m.mem.load(CODE_C, assemble("pop eax\nmov ebx, 0xdf\nhlt", 32, CODE_C));
  tss32(m, TSS_C, { eip: CODE_C, esp: 0x68000 });
  setGate32(m, 8, gate(0x60, 0, 5, 0));
  // Two contributory faults: a #GP whose delivery faults (the gate's CS is a data segment).
  setGate32(m, 13, gate(0x70, STUBS, 14, 0));
  runCode(m, "mov ax, 0x28\nmov ds, ax", 32);
  const { cpu } = m;
  assert.equal(cpu.lo[3], 0xdf);
  assert.equal(cpu.segSel[SEG.TR], 0x60);
  assert.equal(cpu.lo[0], 0, "#DF error code 0");
  assert.equal(cpu.lo[4] >>> 0, 0x68000);
  assert.equal(peek32(m, TSS_A + 0x20), 0x100000 + 4);
});

test("T bit: #DB with DR6.BT before the new task's first instruction", () => {
  const m = world("hlt");
  tss32(m, TSS_B, { eip: CODE_B, trap: true });
  runCode(m, "call 0x48:0", 32);
  assert.deepEqual(vecAndErr(m), [1, -1]);
  assert.equal(m.cpu.segSel[SEG.TR], 0x48);
  assert.ok(m.cpu.drLo[6] & 0x8000, "DR6.BT");
  assert.equal(peek32(m, m.cpu.lo[4] >>> 0), CODE_B);
});

test("a veto of the CR0.TS write (task-switch source) is #GP(0) with the old task intact; the exit mask is honoured", () => {
  const run = (mask: number): TestMachine => {
    const m = world("hlt");
    m.hooks.controlWrite = (reg, _o, _oh, _v, _vh, src) => !(reg === "cr0" && src === "task-switch");
    m.cpu.cr0WriteExitMask = mask;
    runCode(m, "call 0x48:0", 32);
    return m;
  };
  const m = run(-1);
  assert.deepEqual(vecAndErr(m), [13, 0]);
  assert.equal(m.cpu.segSel[SEG.TR], 0x28);
  assert.equal(m.cpu.cr0 & TS, 0);
  assert.equal(descHi(m, 0x48) & BUSY, 0, "B not marked busy");
  assert.equal(peek32(m, TSS_A + 0x20), 0, "A's TSS not written");
  assert.equal(peek32(m, TSS_B), 0xdead);
  const m2 = run(TS);
  assert.deepEqual(vecAndErr(m2), [13, 0]);
  const m3 = run(0x80000000 | 0); // only PG watched: the TS change is not offered
  assert.equal(m3.cpu.segSel[SEG.TR], 0x48);
  assert.ok(m3.cpu.cr0 & TS);
});

test("IA-32e mode: TSS and task-gate targets, IDT task gates and IRET with NT are #GP", () => {
  const m = createMachine();
  long64World(m, [tssDesc(0x6000, 0x67), [0, 0], gate(0x48, 0, 5, 0)]);
  m.mem.write32(0x8000, 0);
  m.mem.write16(0x8004, 0x48);
  runCode(m, "jmp fword ptr [0x8000]", 64);
  assert.deepEqual(vecAndErr(m), [13, 0x48]);
  const m2 = createMachine();
  long64World(m2, [tssDesc(0x6000, 0x67), [0, 0], gate(0x48, 0, 5, 0)]);
  m2.mem.write16(0x8004, 0x58);
  runCode(m2, "call fword ptr [0x8000]", 64);
  assert.deepEqual(vecAndErr(m2), [13, 0x58]);
  const m3 = createMachine();
  long64World(m3);
  setGate64(m3, 0x40, [gate(0x48, 0, 5, 0), [0, 0]]);
  runCode(m3, "int 0x40", 64);
  assert.deepEqual(vecAndErr(m3), [13, 0x40 * 8 + 2]);
  const m4 = createMachine();
  long64World(m4);
  runCode(m4, "pushfq\nor qword ptr [rsp], 0x4000\npopfq\niretq", 64);
  assert.deepEqual(vecAndErr(m4), [13, 0]);
});

test("a loop of JMP task switches gives the same result interpreted and compiled", () => {
  const run = (threshold: number): number[] => {
    const m = world("l2:\ninc dword ptr [0x8004]\njmp 0x28:0\njmp l2");
    m.cpu.jitThreshold = threshold;
    const src = "l:\ninc dword ptr [0x8000]\njmp 0x48:0\ncmp dword ptr [0x8000], 50\njb l\nhlt";
    assert.equal(runCode(m, src, 32), "halt");
    return [peek32(m, DATA), peek32(m, DATA + 4), m.cpu.icount, m.cpu.segSel[SEG.TR]];
  };
  const interp = run(Infinity);
  assert.deepEqual(interp.slice(0, 2), [50, 50]);
  assert.equal(interp[3], 0x28);
  assert.deepEqual(run(1), interp);
});
