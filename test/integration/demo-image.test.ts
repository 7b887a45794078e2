/**
 * The demo guest embedded in src/vmm/demo-image.ts (what `pinvm demo` boots without gcc) must be
 * reproduced byte for byte from source: guests/demo.c and guests/lib are built from scratch in
 * a temporary directory (`make -C guests BUILD=<tmp>`, so a stale guests/build cannot hide a
 * change) and `guests/embed-demo.mjs --check` compares the text it would generate with the
 * committed file. Skips, with the reason, where gcc/make are missing.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../oracle/qemu.js";

const ROOT = repoRoot();

function toolMissing(): string | undefined {
  for (const [tool, flag] of [
    ["make", "--version"],
    ["gcc", "--version"],
    ["objcopy", "--version"],
  ]) {
    if (spawnSync(tool, [flag], { stdio: "ignore" }).status !== 0) return `${tool} not available`;
  }
  return undefined;
}

test(
  "demo-image.ts is reproduced byte for byte from guests/demo.c and guests/lib (clean build)",
  { skip: toolMissing() },
  () => {
    const build = mkdtempSync(join(tmpdir(), "pinvm-demo-build-"));
    try {
      const make = spawnSync("make", ["-C", join(ROOT, "guests"), `BUILD=${build}`, `${build}/demo.elf`], {
        encoding: "utf8",
        timeout: 120_000,
      });
      assert.equal(make.status, 0, `make failed:\n${make.stdout}\n${make.stderr}`);
      const embed = spawnSync(
        process.execPath,
        [join(ROOT, "guests", "embed-demo.mjs"), "--check", "--elf", join(build, "demo.elf")],
        { encoding: "utf8", timeout: 60_000 },
      );
      console.log(embed.stdout.trim() || embed.stderr.trim());
      assert.equal(
        embed.status,
        0,
        `${embed.stderr}\nregenerate it: make -C guests && node guests/embed-demo.mjs, and commit src/vmm/demo-image.ts`,
      );
    } finally {
      rmSync(build, { recursive: true, force: true });
    }
  },
);
