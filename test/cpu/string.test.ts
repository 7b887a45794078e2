/**
 * String-instruction tests: MOVS/CMPS/SCAS/LODS/STOS/INS/OUTS at every operand size and
 * address size, DF, REP/REPE/REPNE, restart across the per-execution iteration cap, faults
 * mid-way, and self-modifying code through REP MOVS. Expected values follow from the SDM
 * Vol.2 Operation sections (register updates, CMP flags). Three were also run natively on
 * the host CPU with gcc inline asm in 64-bit user space and agree: the CMPSB/W/D/Q flags
 * (CF|PF|SF = 0x85), the REPE CMPSB stop point (RCX = 4, RSI + 4, ZF = 0, CF = 1) and the
 * overlapping REP MOVSD result (1 2 1 2 3 4 3 4 7 8 7 8 11 12).
 */
import test from "node:test";
import assert from "node:assert/strict";
import {
  createMachine,
  enterLong64,
  enterProtected32,
  enterReal,
  runCode,
  setIntGate,
  LAYOUT,
  type TestMachine,
} from "../helpers/machine.js";

const STATUS = 0x8d5;
const CF = 1;
const PF = 4;
const ZF = 0x40;
const SF = 0x80;
const DATA = 0x200000;

function fillPattern(m: TestMachine, addr: number, len: number, seed = 1): void {
  for (let n = 0; n < len; n++) m.mem.u8[addr + n] = (n * 7 + seed) & 0xff;
}

/** Install a 64-bit interrupt gate for `vector` whose handler is a HLT at `handler`. */
function idt64Hlt(m: TestMachine, vector: number, handler: number): void {
  m.cpu.idtrBase = LAYOUT.idt;
  m.cpu.idtrLimit = 0xfff;
  setIntGate(m, 64, vector, handler);
  m.mem.u8[handler] = 0xf4;
}

test("movs at 8/16/32/64 bits advances RSI/RDI by the element size (64-bit mode)", () => {
  for (const [mn, size] of [
    ["movsb", 1],
    ["movsw", 2],
    ["movsd", 4],
    ["movsq", 8],
  ] as const) {
    const m = createMachine();
    enterLong64(m);
    fillPattern(m, DATA, 16);
    runCode(m, `mov rsi, ${DATA}\nmov rdi, ${DATA + 0x100}\n${mn}`, 64);
    assert.deepEqual(
      [...m.mem.u8.subarray(DATA + 0x100, DATA + 0x110)],
      [...m.mem.u8.subarray(DATA, DATA + size), ...new Array(16 - size).fill(0)],
    );
    assert.equal(m.cpu.reg64(6), DATA + size, mn);
    assert.equal(m.cpu.reg64(7), DATA + 0x100 + size, mn);
  }
});

test("stos and lods at every size; lodsd zero-extends RAX", () => {
  const m = createMachine();
  enterLong64(m);
  runCode(
    m,
    `mov rdi, ${DATA}\nmov rax, 0x1122334455667788\nstosb\nstosw\nstosd\nstosq\n` +
      `mov rsi, ${DATA}\nmov rax, -1\nlodsb\nmov rbx, rax\nlodsw\nmov rcx, rax\nlodsd\nmov rdx, rax\nlodsq`,
    64,
  );
  assert.deepEqual(
    [...m.mem.u8.subarray(DATA, DATA + 15)],
    [0x88, 0x88, 0x77, 0x88, 0x77, 0x66, 0x55, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11],
  );
  assert.equal(m.cpu.reg64(3), -256 + 0x88); // AL replaced, upper RAX kept
  assert.equal(m.cpu.lo[1] >>> 0, 0xffff7788); // AX replaced
  assert.equal(m.cpu.hi[1], -1);
  assert.equal(m.cpu.reg64(2), 0x55667788); // EAX load zero-extends
  assert.equal(m.cpu.lo[0] >>> 0, 0x55667788);
  assert.equal(m.cpu.hi[0] >>> 0, 0x11223344);
  assert.equal(m.cpu.reg64(6), DATA + 15);
  assert.equal(m.cpu.reg64(7), DATA + 15);
});

