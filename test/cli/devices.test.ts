/**
 * QEMU's test devices through the command, driven by a -bios image that checks each register
 * as QEMU's hw/misc/pc-testdev.c defines it and writes a bit mask of the failed checks to
 * isa-debug-exit (status 1 = all passed): the 32-bit data register at E0H read back at 8,
 * 16 and 32 bits, its byte window at E8H-EBH, and the ISA IRQ lines at 2000H+n (seen in the
 * 8259's IRR). Port E9H belongs to the isa-debugcon when -debugcon is given (reads E9H,
 * writes go to its output) and is pc-testdev's byte 1 otherwise, as QEMU has no debugcon
 * without -debugcon; with neither device it is open bus (FFH).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assemble } from "../helpers/asm.js";
import { missing, pinvm, realModeBios } from "./run-cli.js";

/** The checks; `e9` is what a read of port E9H must return. */
function testdevBios(e9: number): Uint8Array {
  const check = (bit: number, code: string, expect: string) =>
    `${code}\ncmp ${expect}\nje 9f\nor bp, ${1 << bit}\n9:`;
  return assemble(
    `
start:
  xor bp, bp
  mov eax, 0x12345678
  out 0xe0, eax
  ${check(0, "in eax, 0xe0", "eax, 0x12345678")}
  ${check(1, "in ax, 0xe2", "ax, 0x1234")}
  ${check(2, "in al, 0xe8", "al, 0x78")}
  ${check(3, "in al, 0xeb", "al, 0x12")}
  mov al, 0xab
  out 0xe1, al
  ${check(4, "in eax, 0xe0", "eax, 0x1234ab78")}
  ${check(5, "in al, 0xe9", `al, ${e9}`)}
  mov al, 0x4b
  out 0xe9, al
  mov dx, 0x2003
  mov al, 1
  out dx, al
  mov al, 0x0a
  out 0x20, al
  in al, 0x20
  and al, 8
  ${check(6, "", "al, 8")}
  mov ax, bp
  out 0xf4, al
1:
  hlt
  jmp 1b
.org 0xff0
  jmp start
.org 0x1000
`,
    16,
    0xf000,
  );
}

test("-device pc-testdev through the command, with and without -debugcon", { skip: missing() }, () => {
  const dir = mkdtempSync(join(tmpdir(), "pinvm-testdev-"));
  try {
    const bios = join(dir, "t.rom");
    const flags = ["-bios", bios, "-device", "isa-debug-exit", "-nodefaults"];
    // pc-testdev alone: E9H is its byte 1, which the OUT to E1H set to ABH (and the OUT to E9H to 4BH).
    writeFileSync(bios, testdevBios(0xab));
    const alone = pinvm([...flags, "-device", "pc-testdev"]);
    assert.equal(
      alone.status,
      (0 << 1) | 1,
      `failed checks: ${((alone.status ?? 0) >> 1).toString(2)}\n${alone.stderr}`,
    );
    // With -debugcon: the console has E9H (reads back E9H), its output is the byte written.
    writeFileSync(bios, testdevBios(0xe9));
    const log = join(dir, "debugcon.txt");
    const both = pinvm([...flags, "-device", "pc-testdev", "-debugcon", `file:${log}`]);
    assert.equal(
      both.status,
      (0 << 1) | 1,
      `failed checks: ${((both.status ?? 0) >> 1).toString(2)}\n${both.stderr}`,
    );
    assert.equal(readFileSync(log, "latin1"), "K");
    // Neither: E9H is open bus, and so are E0H-EBH (check 5 expects FFH; the others fail).
    writeFileSync(bios, testdevBios(0xff));
    const neither = pinvm(flags);
    assert.equal(((neither.status ?? 0) >> 1) & (1 << 5), 0, "E9H reads FFH without -debugcon");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  "ACPI power-off (PM1a_CNT at 604H: SLP_TYP 0 as the DSDT's \\_S5, SLP_EN) ends pinvm with status 0",
  { skip: missing() },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "pinvm-testdev-"));
    try {
      const bios = join(dir, "off.rom");
      // SLP_EN is PM1_CNT bit 13 (ACPI 6.5 4.8.3.2.1); SLP_TYP (bits 12:10) = 0.
      writeFileSync(bios, realModeBios("mov dx, 0x604\nmov ax, 0x2000\nout dx, ax"));
      const r = pinvm(["-bios", bios, "-device", "isa-debug-exit", "-nodefaults", "--trace"]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /run ended: poweroff/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
