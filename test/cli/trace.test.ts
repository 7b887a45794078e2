/**
 * `--trace` through the command: port I/O that no device claims is traced as an exit (the
 * guest reads open bus, all ones, as on an ISA bus with nothing driving it), accesses that a
 * device handles are not, and a guest that keeps polling an absent port cannot flood stderr
 * (at most TRACED_EXITS_MAX lines, then one line saying so).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { lines, missing, pinvm, realModeBios, withTempDir } from "./run-cli.js";
import { TRACED_EXITS_MAX } from "../../src/vmm/machine.js";

/** Runs `body` as firmware with --trace; returns the run. */
function traced(body: string): ReturnType<typeof pinvm> {
  return withTempDir("pinvm-trace-", (dir) => {
    const rom = join(dir, "trace.rom");
    writeFileSync(rom, realModeBios(body));
    return pinvm(["-bios", rom, "-device", "isa-debug-exit", "-nodefaults", "--trace"]);
  });
}

test(
  "--trace: unclaimed ports are traced as exits and read all ones; device ports are not traced",
  { skip: missing() },
  () => {
    const r = traced(`
  mov al, 0x12
  out 0x99, al
  mov al, 0x10
  out 0x70, al
  in al, 0x71
  in al, 0x9a
  and al, 0x0f
  out 0xf4, al`);
    // Open bus: IN AL from 9AH gives FFH, so the guest writes 0FH: status (0FH << 1) | 1.
    assert.equal(r.status, (0x0f << 1) | 1, r.stderr);
    const exits = lines(r.stderr).filter((l) => l.includes(": exit "));
    assert.deepEqual(exits, [
      "pinvm: trace: exit io-out port 0x99 size 1 value 0x12 (unclaimed)",
      "pinvm: trace: exit io-in port 0x9a size 1 (unclaimed: open bus)",
    ]);
  },
);

test(
  "--trace: a guest polling an absent port gets at most TRACED_EXITS_MAX exit lines",
  { skip: missing() },
  () => {
    const r = traced(`
  mov cx, ${TRACED_EXITS_MAX + 500}
2:
  in al, 0x9a
  loop 2b
  mov al, 0
  out 0xf4, al`);
    assert.equal(r.status, 1, r.stderr);
    const all = lines(r.stderr);
    assert.equal(all.filter((l) => l.includes(": exit io-in port 0x9a")).length, TRACED_EXITS_MAX);
    assert.equal(all.filter((l) => l.includes("further exits not traced")).length, 1);
  },
);