test("cmps and scas set flags as CMP src1 - src2 at every size", () => {
  const m = createMachine();
  enterLong64(m);
  // [DATA] = 10 20 30 40 ..., [DATA+0x100] = 20 10 ...
  m.mem.u8.set([0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], DATA);
  m.mem.u8.set([0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], DATA + 0x100);
  for (const mn of ["cmpsb", "cmpsw", "cmpsd", "cmpsq"]) {
    runCode(m, `mov rsi, ${DATA}\nmov rdi, ${DATA + 0x100}\n${mn}`, 64);
    // 0x10 - 0x20 = 0xF0...: CF (borrow), SF, AF=0 (no nibble borrow), PF(0xF0: 4 bits → even)
    assert.equal(m.cpu.getEflags() & STATUS, CF | SF | PF, mn);
  }
  for (const [mn, reg] of [
    ["scasb", "al"],
    ["scasw", "ax"],
    ["scasd", "eax"],
    ["scasq", "rax"],
  ]) {
    runCode(m, `mov rdi, ${DATA + 0x100}\nmov rax, 0\nmov ${reg}, 0x20\n${mn}`, 64);
    assert.equal(m.cpu.getEflags() & STATUS, ZF | PF, mn);
    runCode(m, `mov rdi, ${DATA + 0x100}\nmov rax, -1\nmov ${reg}, 0x21\n${mn}`, 64);
    assert.equal(m.cpu.getEflags() & STATUS, 0, mn); // 0x21 - 0x20 = 1
  }
  // 64-bit compare differing only in the high half.
  m.mem.write32(DATA + 4, 1);
  runCode(m, `mov rsi, ${DATA}\nmov rdi, ${DATA + 0x100}\nmov byte ptr [rsi], 0x20\ncmpsq`, 64);
  assert.equal(m.cpu.getEflags() & (ZF | CF), 0);
});

test("rep with count 0 does nothing", () => {
  const m = createMachine();
  enterLong64(m);
  fillPattern(m, DATA, 8);
  runCode(m, `mov rsi, ${DATA}\nmov rdi, ${DATA + 0x100}\nmov rcx, 0\nrep movsb\nrep stosq\nrepe cmpsb`, 64);
  assert.equal(m.cpu.reg64(6), DATA);
  assert.equal(m.cpu.reg64(7), DATA + 0x100);
  assert.equal(m.cpu.reg64(1), 0);
  assert.equal(m.mem.u8[DATA + 0x100], 0);
  // ECX = 0 with a 32-bit address size but a non-zero upper RCX: no iteration, RCX unchanged.
  runCode(m, `mov rcx, 0x500000000\nmov rdi, ${DATA + 0x100}\n.byte 0x67, 0xf3, 0xaa`, 64);
  assert.equal(m.cpu.reg64(1), 0x500000000);
  assert.equal(m.mem.u8[DATA + 0x100], 0);
});

