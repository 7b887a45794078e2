/**
 * RAM above 4 GiB (the high block of PhysicalMemory, src/cpu/memory.ts): every access kind
 * reaches it — physical reads and writes of each size, page- and chunk-crossing accesses,
 * host loads and copies, paging structures located above 4 GiB (SDM Vol.3 4.5: 4-level
 * paging entries hold physical addresses up to MAXPHYADDR) with their accessed and dirty
 * bits (4.8), instruction fetch from there, self-modifying code there (SDM Vol.3 11.6), and
 * JIT-compiled code whose data lives there. Addresses in the hole between the end of low RAM
 * and 4 GiB, and above the high block, read as all-ones and drop writes (open bus).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { HIGH_RAM_BASE, HIGH_RAM_CHUNK_BYTES, PhysicalMemory } from "../../src/cpu/memory.js";
import { createMachine, enterLong64, runCode, LAYOUT, type TestMachine } from "../helpers/machine.js";
import { assemble } from "../helpers/asm.js";

const G4 = HIGH_RAM_BASE;
const MiB = 1 << 20;

test("high block: reads and writes of 1, 2 and 4 bytes land at 4 GiB and nowhere else", () => {
  const mem = new PhysicalMemory(MiB, 2 * MiB);
  assert.equal(mem.size, MiB);
  assert.equal(mem.highSize, 2 * MiB);
  assert.equal(mem.ramEnd, G4 + 2 * MiB);
  mem.write32(G4 + 0x100, 0xdeadbeef);
  mem.write16(G4 + 0x104, 0x1234);
  mem.write8(G4 + 0x106, 0x56);
  assert.equal(mem.read32(G4 + 0x100), 0xdeadbeef);
  assert.equal(mem.read16(G4 + 0x102), 0xdead);
  assert.equal(mem.read8(G4 + 0x101), 0xbe);
  assert.equal(mem.read32(G4 + 0x104), 0x00561234);
  // Not aliased into low RAM (4 GiB mod 2^32 = 0).
  assert.equal(mem.read32(0x100), 0);
  assert.deepEqual([...mem.readBytes(G4 + 0x100, 7)], [0xef, 0xbe, 0xad, 0xde, 0x34, 0x12, 0x56]);
  // The last bytes of the block.
  mem.write32(G4 + 2 * MiB - 4, 0xcafef00d);
  assert.equal(mem.read32(G4 + 2 * MiB - 4), 0xcafef00d);
});

test("high block: accesses that cross a page boundary are split byte by byte", () => {
  const mem = new PhysicalMemory(MiB, MiB);
  mem.write32(G4 + 0xffe, 0x44332211);
  assert.deepEqual([...mem.readBytes(G4 + 0xffe, 4)], [0x11, 0x22, 0x33, 0x44]);
  assert.equal(mem.read32(G4 + 0xffe), 0x44332211);
  mem.write16(G4 + 0x1fff, 0xbbaa);
  assert.equal(mem.read16(G4 + 0x1fff), 0xbbaa);
  assert.equal(mem.read8(G4 + 0x2000), 0xbb);
});

test("the hole between low RAM and 4 GiB, and the space above high RAM, are open bus", () => {
  const mem = new PhysicalMemory(MiB, MiB);
  for (const addr of [MiB, 0x8000_0000, 0xffff_f000, G4 + MiB, G4 + 2 * MiB, 2 * G4]) {
    mem.write32(addr, 0x12345678);
    mem.write8(addr, 0x12);
    assert.equal(mem.read8(addr), 0xff, addr.toString(16));
    assert.equal(mem.read16(addr), 0xffff, addr.toString(16));
    assert.equal(mem.read32(addr), 0xffff_ffff, addr.toString(16));
  }
  // Straddling the end of each block: the RAM bytes are RAM, the rest reads FFh.
  mem.write32(MiB - 2, 0x44332211);
  assert.equal(mem.read32(MiB - 2), 0xffff2211);
  mem.write32(G4 + MiB - 1, 0x44332211);
  assert.equal(mem.read32(G4 + MiB - 1), 0xffffff11);
  assert.equal(mem.read8(G4 + MiB - 1), 0x11);
  assert.equal(mem.read32(MiB - 4), 0x22110000);
  // Writes to the hole left low RAM's first page alone (4 GiB mod 2^32 is 0).
  assert.equal(mem.read32(0), 0);
});

test("high block: chunks are 1 GiB; accesses and copies cross from one chunk into the next", () => {
  const mem = new PhysicalMemory(MiB, HIGH_RAM_CHUNK_BYTES + 2 * 4096);
  assert.equal(mem.highChunks.length, 2);
  assert.equal(mem.highChunks[1].length, 2 * 4096);
  const edge = G4 + HIGH_RAM_CHUNK_BYTES;
  mem.write32(edge - 2, 0xa1b2c3d4);
  assert.equal(mem.read32(edge - 2), 0xa1b2c3d4);
  assert.equal(mem.highChunks[0][HIGH_RAM_CHUNK_BYTES - 1], 0xc3);
  assert.equal(mem.highChunks[1][0], 0xb2);
  const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
  mem.load(edge - 100, data);
  assert.deepEqual(mem.readBytes(edge - 100, 300), data);
  assert.equal(mem.read8(edge + 199), data[299]);
  mem.write32(edge + 4096, 0x01020304);
  assert.equal(mem.read32(edge + 4096), 0x01020304);
});

test("host copies must lie inside one RAM block", () => {
  const mem = new PhysicalMemory(MiB, MiB);
  assert.equal(mem.isRamRange(0, MiB), true);
  assert.equal(mem.isRamRange(G4, MiB), true);
  assert.equal(mem.isRamRange(MiB - 1, 2), false);
  assert.equal(mem.isRamRange(G4 - 1, 2), false);
  assert.equal(mem.isRamRange(G4 + MiB - 1, 2), false);
  assert.throws(() => mem.load(G4 + MiB - 1, new Uint8Array(2)), RangeError);
  assert.throws(() => mem.readBytes(MiB - 1, 2), RangeError);
  assert.throws(() => new PhysicalMemory(MiB, -4096), RangeError);
  assert.throws(() => new PhysicalMemory(MiB, 2 ** 40), RangeError);
});

test("writes to a high page holding decoded code are reported to the code-write listeners", () => {
  const mem = new PhysicalMemory(MiB, MiB);
  const seen: string[] = [];
  mem.addCodeWriteListener((page, offset, length) => seen.push(`${page.toString(16)}:${offset}:${length}`));
  const page = (G4 + 0x3000) / 4096;
  mem.write32(G4 + 0x3010, 1); // no code there yet
  mem.retainCodePage(page);
  assert.equal(mem.highCodePage[3], 1);
  mem.write8(G4 + 0x3010, 1);
  mem.write16(G4 + 0x3020, 1);
  mem.write32(G4 + 0x3030, 1);
  mem.load(G4 + 0x3ff0, new Uint8Array(0x20)); // covers pages 3 and 4
  mem.write32(G4 + 0x4000, 1); // page 4 holds no code
  assert.deepEqual(seen, ["100003:16:1", "100003:32:2", "100003:48:4", "100003:undefined:undefined"]);
  mem.releaseCodePage(page);
  assert.equal(mem.highCodePage[3], 0);
});

/** Writes a 64-bit paging entry (low and high dwords) at physical `addr`. */
function entry(m: TestMachine, addr: number, phys: number, flags: number): void {
  m.mem.write32(addr, ((phys % G4) | flags) >>> 0);
  m.mem.write32(addr + 4, Math.floor(phys / G4));
}

