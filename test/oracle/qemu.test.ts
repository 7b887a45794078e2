/**
 * Tests of the QEMU oracle runner and of the guest runtime as QEMU runs it. Builds nothing:
 * the guest tests run when `make -C guests` has produced guests/build/*.elf and
 * qemu-system-x86_64 is installed, and are skipped with the reason otherwise.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import {
  decodeDebugExit,
  guestImagePath,
  kvmAvailable,
  qemuAvailable,
  qemuCommandLine,
  runUnderQemu,
} from "./qemu.js";
import { parseReport } from "./report.js";

const haveQemu = qemuAvailable();

/** The reason a guest test cannot run, or undefined when it can. */
function skipReason(guest: string): string | undefined {
  if (!haveQemu) return "qemu-system-x86_64 is not installed";
  if (!existsSync(guestImagePath(guest))) return `guests/build/${guest}.elf not built (run make -C guests)`;
  return undefined;
}

test("decodeDebugExit undoes QEMU's (code << 1) | 1", () => {
  assert.equal(decodeDebugExit(1), 0);
  assert.equal(decodeDebugExit(3), 1);
  assert.equal(decodeDebugExit(5), 2);
  assert.equal(decodeDebugExit(0), null);
  assert.equal(decodeDebugExit(null), null);
});

test("qemuCommandLine has the oracle's fixed devices", () => {
  const line = qemuCommandLine("/x/hello.elf", { accel: "kvm", memMiB: 64 });
  assert.deepEqual(line.slice(line.indexOf("-kernel"), line.indexOf("-kernel") + 2), [
    "-kernel",
    "/x/hello.elf",
  ]);
  assert.ok(line.includes("isa-debug-exit,iobase=0xf4,iosize=0x04"));
  assert.deepEqual(line.slice(line.indexOf("-accel"), line.indexOf("-accel") + 2), ["-accel", "kvm"]);
  assert.deepEqual(line.slice(line.indexOf("-cpu"), line.indexOf("-cpu") + 2), ["-cpu", "host"]);
  assert.ok(line.includes("64"));
});

test("parseReport separates checks, failures, value lines and done", () => {
  const report = parseReport(
    "hello there\nok a\nFAIL b got=1 want=2\nadd.0 0 1 0 1 0\ndiv.6 5 0 0 0 fault 0\ndone\n",
  );
  assert.deepEqual(report.passed, ["a"]);
  assert.deepEqual(report.failed, [{ name: "b", detail: "got=1 want=2" }]);
  assert.deepEqual(report.values.get("add.0"), ["0", "1", "0", "1", "0"]);
  assert.deepEqual(report.values.get("div.6"), ["5", "0", "0", "0", "fault", "0"]);
  assert.deepEqual(report.other, ["hello there"]);
  assert.equal(report.done, true);
});

test("hello.elf under QEMU TCG prints its report and exits 0", async (t) => {
  const reason = skipReason("hello");
  if (reason) return t.skip(reason);
  const result = await runUnderQemu(guestImagePath("hello"), { accel: "tcg", timeoutMs: 20_000 });
  assert.equal(result.timedOut, false, result.stderr);
  assert.equal(
    result.serial,
    "hello from pinvm guest\nok multiboot-magic\nok long-mode-active\ndone\n",
    result.command.join(" "),
  );
  assert.equal(result.exitCode, 1);
  assert.equal(result.guestExitCode, 0);
});

test("runtime_selftest.elf under QEMU TCG passes every check", async (t) => {
  const reason = skipReason("runtime_selftest");
  if (reason) return t.skip(reason);
  const result = await runUnderQemu(guestImagePath("runtime_selftest"), { timeoutMs: 20_000 });
  const report = parseReport(result.serial);
  assert.deepEqual(report.failed, [], result.serial);
  assert.ok(report.passed.length >= 30, `only ${report.passed.length} checks passed`);
  assert.equal(report.done, true);
  assert.equal(result.guestExitCode, 0);
  // Known TCG deviation (QEMU 7.2): IDT error code is vector*16+2 in long mode; SDM says *8.
  assert.ok(["40a", "812"].includes(report.values.get("ring3-int81-gp-error")?.[0] ?? ""));
});

test("ring3_alu.elf runs to done under TCG, and matches KVM where /dev/kvm opens", async (t) => {
  const reason = skipReason("ring3_alu");
  if (reason) return t.skip(reason);
  const tcg = await runUnderQemu(guestImagePath("ring3_alu"), { accel: "tcg", timeoutMs: 30_000 });
  const report = parseReport(tcg.serial);
  assert.equal(report.done, true, tcg.stderr);
  assert.equal(tcg.guestExitCode, 0);
  assert.deepEqual(report.failed, []);
  assert.ok(report.values.size > 1000, `only ${report.values.size} value lines`);
  assert.deepEqual(report.values.get("adc.11"), ["0", "7fffffffffffffff", "1", "8000000000000000", "894"]);
  if (!kvmAvailable()) {
    t.diagnostic("KVM comparison skipped: /dev/kvm does not open");
    return;
  }
  const kvm = await runUnderQemu(guestImagePath("ring3_alu"), { accel: "kvm", timeoutMs: 30_000 });
  assert.equal(kvm.serial, tcg.serial);
});

test("runUnderQemu kills QEMU at the timeout", async (t) => {
  const reason = skipReason("hello");
  if (reason) return t.skip(reason);
  const result = await runUnderQemu(guestImagePath("hello"), { timeoutMs: 1 });
  assert.equal(result.timedOut, true);
  assert.equal(result.exitCode, null);
  assert.equal(result.guestExitCode, null);
});