test("repe cmpsb stops at the first difference; repne scasb stops at the match", () => {
  const m = createMachine();
  enterLong64(m);
  m.mem.u8.set([1, 2, 3, 4, 5, 6, 7, 8], DATA);
  m.mem.u8.set([1, 2, 3, 9, 5, 6, 7, 8], DATA + 0x100);
  runCode(m, `mov rsi, ${DATA}\nmov rdi, ${DATA + 0x100}\nmov rcx, 8\nrepe cmpsb`, 64);
  assert.equal(m.cpu.reg64(1), 4);
  assert.equal(m.cpu.reg64(6), DATA + 4);
  assert.equal(m.cpu.reg64(7), DATA + 0x104);
  assert.equal(m.cpu.getEflags() & (ZF | CF), CF); // 4 - 9
  // Equal strings: runs to RCX = 0 with ZF = 1.
  runCode(m, `mov rsi, ${DATA}\nmov rdi, ${DATA}\nmov rcx, 8\nrepe cmpsb`, 64);
  assert.equal(m.cpu.reg64(1), 0);
  assert.equal(m.cpu.getEflags() & ZF, ZF);
  // F2 with CMPS is REPNE: stops at the first equal pair (index 0 here).
  runCode(m, `mov rsi, ${DATA}\nmov rdi, ${DATA + 0x100}\nmov rcx, 8\nrepne cmpsb`, 64);
  assert.equal(m.cpu.reg64(1), 7);
  runCode(m, `mov rdi, ${DATA}\nmov al, 6\nmov rcx, 100\nrepne scasb`, 64);
  assert.equal(m.cpu.reg64(1), 94);
  assert.equal(m.cpu.reg64(7), DATA + 6);
  assert.equal(m.cpu.getEflags() & ZF, ZF);
  // repne scasd with no match runs out the count with ZF = 0.
  runCode(m, `mov rdi, ${DATA}\nmov eax, 0xdeadbeef\nmov rcx, 2\nrepne scasd`, 64);
  assert.equal(m.cpu.reg64(1), 0);
  assert.equal(m.cpu.reg64(7), DATA + 8);
  assert.equal(m.cpu.getEflags() & ZF, 0);
});

test("F2 acts as REP for MOVS, STOS and LODS", () => {
  const m = createMachine();
  enterLong64(m);
  fillPattern(m, DATA, 32);
  runCode(m, `mov rsi, ${DATA}\nmov rdi, ${DATA + 0x100}\nmov rcx, 4\n.byte 0xf2, 0x48, 0xa5`, 64);
  assert.equal(m.cpu.reg64(1), 0);
  assert.deepEqual(
    [...m.mem.u8.subarray(DATA + 0x100, DATA + 0x120)],
    [...m.mem.u8.subarray(DATA, DATA + 32)],
  );
  runCode(
    m,
    `mov rdi, ${DATA + 0x200}\nmov al, 0x5a\nmov rcx, 3\n.byte 0xf2, 0xaa\nmov rsi, ${DATA}\nmov rcx, 3\n.byte 0xf2, 0xac`,
    64,
  );
  assert.deepEqual([...m.mem.u8.subarray(DATA + 0x200, DATA + 0x204)], [0x5a, 0x5a, 0x5a, 0]);
  assert.equal(m.cpu.lo[0] & 0xff, m.mem.u8[DATA + 2]);
});

test("DF=1 runs downwards at every size", () => {
  for (const [mn, size] of [
    ["movsb", 1],
    ["movsw", 2],
    ["movsd", 4],
    ["movsq", 8],
  ] as const) {
    const m = createMachine();
    enterLong64(m);
    fillPattern(m, DATA, 64);
    const last = 64 - size;
    runCode(
      m,
      `std\nmov rsi, ${DATA + last}\nmov rdi, ${DATA + 0x100 + last}\nmov rcx, ${64 / size}\nrep ${mn}\ncld`,
      64,
    );
    assert.deepEqual(
      [...m.mem.u8.subarray(DATA + 0x100, DATA + 0x140)],
      [...m.mem.u8.subarray(DATA, DATA + 64)],
      mn,
    );
    assert.equal(m.cpu.reg64(6), DATA - size, mn);
    assert.equal(m.cpu.reg64(7), DATA + 0x100 - size, mn);
  }
  const m = createMachine();
  enterLong64(m);
  runCode(m, `std\nmov rdi, ${DATA + 0x1006}\nmov ax, 0xabcd\nmov rcx, 5\nrep stosw\ncld`, 64);
  assert.equal(m.cpu.reg64(7), DATA + 0x1006 - 10);
  for (let a = DATA + 0xffe; a <= DATA + 0x1006; a += 2) assert.equal(m.mem.read16(a), 0xabcd);
  assert.equal(m.mem.read16(DATA + 0xffc), 0);
});