/**
 * Long mode with the helper's identity map of the first GiB, plus:
 * - linear 40000000H: a 1-GByte page at physical 1_0000_0000H (PDPT entry 1);
 * - linear 80000000H: a PD and a PT located above 4 GiB (1_0010_0000H, 1_0010_1000H)
 *   mapping 4-KByte pages at 1_0020_0000H + n * 4 KiB (PDPT entry 2).
 */
function highMachine(): TestMachine {
  const m = createMachine(16, 4 * MiB);
  enterLong64(m);
  const pdpt = LAYOUT.pml4 + 0x1000;
  entry(m, pdpt + 8, G4, 0x83); // P RW PS
  const pd = G4 + 0x10_0000;
  const pt = G4 + 0x10_1000;
  entry(m, pdpt + 16, pd, 0x03);
  entry(m, pd, pt, 0x03);
  for (let n = 0; n < 16; n++) entry(m, pt + n * 8, G4 + 0x20_0000 + n * 4096, 0x03);
  m.cpu.flushTlb(false);
  return m;
}

test("4-level paging: data through a 1-GByte page at 4 GiB and through tables above 4 GiB", () => {
  const m = highMachine();
  runCode(
    m,
    `mov rax, 0x1122334455667788
     mov [0x40000ff8], rax
     mov rbx, [0x40000ff8]
     mov edi, 0x80000000
     mov dword ptr [rdi + 0x1ffe], 0xa5a55a5a
     mov ecx, [rdi + 0x1ffe]
     mov word ptr [rdi + 0x10], 0x4321
     movzx edx, word ptr [rdi + 0x10]`,
    64,
  );
  assert.equal(m.cpu.lo[3] >>> 0, 0x55667788);
  assert.equal(m.cpu.hi[3] >>> 0, 0x11223344);
  assert.equal(m.cpu.lo[1] >>> 0, 0xa5a55a5a);
  assert.equal(m.cpu.lo[2], 0x4321);
  assert.equal(m.mem.read32(G4 + 0xff8), 0x55667788);
  assert.equal(m.mem.read32(G4 + 0xffc), 0x11223344);
  // The page-crossing dword: two bytes at the end of page 1, two at the start of page 2.
  assert.equal(m.mem.read16(G4 + 0x20_1ffe), 0x5a5a);
  assert.equal(m.mem.read16(G4 + 0x20_2000), 0xa5a5);
  assert.equal(m.mem.read16(G4 + 0x20_0010), 0x4321);
  // Accessed on the PD entry and the PTEs used, dirty on the PTEs written (SDM 4.8), all
  // in tables above 4 GiB.
  const pd = G4 + 0x10_0000;
  const pt = G4 + 0x10_1000;
  assert.equal(m.mem.read32(pd) & 0x20, 0x20);
  assert.equal(m.mem.read32(pt) & 0x60, 0x60);
  assert.equal(m.mem.read32(pt + 8) & 0x60, 0x60);
  assert.equal(m.mem.read32(pt + 16) & 0x60, 0x60);
  assert.equal(m.mem.read32(pt + 24) & 0x60, 0, "PTE 3 unused");
  assert.equal(m.mem.read32(pd + 4), 1, "the PD entry keeps its high address bits");
});

