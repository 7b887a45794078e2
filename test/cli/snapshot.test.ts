/**
 * --snapshot-save / --snapshot-load through the command: a guest saved mid-run and loaded in
 * a second pinvm continues where it stopped and prints what an uninterrupted run prints.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guest, lines, missing, pinvm } from "./run-cli.js";

for (const [name, at] of [
  ["tests/reset_init.elf", 300_000],
  ["tests/cr_pinning.elf", 150_000],
] as const) {
  test(
    `snapshot round trip mid-run: ${name} saved after ${at} instructions, loaded, same output`,
    { skip: missing(name) },
    () => {
      const dir = mkdtempSync(join(tmpdir(), "pinvm-snap-"));
      try {
        const flags = ["-device", "isa-debug-exit", "-smp", "2", "--cr-pin", "jun2020"];
        const whole = pinvm(["-kernel", guest(name), ...flags]);
        assert.equal(whole.status, 1, whole.stderr);
        const file = join(dir, "mid.snap");
        const first = pinvm([
          "-kernel",
          guest(name),
          ...flags,
          "--snapshot-save",
          file,
          "--snapshot-at",
          String(at),
          "--max-instructions",
          String(at),
        ]);
        assert.equal(first.status, 124, first.stderr);
        assert.ok(!first.stdout.includes("done\n"), "the snapshot is taken before the guest ends");
        // The snapshot holds the machine's shape: no -smp or --cr-pin needed to load it.
        const second = pinvm(["--snapshot-load", file]);
        assert.equal(second.status, whole.status, second.stderr);
        assert.equal(first.stdout + second.stdout, whole.stdout);
        // Violation reports: those before the snapshot come from the first run, the rest from the second.
        const reports = (s: string) => lines(s).filter((l) => l.includes("CR pinning violation"));
        assert.deepEqual([...reports(first.stderr), ...reports(second.stderr)], reports(whole.stderr));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}

test(
  "--snapshot-save without --snapshot-at writes the machine when the guest stops; it loads and stops again",
  { skip: missing("hello.elf") },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "pinvm-snap-"));
    try {
      const file = join(dir, "end.snap");
      const r = pinvm(["-kernel", guest("hello.elf"), "-device", "isa-debug-exit", "--snapshot-save", file]);
      assert.equal(r.status, 1);
      const again = pinvm(["--snapshot-load", file]);
      // The guest had written its exit value; after the load it sits in `cli; hlt`.
      assert.equal(again.status, 0, again.stderr);
      assert.equal(again.stdout, "");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