test("overlapping forward REP MOVS copies element by element (pattern fill)", () => {
  const m = createMachine();
  enterLong64(m);
  m.mem.u8.set([0xaa, 0xbb, 0xcc], DATA);
  runCode(m, `mov rsi, ${DATA}\nmov rdi, ${DATA + 1}\nmov rcx, 200\nrep movsb`, 64);
  for (let n = 0; n <= 200; n++) assert.equal(m.mem.u8[DATA + n], 0xaa);
  // movsd with a distance of 2 bytes (partial element overlap): each dword is read then written.
  m.mem.u8.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], DATA + 0x400);
  runCode(m, `mov rsi, ${DATA + 0x400}\nmov rdi, ${DATA + 0x402}\nmov rcx, 3\nrep movsd`, 64);
  // 1: [402..405] ← [400..403] = 1 2 3 4; 2: [406..409] ← [404..407] = 3 4 7 8;
  // 3: [40a..40d] ← [408..40b] = 7 8 11 12
  assert.deepEqual(
    [...m.mem.u8.subarray(DATA + 0x400, DATA + 0x40e)],
    [1, 2, 1, 2, 3, 4, 3, 4, 7, 8, 7, 8, 11, 12],
  );
});

test("16-bit address size: SI/DI wrap at 64 KiB and keep the upper halves (real mode)", () => {
  const m = createMachine();
  enterReal(m);
  m.mem.u8[0xffff] = 0x42;
  m.mem.u8[0x0000] = 0x43;
  const r = runCode(
    m,
    "mov esi, 0x0001ffff\nmov edi, 0x0003fffe\nmov ecx, 0x00050002\nrep movsb\n" +
      "mov edi, 0xfffe\nmov ax, 0x7777\nmov cx, 2\nrep stosw",
    16,
    0x7c00,
  );
  assert.equal(r, "halt");
  // Two bytes from DS:FFFF, DS:0000 to ES:FFFE, ES:FFFF.
  assert.equal(m.cpu.lo[6] >>> 0, 0x00010001);
  assert.equal(m.cpu.lo[7] >>> 0, 0x00000002);
  assert.equal(m.cpu.lo[1] >>> 0, 0x00050000);
  assert.equal(m.mem.u8[0x0000], 0x77); // overwritten by the stosw wrap
  assert.equal(m.mem.u8[0x0001], 0x77);
  assert.equal(m.mem.read16(0xfffe), 0x7777);
});

test("16-bit DF=1 wraps below 0", () => {
  const m = createMachine();
  enterReal(m);
  runCode(m, "std\nxor di, di\nmov al, 0x99\nmov cx, 3\nrep stosb\ncld", 16, 0x7c00);
  assert.equal(m.cpu.lo[7] & 0xffff, 0xfffd);
  assert.equal(m.mem.u8[0], 0x99);
  assert.equal(m.mem.u8[0xffff], 0x99);
  assert.equal(m.mem.u8[0xfffe], 0x99);
  assert.equal(m.mem.u8[0xfffd], 0);
});