test("code in RAM above 4 GiB runs, and a store into it is seen by the next pass", () => {
  const m = highMachine();
  m.cpu.jitThreshold = 2;
  // At linear 40003000H (physical 1_0000_3000H): a loop that patches its own immediate.
  const code = assemble(
    `xor ecx, ecx
     xor ebx, ebx
     again:
     p: mov eax, 0
     add ebx, eax
     inc ecx
     mov dword ptr [p + 1], ecx
     cmp ecx, 10
     jne again
     hlt`,
    64,
    0x40003000,
  );
  m.mem.load(G4 + 0x3000, code);
  m.cpu.rip = 0x40003000;
  assert.equal(m.cpu.run(100_000), "halt");
  // Pass k adds the immediate the previous pass stored, k: 0 + 1 + ... + 9. A stale decoded
  // block would keep adding the first value it decoded.
  assert.equal(m.cpu.lo[3], 45);
  assert.equal(m.mem.read32(G4 + 0x3000 + 5), 10);
});

test("JIT-compiled loops read and write RAM above 4 GiB correctly", () => {
  const m = highMachine();
  m.cpu.jitThreshold = 1;
  runCode(
    m,
    `mov rsi, 0x40000000
     xor ecx, ecx
     fill:
     mov [rsi + rcx * 4], ecx
     inc ecx
     cmp ecx, 2000
     jne fill
     xor eax, eax
     xor ecx, ecx
     sum:
     add eax, [rsi + rcx * 4]
     inc ecx
     cmp ecx, 2000
     jne sum`,
    64,
  );
  assert.equal(m.cpu.lo[0], (1999 * 2000) / 2);
  assert.equal(m.mem.read32(G4 + 1999 * 4), 1999);
  assert.equal(m.mem.read32(G4 + 4096), 1024);
});
