/**
 * Far transfers and descriptor queries: far JMP/CALL/RET in real mode, protected mode (direct,
 * conforming, 16/32-bit call gates with parameter copying and stack switch, return to an outer
 * level) and IA-32e mode (m16:64, compatibility mode, 64-bit call gates), with the #GP/#NP
 * error codes of SDM Vol.2 CALL/JMP/RET; LAR, LSL, VERR, VERW (SDM Vol.2).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, enterReal, runCode, type TestMachine } from "../helpers/machine.js";
import { assemble } from "../helpers/asm.js";
import {
  protected32World,
  long64World,
  gate,
  gate64,
  data32,
  peek32,
  peek64,
  WORLD,
} from "../helpers/descriptors.js";
import { SEG } from "../../src/x86/segment.js";

/** 32-bit: IRET from ring 0 to `user` at ring 3. */
const TO_RING3 = "push 0x23\npush 0x60000\npush 0x202\npush 0x1b\npush offset user\niretd\nuser:\n";
/** 64-bit: IRETQ from ring 0 to `user` at ring 3 (CS 0x2b, SS 0x23, RSP 0x60000). */
const TO_RING3_64 =
  "push 0x23\npush 0x60000\npush 0x202\npush 0x2b\nlea rax, [rip+user]\npush rax\niretq\nuser:\n";

const KERNEL = 0x300000;

function vecAndErr(m: TestMachine): [number, number] {
  return [m.cpu.lo[7], m.cpu.lo[6]];
}

function loadKernel(m: TestMachine, src: string, bits: 32 | 64 = 32): void {
  m.mem.load(KERNEL, assemble(src, bits, KERNEL));
}

test("real mode: far CALL pushes CS:IP, RETF returns, far JMP reloads CS", () => {
  const m = createMachine();
  enterReal(m);
  const src =
    "mov sp, 0x7000\ncall 0x0000:tgt\nmov bx, sp\njmp 0x07c0:(far2 - 0x7c00)\ntgt:\nmov ax, sp\nretf\nfar2:\nmov cx, cs";
  const r = runCode(m, src, 16, 0x7c00);
  assert.equal(r, "halt");
  assert.equal(m.cpu.lo[0] & 0xffff, 0x7000 - 4);
  assert.equal(m.cpu.lo[3] & 0xffff, 0x7000);
  assert.equal(m.cpu.lo[1] & 0xffff, 0x07c0);
  assert.equal(m.cpu.segBase[SEG.CS], 0x7c00);
});

test("protected mode: far JMP to a data segment → #GP(sel); to a not-present code segment → #NP(sel)", () => {
  const m = createMachine();
  protected32World(m);
  runCode(m, "jmp 0x10:0", 32);
  assert.deepEqual(vecAndErr(m), [13, 0x10]);
  const m2 = createMachine();
  protected32World(m2);
  runCode(m2, "jmp 0x40:0", 32);
  assert.deepEqual(vecAndErr(m2), [11, 0x40]);
  const m3 = createMachine();
  protected32World(m3);
  runCode(m3, "jmp 0x0:0", 32);
  assert.deepEqual(vecAndErr(m3), [13, 0]);
});

test("ring 3: far CALL to non-conforming ring 0 → #GP(sel); to conforming keeps CPL 3", () => {
  const m = createMachine();
  protected32World(m);
  runCode(m, TO_RING3 + "call 0x08:0", 32);
  assert.deepEqual(vecAndErr(m), [13, 0x08]);
  const m2 = createMachine();
  protected32World(m2);
  runCode(m2, TO_RING3 + "call 0x30:conf\nconf:\nmov ebx, cs\nint 0x80", 32);
  assert.equal(m2.cpu.lo[3], 0x33);
  const sp = m2.cpu.lo[4] >>> 0;
  assert.equal(peek32(m2, sp + 4), 0x33, "INT frame: CS with RPL 3");
});