test("32-bit address size in 64-bit mode uses ESI/EDI/ECX and zero-extends them", () => {
  const m = createMachine();
  enterLong64(m);
  fillPattern(m, DATA, 16);
  runCode(
    m,
    `mov rsi, 0x7700000000 + ${DATA}\nmov rdi, 0x5500000000 + ${DATA + 0x100}\nmov rcx, 0x3300000004\n.byte 0x67, 0xf3, 0xa4`,
    64,
  );
  assert.deepEqual(
    [...m.mem.u8.subarray(DATA + 0x100, DATA + 0x104)],
    [...m.mem.u8.subarray(DATA, DATA + 4)],
  );
  assert.equal(m.cpu.reg64(6), DATA + 4);
  assert.equal(m.cpu.reg64(7), DATA + 0x104);
  assert.equal(m.cpu.reg64(1), 0);
  // ESI wraps at 4 GiB under a 32-bit address size: map 0xFFE00000 (2 MiB) to physical 0.
  m.mem.write32(0x11000 + 3 * 8, 0x13000 | 7);
  m.mem.write32(0x13000 + 511 * 8, 0x87);
  m.cpu.flushTlb(false);
  m.mem.u8[0x1fffff] = 0x5c;
  runCode(m, "mov rsi, 0xffffffff\n.byte 0x67, 0xac", 64);
  assert.equal(m.cpu.lo[0] & 0xff, 0x5c);
  assert.equal(m.cpu.reg64(6), 0);
});

test("32-bit protected mode: 16-bit address size, segment override for the source only", () => {
  const m = createMachine();
  enterProtected32(m);
  fillPattern(m, 0x5000, 8, 3);
  fillPattern(m, 0x6000, 8, 9);
  m.cpu.segBase[4] = 0x1000; // FS base (the test sets the cached base directly)
  m.cpu.segBase[0] = 0x2000; // ES base
  // fs movsd: source FS:ESI = 0x1000+0x5000, destination ES:EDI = 0x2000+0x100
  runCode(m, "mov esi, 0x5000\nmov edi, 0x100\nfs movsd", 32);
  assert.deepEqual([...m.mem.u8.subarray(0x2100, 0x2104)], [...m.mem.u8.subarray(0x6000, 0x6004)]);
  // An ES override (26h) applies to the source; the destination stays ES.
  runCode(m, "mov esi, 0x4000\nmov edi, 0x200\n.byte 0x26, 0xa5", 32);
  assert.deepEqual([...m.mem.u8.subarray(0x2200, 0x2204)], [...m.mem.u8.subarray(0x6000, 0x6004)]);
  // 67h: 16-bit address size in 32-bit code uses SI/DI/CX.
  m.cpu.segBase[0] = 0;
  runCode(
    m,
    "mov esi, 0xabcd5000\nmov edi, 0xabcd7000\nmov ecx, 0xabcd0002\n.byte 0x67, 0xf3, 0x66, 0xa5",
    32,
  );
  assert.equal(m.cpu.lo[6] >>> 0, 0xabcd5004);
  assert.equal(m.cpu.lo[7] >>> 0, 0xabcd7004);
  assert.equal(m.cpu.lo[1] >>> 0, 0xabcd0000);
  assert.equal(m.mem.read32(0x7000), m.mem.read32(0x5000));
});

test("REP MOVS longer than the per-execution cap restarts and completes", () => {
  const m = createMachine();
  enterLong64(m);
  const len = 3 * 65536 + 40; // more than three executions of rep movsq (8192 per execution)
  fillPattern(m, DATA, len);
  const before = m.cpu.icount;
  const r = runCode(m, `mov rsi, ${DATA}\nmov rdi, ${DATA + 0x100000}\nmov rcx, ${len / 8}\nrep movsq`, 64);
  assert.equal(r, "halt");
  assert.ok(m.cpu.icount - before >= 3 + 4 + 1, "rep movsq re-executed");
  assert.equal(m.cpu.reg64(1), 0);
  assert.equal(m.cpu.reg64(6), DATA + len);
  assert.ok(
    Buffer.from(m.mem.u8.subarray(DATA, DATA + len)).equals(
      m.mem.u8.subarray(DATA + 0x100000, DATA + 0x100000 + len),
    ),
  );
  // Stopping after one execution leaves RCX/RSI/RDI describing the 65536 iterations done
  // (REP MOVSB moves at most REP_FAST_BYTES per execution).
  const m2 = createMachine();
  enterLong64(m2);
  runCode(m2, `mov rsi, ${DATA}\nmov rdi, ${DATA + 0x100000}\nmov rcx, 100000\nrep movsb`, 64, undefined, 4);
  assert.equal(m2.cpu.reg64(1), 100000 - 65536);
  assert.equal(m2.cpu.reg64(6), DATA + 65536);
  assert.equal(m2.cpu.reg64(7), DATA + 0x100000 + 65536);
  assert.equal(m2.cpu.rip, 0x100000 + 7 + 7 + 7); // still at rep movsb (three 7-byte movs)
});

