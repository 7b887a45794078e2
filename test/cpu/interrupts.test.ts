/**
 * Interrupt and exception delivery and return: real-mode INT/IRET (SDM Vol.3 20.1.4),
 * protected-mode gates with stack switches and error codes (6.12, 6.13), V86 delivery and
 * IRET to V86 (20.3), IA-32e frames and IST (6.14), the double-fault table (6.15, Table 6-5),
 * triple fault, the RF image (17.3.1.1), NMI blocking (6.7.1) and IRET's EFLAGS rules.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, enterReal, runCode, LAYOUT, type TestMachine } from "../helpers/machine.js";
import {
  protected32World,
  long64World,
  setGate32,
  setGate64,
  gate,
  gate64,
  segDesc,
  writeTss32,
  writeTss64,
  peek32,
  peek64,
  STUBS,
  WORLD,
} from "../helpers/descriptors.js";
import { SEG } from "../../src/x86/segment.js";

const IF = 0x200;
const RF = 0x10000;
const VM = 0x20000;

/** 32-bit code that IRETs from ring 0 to `user` at ring 3 with EFLAGS `fl`. */
function toRing3(fl = 0x202): string {
  return `push 0x23\npush 0x60000\npush ${fl}\npush 0x1b\npush offset user\niretd\nuser:\n`;
}

function vecAndErr(m: TestMachine): [number, number] {
  return [m.cpu.lo[7], m.cpu.lo[6]];
}

test("real mode: INT n pushes FLAGS/CS/IP through the IVT, clears IF/TF, IRET returns", () => {
  const m = createMachine();
  enterReal(m);
  // IVT entry 0x21 → 0000:7E00; handler records FLAGS then returns.
  m.mem.write32(0x21 * 4, 0x00007e00);
  m.mem.load(0x7e00, new Uint8Array([0x9c, 0x5b, 0xb8, 0x34, 0x12, 0xcf])); // pushf; pop bx; mov ax,0x1234; iret
  const r = runCode(m, "sti\nmov sp, 0x7000\nint 0x21\nmov cx, sp\npushf\npop dx", 16, 0x7c00);
  assert.equal(r, "halt");
  assert.equal(m.cpu.lo[0] & 0xffff, 0x1234);
  assert.equal(m.cpu.lo[3] & IF, 0, "IF cleared in the handler");
  assert.equal(m.cpu.lo[1] & 0xffff, 0x7000, "IRET restored SP");
  assert.equal(m.cpu.lo[2] & IF, IF, "IRET restored IF");
});

test("real mode: IDT limit too small for the vector → #GP → #DF → triple fault", () => {
  const m = createMachine();
  enterReal(m);
  let reason = "";
  m.hooks.shutdown = (why) => (reason = why);
  m.cpu.idtrLimit = 0x10;
  const r = runCode(m, "int 0x21", 16, 0x7c00);
  assert.equal(r, "shutdown");
  assert.match(reason, /triple/);
  assert.equal(m.cpu.shutdownState, true);
});

test("protected mode: IRET to ring 3, INT 0x80 back to ring 0 on the TSS stack", () => {
  const m = createMachine();
  protected32World(m);
  const r = runCode(m, toRing3() + "mov eax, 7\nint 0x80", 32);
  assert.equal(r, "halt");
  const { cpu } = m;
  assert.deepEqual(vecAndErr(m), [0x80, -1]);
  assert.equal(cpu.cpl, 0);
  assert.equal(cpu.segSel[SEG.CS], 0x08);
  assert.equal(cpu.segSel[SEG.SS], 0x10);
  const sp = cpu.lo[4] >>> 0;
  assert.equal(sp, WORLD.stack0 - 20);
  assert.equal(peek32(m, sp + 4), 0x1b);
  assert.equal(peek32(m, sp + 8) & (IF | RF), IF, "EFLAGS image: IF=1, RF=0 for INT n");
  assert.equal(peek32(m, sp + 12), 0x60000);
  assert.equal(peek32(m, sp + 16), 0x23);
  assert.equal(cpu.getEflags() & IF, 0, "interrupt gate clears IF");
});

