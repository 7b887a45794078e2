/**
 * The CR0/CR4 write-exit masks (VMX's guest/host masks, SDM Vol.3 24.6.6): with the default
 * -1 every MOV CR0/CR4 is offered to hooks.controlWrite, even one that changes nothing; with
 * a mask, only writes that change a bit in the mask are, so a hypervisor that watches a few
 * pinned bits pays nothing for other CR writes; a veto still raises #GP(0).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createMachine, enterProtected32, runCode } from "../helpers/machine.js";

test("cr4WriteExitMask: -1 offers every write; a mask offers only writes changing its bits", () => {
  const m = createMachine();
  enterProtected32(m);
  const seen: string[] = [];
  m.cpu.hooks.controlWrite = (reg, oldLo, _oh, newLo) => {
    seen.push(`${reg} ${(oldLo >>> 0).toString(16)}->${(newLo >>> 0).toString(16)}`);
    return !(reg === "cr4" && (oldLo & 0x100000) !== 0 && (newLo & 0x100000) === 0);
  };
  // Same value, then PGE toggled, then SMEP set, then SMEP cleared (vetoed -> #GP).
  const code =
    "mov eax, cr4\nmov cr4, eax\nor eax, 0x80\nmov cr4, eax\nor eax, 0x100000\nmov cr4, eax\nand eax, 0xffefffff\nmov cr4, eax\nhlt";
  runCode(m, code, 32);
  assert.deepEqual(seen, ["cr4 0->0", "cr4 0->80", "cr4 80->100080", "cr4 100080->80"]);
  seen.length = 0;
  const m2 = createMachine();
  enterProtected32(m2);
  m2.cpu.hooks.controlWrite = m.cpu.hooks.controlWrite;
  m2.cpu.cr4WriteExitMask = 0x100000; // watch SMEP only
  runCode(m2, code, 32);
  assert.deepEqual(seen, ["cr4 80->100080", "cr4 100080->80"]);
  assert.equal(m2.cpu.cr4 & 0x100000, 0x100000, "the vetoed write left SMEP set");
});

test("cr0WriteExitMask applies to MOV CR0, LMSW and CLTS alike", () => {
  const m = createMachine();
  enterProtected32(m);
  const seen: string[] = [];
  m.cpu.hooks.controlWrite = (reg, _ol, _oh, _nl, _nh, source) => {
    seen.push(`${reg} ${source}`);
    return true;
  };
  m.cpu.cr0WriteExitMask = 0x10000; // WP
  runCode(
    m,
    "mov eax, cr0\nor eax, 8\nmov cr0, eax\nclts\nmov ax, 1\nlmsw ax\nmov eax, cr0\nor eax, 0x10000\nmov cr0, eax\nhlt",
    32,
  );
  assert.deepEqual(seen, ["cr0 mov"]);
});