test("element-by-element REP (LODS) does at most 256 iterations per execution", () => {
  const m = createMachine();
  enterLong64(m);
  runCode(m, `mov rsi, ${DATA}\nmov rcx, 3000\nrep lodsb`, 64, undefined, 3);
  assert.equal(m.cpu.reg64(1), 3000 - 256);
  assert.equal(m.cpu.reg64(6), DATA + 256);
  assert.equal(m.cpu.rip, 0x100000 + 7 + 7, "still at rep lodsb");
  assert.equal(m.cpu.run(100), "halt");
  assert.equal(m.cpu.reg64(1), 0);
});

test("REP STOS with a 64-bit count above 2^32", () => {
  const m = createMachine();
  enterLong64(m);
  // RCX = 2^32 + 5: run a bounded number of instructions and check the exact count arithmetic.
  runCode(m, `mov rdi, ${DATA}\nmov rcx, 0x100000005\nxor eax, eax\nrep stosb`, 64, undefined, 4);
  assert.equal(m.cpu.reg64(1), 0x100000005 - 65536);
  assert.equal(m.cpu.reg64(7), DATA + 65536);
});

test("REP MOVS onto the code that follows it: the new instructions execute", () => {
  const m = createMachine();
  enterLong64(m);
  // Two passes; each copies a 5-byte "mov eax, imm32" over `target`. The second pass must see
  // its own bytes although the first pass already decoded and cached that block.
  const r = runCode(
    m,
    "xor ebx, ebx\nxor edx, edx\n" +
      "again:\nlea rsi, [rip + variants]\nadd rsi, rbx\nlea rdi, [rip + target]\nmov ecx, 5\nrep movsb\n" +
      "target:\nmov eax, 0x11111111\nadd edx, eax\nadd rbx, 5\ncmp rbx, 10\njb again\njmp done\n" +
      "variants:\nmov eax, 0x100\nmov eax, 0x2000\ndone:",
    64,
  );
  assert.equal(r, "halt");
  assert.equal(m.cpu.lo[2], 0x2100);
  assert.equal(m.cpu.lo[0], 0x2000);
});

test("REP STOSQ over the code that follows it (fill path) is seen", () => {
  const m = createMachine();
  enterLong64(m);
  // First pass executes `target` (inc edx), second pass overwrites it with NOPs.
  const r = runCode(
    m,
    "xor edx, edx\nxor ebx, ebx\nagain:\ntest ebx, ebx\njz skip\nlea rdi, [rip + target]\nmov rax, 0x9090909090909090\nmov ecx, 1\nrep stosq\n" +
      "skip:\njmp target\n.balign 8\ntarget:\ninc edx\ninc edx\ninc edx\ninc edx\ninc ebx\ncmp ebx, 2\njb again",
    64,
  );
  assert.equal(r, "halt");
  // Pass 1: 4 increments; pass 2: 8 bytes (four 2-byte inc edx) replaced by NOPs.
  assert.equal(m.cpu.lo[2], 4);
});

