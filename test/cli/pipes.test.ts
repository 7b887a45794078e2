/**
 * pinvm's standard output as a pipe: a reader that goes away early (`pinvm demo | head -1`)
 * ends pinvm quietly with status 141 (128 + SIGPIPE, what a shell reports for a filter
 * killed by SIGPIPE), never with a stack trace; and nothing written before the exit is lost
 * when the output is larger than a pipe holds (checked with --trace in trace.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { CLI } from "./run-cli.js";

test("a closed stdout pipe ends pinvm with status 141 and no stack trace", async () => {
  const child = spawn(process.execPath, [CLI, "demo"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => (stderr += d));
  // Read the first chunk of output, then close the read end as `head -1` does.
  await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
  child.stdout.destroy();
  const status = await new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  assert.equal(status, 141, stderr);
  assert.doesNotMatch(stderr, /\n\s+at |Error:/, "no stack trace");
});