test("protected mode: INT n through a DPL 0 gate from ring 3 → #GP(vector*8+2), EXT=0", () => {
  const m = createMachine();
  protected32World(m);
  setGate32(m, 0x81, gate(0x08, STUBS + 0x81 * 32, 14, 0));
  runCode(m, toRing3() + "int 0x81", 32);
  assert.deepEqual(vecAndErr(m), [13, 0x81 * 8 + 2]);
  // The fault reports the INT instruction itself.
  assert.equal(peek32(m, m.cpu.lo[4] >>> 0), LAYOUT.code + 20);
});

test("INT3 checks the gate DPL; INT1 does not and sets EXT", () => {
  const m = createMachine();
  protected32World(m);
  runCode(m, toRing3() + "int3", 32);
  assert.deepEqual(vecAndErr(m), [13, 3 * 8 + 2]);
  const m2 = createMachine();
  protected32World(m2);
  runCode(m2, toRing3() + ".byte 0xf1", 32);
  assert.deepEqual(vecAndErr(m2), [1, -1]);
  assert.equal(m2.cpu.cpl, 0);
});

test("fault-class exceptions push RF=1; error code of a not-present gate has IDT and EXT bits", () => {
  const m = createMachine();
  protected32World(m);
  runCode(m, "ud2", 32);
  assert.deepEqual(vecAndErr(m), [6, -1]);
  assert.equal(peek32(m, (m.cpu.lo[4] >>> 0) + 8) & RF, RF);
  const m2 = createMachine();
  protected32World(m2);
  setGate32(m2, 6, gate(0x08, STUBS + 6 * 32, 14, 0, 0, false));
  runCode(m2, "ud2", 32);
  assert.deepEqual(vecAndErr(m2), [11, 6 * 8 + 2 + 1]);
});

test("IRET to an outer level nulls data segments the outer level may not use", () => {
  const m = createMachine();
  protected32World(m);
  // DS = kernel data (DPL 0), ES = user data (DPL 3).
  runCode(m, "mov ax, 0x23\nmov es, ax\n" + toRing3() + "int 0x80", 32);
  assert.equal(m.cpu.segSel[SEG.DS], 0);
  assert.equal(m.cpu.segSel[SEG.ES], 0x23);
});

test("IRET EFLAGS rules: IOPL only at CPL 0, IF only when CPL <= IOPL", () => {
  const m = createMachine();
  protected32World(m);
  // Enter ring 3 with IOPL=0 and IF=1; a same-level IRET at ring 3 tries IOPL=3 and IF=0.
  const src =
    toRing3(0x202) +
    "push 0x1b\npop eax\npush 0x3002\npush eax\npush offset next\niretd\nnext:\npushfd\npop ebx\nint 0x80";
  runCode(m, src, 32);
  assert.equal(m.cpu.lo[3] & 0x3000, 0, "IOPL unchanged at CPL 3");
  assert.equal(m.cpu.lo[3] & IF, IF, "IF unchanged when CPL > IOPL");
  const m2 = createMachine();
  protected32World(m2);
  runCode(
    m2,
    toRing3(0x3202) +
      "push 0x1b\npop eax\npush 0x0002\npush eax\npush offset next\niretd\nnext:\npushfd\npop ebx\nint 0x80",
    32,
  );
  assert.equal(m2.cpu.lo[3] & IF, 0, "IF changeable when CPL <= IOPL");
  assert.equal(m2.cpu.lo[3] & 0x3000, 0x3000, "IOPL still unchangeable at CPL 3");
});

test("inner-level delivery onto a too-small stack → #SS(new SS selector)", () => {
  const m = createMachine();
  // 0x48: ring-0 data segment with limit 0xfff; TSS ESP0 = 8 leaves no room for the frame.
  protected32World(m, [segDesc(0, 0xfff, 2, 0, { db: true })]);
  writeTss32(m, WORLD.tss, [{ ss: 0x48, esp: 8 }]);
  // #SS is handled by a conforming ring-0 segment, so it runs at ring 3 on the user stack.
  setGate32(m, 12, gate(0x30, 0x300000, 14, 0));
  m.mem.load(0x300000, new Uint8Array([0xbf, 12, 0, 0, 0, 0x5e, 0xeb, 0xfe])); // mov edi,12; pop esi; jmp $
  const r = runCode(m, toRing3() + "int 0x80", 32, LAYOUT.code, 200);
  assert.equal(r, "limit");
  assert.deepEqual(vecAndErr(m), [12, 0x48]);
  assert.equal(m.cpu.cpl, 3, "state rolled back to ring 3");
  assert.equal(m.cpu.segSel[SEG.CS], 0x33, "conforming CS gets RPL = CPL");
});