test("a page fault mid-way through REP MOVS leaves registers describing the done iterations", () => {
  for (const mn of ["movsb", "movsd"]) {
    const m = createMachine();
    enterLong64(m);
    // Make the 2 MiB page at 0x400000 not present.
    m.mem.write32(0x10000 + 0x2000 + 2 * 8, 0);
    m.cpu.flushTlb(false);
    idt64Hlt(m, 14, 0x180000);
    fillPattern(m, 0x3ffff0, 16);
    const r = runCode(m, `mov rsi, 0x3ffff0\nmov rdi, ${DATA}\nmov rcx, 32\nrep ${mn}`, 64);
    assert.equal(r, "halt");
    const size = mn === "movsb" ? 1 : 4;
    assert.equal(m.cpu.rip, 0x180001, "in the #PF handler");
    assert.equal(m.cpu.cr2, 0x400000);
    assert.equal(m.cpu.reg64(1), 32 - 16 / size);
    assert.equal(m.cpu.reg64(6), 0x400000);
    assert.equal(m.cpu.reg64(7), DATA + 16);
    assert.deepEqual([...m.mem.u8.subarray(DATA, DATA + 16)], [...m.mem.u8.subarray(0x3ffff0, 0x400000)]);
    // The return address is the REP MOVS itself, so it resumes after the handler fixes the page.
    assert.equal(m.mem.read32(0x90000 - 40), 0x100000 + 7 + 7 + 7);
  }
});

test("a fault in a REPE CMPS (slow path) keeps the iterations done", () => {
  const m = createMachine();
  enterLong64(m);
  m.mem.write32(0x10000 + 0x2000 + 2 * 8, 0);
  m.cpu.flushTlb(false);
  idt64Hlt(m, 14, 0x180000);
  runCode(m, `mov rsi, 0x3ffffe\nmov rdi, ${DATA}\nmov rcx, 10\nrepe cmpsb`, 64);
  assert.equal(m.cpu.cr2, 0x400000);
  assert.equal(m.cpu.reg64(1), 8);
  assert.equal(m.cpu.reg64(6), 0x400000);
});

test("INS and OUTS at each size, with REP, through the port hooks", () => {
  const m = createMachine();
  enterProtected32(m);
  const writes: [number, number, number][] = [];
  let next = 0x10;
  m.hooks.ioRead = (port, size) => {
    assert.equal(port, 0x3f8);
    return size === 1 ? next++ : size === 2 ? 0xa0b0 + next++ : (0xc0d0e0f0 + next++) >>> 0;
  };
  m.hooks.ioWrite = (port, size, v) => writes.push([port, size, v]);
  runCode(m, "mov dx, 0x3f8\nmov edi, 0x3000\nmov ecx, 3\nrep insb\ninsw\ninsd", 32);
  assert.deepEqual([...m.mem.u8.subarray(0x3000, 0x3003)], [0x10, 0x11, 0x12]);
  assert.equal(m.mem.read16(0x3003), 0xa0b0 + 0x13);
  assert.equal(m.mem.read32(0x3005), 0xc0d0e0f0 + 0x14);
  assert.equal(m.cpu.lo[7], 0x3009);
  assert.equal(m.cpu.lo[1], 0);
  runCode(
    m,
    "mov dx, 0x80\nmov esi, 0x3000\nmov ecx, 2\nrep outsb\nouts dx, word ptr [esi]\nouts dx, dword ptr [esi]",
    32,
  );
  assert.deepEqual(writes, [
    [0x80, 1, 0x10],
    [0x80, 1, 0x11],
    [0x80, 2, 0xc312],
    [0x80, 4, 0xd0e104a0],
  ]);
  assert.equal(m.cpu.lo[6], 0x3008);
});

test("OUTS in 64-bit mode with REX.W stays 32-bit", () => {
  const m = createMachine();
  enterLong64(m);
  const writes: number[] = [];
  m.hooks.ioWrite = (_p, size, v) => writes.push(size, v);
  m.mem.write32(DATA, 0x12345678);
  m.mem.write32(DATA + 4, 0x9abcdef0);
  runCode(m, `mov dx, 0x80\nmov rsi, ${DATA}\n.byte 0x48, 0x6f`, 64);
  assert.deepEqual(writes, [4, 0x12345678]);
  assert.equal(m.cpu.reg64(6), DATA + 4);
});