test("32-bit call gate from ring 3: stack switch from the TSS with 2 parameters copied", () => {
  const m = createMachine();
  protected32World(m, [gate(0x08, KERNEL, 12, 3, 2)]); // 0x48
  loadKernel(m, "mov edi, 0xca11\nhlt");
  runCode(m, TO_RING3 + "push 0x1111\npush 0x2222\ncall 0x4b:0", 32);
  const { cpu } = m;
  assert.equal(cpu.lo[7], 0xca11);
  assert.equal(cpu.cpl, 0);
  assert.equal(cpu.segSel[SEG.CS], 0x08);
  assert.equal(cpu.segSel[SEG.SS], 0x10);
  const sp = cpu.lo[4] >>> 0;
  assert.equal(sp, WORLD.stack0 - 24);
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((n) => peek32(m, sp + n * 4)),
    [0x100000 + 20 + 10 + 7, 0x1b, 0x2222, 0x1111, 0x60000 - 8, 0x23],
  );
});

test("call gate round trip: RETF 8 to ring 3 pops SS:ESP, releases parameters, nulls ring-0 ES", () => {
  const m = createMachine();
  protected32World(m, [gate(0x08, KERNEL, 12, 3, 2)]);
  loadKernel(m, "mov ax, 0x10\nmov es, ax\nretf 8");
  runCode(m, TO_RING3 + "push 0x1111\npush 0x2222\ncall 0x4b:0\nmov ebx, esp\nint 0x80", 32);
  const { cpu } = m;
  assert.equal(cpu.lo[7], 0x80);
  assert.equal(cpu.lo[3] >>> 0, 0x60000, "ESP = old ESP + 8 released bytes");
  assert.equal(cpu.segSel[SEG.ES], 0, "ES (DPL 0) nulled on return to ring 3");
});

test("call gate checks: gate DPL < CPL → #GP(gate); RET to ring 3 with a ring-0 SS → #GP(SS)", () => {
  const m = createMachine();
  protected32World(m, [gate(0x08, KERNEL, 12, 0)]);
  runCode(m, TO_RING3 + "call 0x4b:0", 32);
  assert.deepEqual(vecAndErr(m), [13, 0x48]);
  const m2 = createMachine();
  protected32World(m2);
  runCode(m2, "push 0x10\npush 0x60000\npush 0x1b\npush 0x1234\nretf", 32);
  assert.deepEqual(vecAndErr(m2), [13, 0x10]);
  assert.equal(m2.cpu.lo[4] >>> 0, 0x90000 - 16 - 12, "ESP unchanged by the faulting RETF (then #GP frame)");
});

test("16-bit call gate at the same privilege pushes a 16-bit CS:IP; JMP through a gate pushes nothing", () => {
  const m = createMachine();
  protected32World(m, [gate(0x08, 0x3000, 4, 0)]);
  m.mem.load(0x3000, new Uint8Array([0xf4])); // hlt
  runCode(m, "call 0x48:0", 32);
  assert.equal(m.cpu.rip, 0x3001);
  assert.equal(m.cpu.lo[4] >>> 0, 0x90000 - 4);
  assert.equal(m.mem.read16(0x90000 - 2), 0x08);
  assert.equal(m.mem.read16(0x90000 - 4), 7);
  const m2 = createMachine();
  protected32World(m2, [gate(0x08, 0x3000, 12, 0)]);
  m2.mem.load(0x3000, new Uint8Array([0xf4]));
  runCode(m2, "jmp 0x48:0", 32);
  assert.equal(m2.cpu.rip, 0x3001);
  assert.equal(m2.cpu.lo[4] >>> 0, 0x90000);
});

test("64-bit mode: JMP m16:64 to compatibility mode and JMP m16:32 back; EA is #UD", () => {
  const m = createMachine();
  long64World(m);
  const src = [
    "lea rax, [rip+p1]",
    "rex.w jmp fword ptr [rax]",
    ".code32",
    "compat:",
    "mov ecx, 0x32",
    "jmp fword ptr [p2]",
    ".code64",
    "back64:",
    "mov edx, 0x64",
    "hlt",
    "p1: .quad compat",
    ".word 0x40",
    "p2: .long back64",
    ".word 0x08",
  ].join("\n");
  runCode(m, src, 64);
  assert.equal(m.cpu.lo[1], 0x32);
  assert.equal(m.cpu.lo[2], 0x64);
  assert.equal(m.cpu.long64, true);
  const m2 = createMachine();
  long64World(m2);
  runCode(m2, ".byte 0xea, 0, 0, 0, 0, 0x08, 0", 64);
  assert.deepEqual(vecAndErr(m2), [6, -1]);
});