test("#NP while delivering #GP is a double fault (contributory + contributory)", () => {
  const m = createMachine();
  protected32World(m);
  setGate32(m, 13, gate(0x40, STUBS + 13 * 32, 14, 0)); // 0x40 is not present
  runCode(m, "jmp 0x10:0", 32); // far JMP to a data segment → #GP(0x10)
  assert.deepEqual(vecAndErr(m), [8, 0]);
});

test("#PF while delivering #GP is handled serially (SDM Table 6-5), #PF in #PF delivery is #DF", () => {
  const m2 = createMachine();
  long64World(m2);
  setGate64(m2, 13, gate64(0x08, STUBS + 13 * 32, 14, 0, 2));
  writeTss64(m2, WORLD.tss, [WORLD.stack0], [WORLD.ist1, 0x50000000]);
  runCode(m2, "mov rax, 0x8000000000000000\nmov rbx, [rax]", 64); // non-canonical → #GP(0)
  assert.deepEqual(vecAndErr(m2), [14, 0x2], "the #PF (supervisor write, not present) is delivered");
  assert.equal(m2.cpu.cr2, 0x50000000 - 8);
  const m3 = createMachine();
  long64World(m3);
  setGate64(m3, 14, gate64(0x08, STUBS + 14 * 32, 14, 0, 2));
  writeTss64(m3, WORLD.tss, [WORLD.stack0], [WORLD.ist1, 0x50000000]);
  runCode(m3, "mov rax, 0x60000000\nmov rbx, [rax]", 64);
  assert.deepEqual(vecAndErr(m3), [8, 0]);
});

test("triple fault: a fault while delivering #DF → run() returns shutdown, hooks.shutdown called", () => {
  const m = createMachine();
  protected32World(m);
  let calls = 0;
  m.hooks.shutdown = () => calls++;
  for (const v of [8, 13]) setGate32(m, v, gate(0x40, 0, 14, 0));
  const r = runCode(m, "jmp 0x10:0", 32);
  assert.equal(r, "shutdown");
  assert.equal(calls, 1);
});

test("IRETQ: 64-bit frame, ring 0 → ring 3 → INT 0x80 frame aligned on RSP0", () => {
  const m = createMachine();
  long64World(m);
  const src =
    "push 0x23\npush 0x60008\npush 0x202\npush 0x2b\nlea rax, [rip+user]\npush rax\niretq\nuser:\nmov rbx, rsp\nint 0x80";
  runCode(m, src, 64);
  const { cpu } = m;
  assert.deepEqual(vecAndErr(m), [0x80, -1]);
  assert.equal(cpu.reg64(3), 0x60008);
  const rsp = cpu.reg64(4);
  assert.equal(rsp, WORLD.stack0 - 40);
  assert.equal(peek64(m, rsp + 8), 0x2b);
  assert.equal(peek64(m, rsp + 24), 0x60008);
  assert.equal(peek64(m, rsp + 32), 0x23);
  assert.equal(cpu.segSel[SEG.SS], 0, "SS is a null selector with RPL 0");
});

test("IST: the gate's IST stack is used and aligned, even without a privilege change", () => {
  const m = createMachine();
  long64World(m);
  setGate64(m, 0x82, gate64(0x08, STUBS + 0x82 * 32, 14, 0, 1));
  writeTss64(m, WORLD.tss, [WORLD.stack0], [WORLD.ist1 + 8]);
  runCode(m, "int 0x82", 64);
  assert.deepEqual(vecAndErr(m), [0x82, -1]);
  assert.equal(m.cpu.reg64(4), WORLD.ist1 - 40);
  assert.equal(peek64(m, WORLD.ist1 - 8), 0x10, "old SS pushed");
  assert.equal(peek64(m, WORLD.ist1 - 16), 0x90000, "old RSP pushed");
});

test("IRETQ to CPL 0 with a null SS is allowed in 64-bit mode; IRETQ to CPL 3 with null SS is #GP(0)", () => {
  const m = createMachine();
  long64World(m);
  runCode(
    m,
    "mov rbx, rsp\npush 0\npush rbx\npushfq\npush 0x08\nlea rax, [rip+back]\npush rax\niretq\nback:\nmov ecx, 1",
    64,
  );
  assert.equal(m.cpu.lo[1], 1);
  assert.equal(m.cpu.segSel[SEG.SS], 0);
  const m2 = createMachine();
  long64World(m2);
  runCode(m2, "push 3\npush 0x60000\npushfq\npush 0x2b\npush 0\niretq", 64);
  assert.deepEqual(vecAndErr(m2), [13, 0]);
});

