/**
 * I/O permission checks (SDM Vol.1 19.5.1-19.5.2): at CPL > IOPL every port accessed must
 * have a clear bit in the TSS I/O permission bitmap, else #GP(0); a multi-byte access checks
 * every port it touches; ports beyond the TSS limit count as denied; CPL <= IOPL skips the map.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, enterProtected32, type TestMachine } from "../helpers/machine.js";
import { installFaultHandlers, runForFault, enterUser } from "../helpers/faults.js";
import { SEG } from "../../src/x86/segment.js";

/** Give the TSS an I/O bitmap at offset 0x68 covering ports 0-0x3FF; `denied` ports get a 1 bit. */
function setupBitmap(m: TestMachine, denied: number[]): void {
  const base = m.cpu.segBase[SEG.TR];
  m.mem.write32(base + 0x64, 0x68 << 16); // I/O map base address (high word)
  for (let n = 0; n < 0x80; n++) m.mem.write8(base + 0x68 + n, 0);
  for (const p of denied)
    m.mem.write8(base + 0x68 + (p >> 3), m.mem.read8(base + 0x68 + (p >> 3)) | (1 << (p & 7)));
  m.cpu.segLimit[SEG.TR] = 0x68 + 0x80; // one byte past the map for 0x3F8-0x3FF, then the limit
}

function userMachine(iopl: number): TestMachine {
  const m = createMachine();
  enterProtected32(m);
  installFaultHandlers(m, 32);
  m.cpu.eflags = (m.cpu.eflags & ~0x3000) | (iopl << 12);
  return m;
}

/** Run `source` at CPL 3 (a previous fault left the CPU in its CPL-0 handler; IOPL is kept). */
function runUser(m: TestMachine, source: string): ReturnType<typeof runForFault> {
  enterUser(m, 32);
  return runForFault(m, source, 32);
}

test("CPL 3 with IOPL 0: allowed ports pass, denied ports raise #GP(0)", () => {
  const m = userMachine(0);
  setupBitmap(m, [0x80]);
  assert.equal(runUser(m, "mov al, 0x41\nout 0xe9, al\njmp ."), null);
  assert.deepEqual(m.out, [0x41]);
  const f = runUser(m, "out 0x80, al\njmp .");
  assert.equal(f?.vector, 13);
  assert.equal(f?.error, 0);
});

test("a 16-bit access checks both ports; a port past the TSS limit is denied", () => {
  const m = userMachine(0);
  setupBitmap(m, [0x71]);
  assert.equal(runUser(m, "mov dx, 0x70\nin ax, dx\njmp .")?.vector, 13);
  assert.equal(runUser(m, "mov dx, 0x6e\nin ax, dx\njmp ."), null);
  // Port 0x400 lies beyond the bitmap bytes inside the limit.
  assert.equal(runUser(m, "mov dx, 0x400\nin al, dx\njmp .")?.vector, 13);
});

test("CPL <= IOPL does not consult the bitmap", () => {
  const m = userMachine(3);
  setupBitmap(m, [0xe9]);
  assert.equal(runUser(m, "mov al, 0x42\nout 0xe9, al\njmp ."), null);
  assert.deepEqual(m.out, [0x42]);
});