test("64-bit call gate from ring 3: RSP0 from the TSS, null SS, 8-byte frame; RETFQ back", () => {
  const m = createMachine();
  long64World(m, [...gate64(0x08, KERNEL, 12, 3)]); // 0x48
  loadKernel(m, "mov edi, 0x64\nhlt", 64);
  const user = "lea rax, [rip+ptr]\nrex.w call fword ptr [rax]\nptr: .quad 0\n.word 0x4b";
  runCode(m, TO_RING3_64 + user, 64);
  const { cpu } = m;
  assert.equal(cpu.lo[7], 0x64);
  assert.equal(cpu.cpl, 0);
  assert.equal(cpu.segSel[SEG.SS], 0);
  const rsp = cpu.reg64(4);
  assert.equal(rsp, WORLD.stack0 - 32);
  assert.equal(peek64(m, rsp + 8), 0x2b);
  assert.equal(peek64(m, rsp + 16), 0x60000);
  assert.equal(peek64(m, rsp + 24), 0x23);
  const m2 = createMachine();
  long64World(m2, [...gate64(0x08, KERNEL, 12, 3)]);
  loadKernel(m2, "rex.w retf", 64);
  runCode(
    m2,
    TO_RING3_64 +
      "lea rax, [rip+ptr]\nrex.w call fword ptr [rax]\nmov rbx, rsp\nint 0x80\nptr: .quad 0\n.word 0x4b",
    64,
  );
  assert.equal(m2.cpu.lo[7], 0x80);
  assert.equal(m2.cpu.reg64(3), 0x60000);
});

test("LAR / LSL / VERR / VERW results and ZF", () => {
  const m = createMachine();
  protected32World(m, [gate(0x08, 0x3000, 12, 3), data32(3, false)]); // 0x48 call gate, 0x50 not-present data
  const src = [
    "mov bx, 0x1b\nlar eax, bx\nsetz cl\nmov [0x4000], eax", // ring-3 code
    "mov bx, 0x28\nlsl eax, bx\nsetz ch\nmov [0x4004], eax", // TSS limit
    "mov bx, 0x4b\nlar eax, bx\nsetz dl\nmov [0x4008], eax", // call gate
    "mov eax, 0x5555\nmov bx, 0x48\nlsl eax, bx\nsetz dh\nmov [0x400c], eax", // LSL rejects gates
    "xor edi, edi",
    "mov bx, 0x08\nverr bx\nsetz al\nshl edi, 1\nor edi, eax",
    "mov bx, 0x08\nverw bx\nsetz al\nshl edi, 1\nor edi, eax",
    "mov bx, 0x10\nverw bx\nsetz al\nshl edi, 1\nor edi, eax",
    "mov bx, 0x50\nverw bx\nsetz al\nshl edi, 1\nor edi, eax",
    "mov bx, 0\nverr bx\nsetz al\nshl edi, 1\nor edi, eax",
    "and edi, 0x1f",
  ].join("\n");
  runCode(m, src, 32);
  const { cpu } = m;
  assert.equal(cpu.lo[1] & 0xffff, 0x0101, "LAR code ZF=1, LSL TSS ZF=1");
  assert.equal(cpu.lo[2] & 0xffff, 0x0001, "LAR gate ZF=1, LSL gate ZF=0");
  assert.equal(peek32(m, 0x4000), 0x00c0fa00);
  assert.equal(peek32(m, 0x4004), 0x67);
  assert.equal(peek32(m, 0x4008), 0x0000ec00, "call gate access rights");
  assert.equal(peek32(m, 0x400c), 0x5555, "destination unchanged when ZF=0");
  // verr code: 1, verw code: 0, verw data: 1, verw not-present data (still verified): 1, verr null: 0
  assert.equal(cpu.lo[7] & 0x1f, 0b10110);
});

test("LAR/VERR at ring 3 respect DPL; conforming code is readable from any level", () => {
  const m = createMachine();
  protected32World(m);
  const src = [
    TO_RING3,
    "mov bx, 0x10\nlar eax, bx\nsetz cl",
    "mov bx, 0x30\nverr bx\nsetz ch",
    "mov bx, 0x23\nlar eax, bx\nsetz dl",
    "int 0x80",
  ].join("\n");
  runCode(m, src, 32);
  assert.equal(m.cpu.lo[1] & 0xffff, 0x0100);
  assert.equal(m.cpu.lo[2] & 0xff, 1);
  assert.equal(m.cpu.lo[0] >>> 0, 0x00c0f200 | 0x100, "data DPL3 rights (accessed)");
});