test("V86: IRETD with VM=1 enters virtual-8086 mode; INT n with IOPL<3 → #GP(0) with V86 frame", () => {
  const m = createMachine();
  protected32World(m);
  // V86 code at 0x2000:0x0000 (linear 0x20000): int 0x80.
  m.mem.load(0x20000, new Uint8Array([0xcd, 0x80]));
  const src =
    "push 0x5555\npush 0x4444\npush 0x3333\npush 0x2222\npush 0x1000\npush 0xfff0\npush " +
    (VM | 0x2) +
    "\npush 0x2000\npush 0\niretd";
  runCode(m, src, 32);
  const { cpu } = m;
  assert.deepEqual(vecAndErr(m), [13, 0]);
  assert.equal(cpu.v86, false);
  const sp = cpu.lo[4] >>> 0;
  assert.equal(sp, WORLD.stack0 - 36);
  assert.deepEqual(
    [0, 1, 3, 4, 5, 6, 7, 8].map((n) => peek32(m, sp + n * 4)),
    [0, 0x2000, 0xfff0, 0x1000, 0x2222, 0x3333, 0x4444, 0x5555],
  );
  assert.equal(peek32(m, sp + 8) & VM, VM);
  for (const s of [SEG.ES, SEG.DS, SEG.FS, SEG.GS]) assert.equal(cpu.segSel[s], 0);
});

test("V86 with IOPL=3: INT n goes through the IDT; IRET from the handler returns to V86", () => {
  const m = createMachine();
  protected32World(m);
  // Handler for 0x80 at ring 0: iretd straight back. V86 code: int 0x80; mov ax, 0x77; int 0x81.
  setGate32(m, 0x80, gate(0x08, 0x300000, 14, 3));
  m.mem.load(0x300000, new Uint8Array([0xcf]));
  m.mem.load(0x20000, new Uint8Array([0xcd, 0x80, 0xb8, 0x77, 0x00, 0xcd, 0x81]));
  const src =
    "push 0\npush 0\npush 0\npush 0\npush 0x1000\npush 0xfff0\npush " +
    (VM | 0x3002) +
    "\npush 0x2000\npush 0\niretd";
  runCode(m, src, 32);
  assert.deepEqual(vecAndErr(m), [0x81, -1]);
  assert.equal(m.cpu.lo[0] & 0xffff, 0x77);
});

test("NMI blocks further NMIs until IRET", () => {
  const m = createMachine();
  protected32World(m);
  // NMI handler: iretd.
  setGate32(m, 2, gate(0x08, 0x300000, 14, 0));
  m.mem.load(0x300000, new Uint8Array([0x41, 0xcf])); // inc ecx; iretd
  m.cpu.nmiPending = true;
  runCode(m, "xor ecx, ecx\nnop\nnop", 32);
  // The NMI was taken before the first instruction: ECX was incremented then cleared.
  assert.equal(m.cpu.nmiBlocked, false, "IRET unblocked NMIs");
  m.cpu.nmiBlocked = true;
  m.cpu.nmiPending = true;
  runCode(m, "xor ecx, ecx\nnop", 32);
  assert.equal(m.cpu.lo[1], 0, "blocked NMI not delivered");
  assert.equal(m.cpu.nmiPending, true);
});

test("16-bit interrupt gate pushes a 16-bit frame", () => {
  const m = createMachine();
  protected32World(m);
  setGate32(m, 0x40, gate(0x08, 0x3000, 6, 0)); // 16-bit interrupt gate, offset 0x3000 in code32 0x08
  m.mem.load(0x3000, new Uint8Array([0xbf, 0x40, 0, 0, 0, 0xf4])); // mov edi, 0x40; hlt
  runCode(m, "int 0x40", 32);
  assert.equal(m.cpu.lo[7], 0x40);
  assert.equal(m.cpu.lo[4] >>> 0, 0x90000 - 6);
  assert.equal(m.mem.read16(0x90000 - 4), 0x08);
  assert.equal(m.mem.read16(0x90000 - 6), (LAYOUT.code + 2) & 0xffff);
});
