/**
 * `pinvm run` end to end: the built command on the guests of guests/build, checked by exit
 * status and output. Exit statuses follow QEMU where QEMU has them: isa-debug-exit makes the
 * status (V << 1) | 1 for a value V written to the port.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guest, lines, missing, pinvm } from "./run-cli.js";

/** CR4.SMEP, bit 20 (SDM Vol.3 2.5, Figure 2-7). */
const CR4_SMEP = 1 << 20;

function summary(stdout: string): { pass: number; fail: number; skip: number } {
  const m = /SUMMARY pass=(\d+) fail=(\d+) skip=(\d+)/.exec(stdout);
  assert.ok(m, `no SUMMARY line in:\n${stdout}`);
  return { pass: Number(m[1]), fail: Number(m[2]), skip: Number(m[3]) };
}

function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "pinvm-cli-"));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test(
  "a passing guest (debug-exit value 0) ends pinvm with status (0 << 1) | 1",
  { skip: missing("hello.elf") },
  () => {
    const r = pinvm(["-kernel", guest("hello.elf"), "-device", "isa-debug-exit"]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^hello from pinvm guest\n/);
    assert.match(r.stdout, /\nok multiboot-magic\n/);
    assert.equal(r.stderr, "");
  },
);

test(
  "-bios: a flat image run from the reset vector writes 5 to isa-debug-exit: status 11",
  { skip: missing() },
  () => {
    withTempDir((dir) => {
      // Real mode at F000:FFF0 (SDM Vol.3 9.1.4): mov al, 5; out 0xf4, al; hlt.
      const code = [0xb0, 0x05, 0xe6, 0xf4, 0xf4];
      const image = new Uint8Array(16).fill(0xf4);
      image.set(code);
      const path = join(dir, "bios.bin");
      writeFileSync(path, image);
      const r = pinvm(["-bios", path, "-device", "isa-debug-exit,iobase=0xf4,iosize=4"]);
      assert.equal(r.status, (5 << 1) | 1, r.stderr);
    });
  },
);

test(
  "-device isa-debug-exit,iobase=...: another port; a guest writing 0xF4 then just halts",
  { skip: missing("hello.elf") },
  () => {
    const r = pinvm(["-kernel", guest("hello.elf"), "-device", "isa-debug-exit,iobase=0x501,iosize=2"]);
    assert.equal(r.status, 0, "the guest's write to 0xF4 reaches no device; it halts with IF=0");
    assert.match(r.stdout, /\ndone\n$/);
  },
);

test(
  "-smp 2: reset_init's AP checks run (INIT-SIPI-SIPI answered) and pass, across its 0xCF9 reset",
  { skip: missing("tests/reset_init.elf") },
  () => {
    const r = pinvm(["-kernel", guest("tests/reset_init.elf"), "-device", "isa-debug-exit", "-smp", "2"]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const s = summary(r.stdout);
    assert.equal(s.fail, 0, r.stdout);
    assert.ok(s.pass > 0);
    assert.doesNotMatch(r.stdout, /no AP answered/);
    assert.match(r.stdout, /resetting through port 0xcf9/);
  },
);

test(
  "-no-reboot: the guest's 0xCF9 reset ends pinvm with status 0 (as QEMU) and a message naming the reset",
  { skip: missing("tests/reset_init.elf") },
  () => {
    const r = pinvm(["-kernel", guest("tests/reset_init.elf"), "-device", "isa-debug-exit", "-no-reboot"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /resetting through port 0xcf9\n$/, "nothing after the reset request");
    assert.deepEqual(lines(r.stderr), ["pinvm: guest reset (cf9-hard); -no-reboot given, exiting"]);
  },
);

for (const profile of ["rfc2019", "jun2020", "heki2024"]) {
  test(
    `--cr-pin ${profile}: conformance suite 2 (cr_pinning.elf, -smp 2) has no failure`,
    { skip: missing("tests/cr_pinning.elf") },
    () => {
      const r = pinvm([
        "-kernel",
        guest("tests/cr_pinning.elf"),
        "-device",
        "isa-debug-exit",
        "-smp",
        "2",
        "--cr-pin",
        profile,
      ]);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      const s = summary(r.stdout);
      assert.equal(s.fail, 0, r.stdout);
      assert.ok(s.pass > 0);
      assert.match(
        r.stdout,
        /\ncr_pinning: boot 2\n[^]*\nok reset-smep-clearable\n/,
        "the second boot after 0xCF9 found the pins cleared",
      );
      // Each refused write is one report line on stderr: vcpu, RIP, CR, old, attempted, pins.
      const reports = lines(r.stderr).filter((l) => l.startsWith("pinvm: CR pinning violation"));
      assert.ok(reports.length > 0, r.stderr);
      const first =
        /^pinvm: CR pinning violation #1: vcpu (\d+) rip=0x[0-9a-f]+ CR4 \(mov\) old=0x([0-9a-f]+) attempted=0x([0-9a-f]+) pinned-high=0x([0-9a-f]+) pinned-low=0x([0-9a-f]+) profile=(\w+): refused with #GP\(0\)$/.exec(
          reports[0],
        );
      assert.ok(first, reports[0]);
      const [old, attempted, high] = [first[2], first[3], first[4]].map((h) => parseInt(h, 16));
      assert.equal(first[6], profile);
      assert.ok(high & CR4_SMEP, "SMEP was pinned");
      assert.ok(old & CR4_SMEP && !(attempted & CR4_SMEP), "the write tried to clear pinned SMEP");
    },
  );
}

test(
  "--cr-pin off: cr_pinning.elf finds no pinning ABI and skips, and nothing is reported",
  { skip: missing("tests/cr_pinning.elf") },
  () => {
    const r = pinvm(["-kernel", guest("tests/cr_pinning.elf"), "-device", "isa-debug-exit"]);
    assert.equal(r.status, 1);
    const s = summary(r.stdout);
    assert.equal(s.pass, 0);
    assert.equal(s.fail, 0);
    assert.ok(s.skip > 0);
    assert.equal(r.stderr, "");
  },
);

test(
  "--violations exit: pinvm stops at the first refused write with status 4",
  { skip: missing("tests/cr_pinning.elf") },
  () => {
    const r = pinvm([
      "-kernel",
      guest("tests/cr_pinning.elf"),
      "-device",
      "isa-debug-exit",
      "--cr-pin",
      "jun2020",
      "--violations",
      "exit",
    ]);
    assert.equal(r.status, 4, r.stderr);
    assert.doesNotMatch(r.stdout, /SUMMARY/);
    const err = lines(r.stderr);
    assert.equal(err.length, 2, r.stderr);
    assert.match(err[0], /^pinvm: CR pinning violation #1: vcpu 0 /);
    assert.match(err[1], /--violations exit/);
  },
);

test("--max-instructions: status 124 with a message", { skip: missing("hello.elf") }, () => {
  const r = pinvm(["-kernel", guest("hello.elf"), "-device", "isa-debug-exit", "--max-instructions", "1000"]);
  assert.equal(r.status, 124);
  const m = /^pinvm: --max-instructions reached after (\d+) instructions \(rip=0x[0-9a-f]+\)$/.exec(
    lines(r.stderr)[0],
  );
  assert.ok(m, r.stderr);
  // The machine stops at the first block boundary at or after the limit.
  assert.ok(Number(m[1]) >= 1000 && Number(m[1]) < 1100, m[1]);
  assert.doesNotMatch(r.stdout, /done/);
});

test(
  "-serial file: and -debugcon: guest output goes where the flags say",
  { skip: missing("hello.elf") },
  () => {
    withTempDir((dir) => {
      const out = join(dir, "com1.txt");
      const r = pinvm(["-kernel", guest("hello.elf"), "-device", "isa-debug-exit", "-serial", `file:${out}`]);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(readFileSync(out, "utf8"), /^hello from pinvm guest\n[^]*\ndone\n$/);
      const none = pinvm(["-kernel", guest("hello.elf"), "-device", "isa-debug-exit", "-serial", "none"]);
      assert.equal(none.stdout, "");
      assert.equal(none.status, 1, "the guest still runs to its exit without a UART");
    });
  },
);

test(
  "--trace prints the run's end and the reset on stderr",
  { skip: missing("tests/reset_init.elf") },
  () => {
    const r = pinvm(["-kernel", guest("tests/reset_init.elf"), "-device", "isa-debug-exit", "--trace"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /pinvm: trace: reset \(cf9-hard\): system reset/);
    assert.match(r.stderr, /pinvm: trace: run ended: debug-exit after \d+ instructions\n$/);
  },
);

test(
  "jun2020 refusing an RSM that breaks the pins stops the vCPU: status 3 and a message",
  { skip: missing("tests/cr_pinning.elf") },
  () => {
    const r = pinvm([
      "-kernel",
      guest("tests/cr_pinning.elf"),
      "-device",
      "isa-debug-exit",
      "--cr-pin",
      "jun2020",
      "-append",
      "smm-violate",
    ]);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stdout, /smm-violate: SMI [^\n]*\n$/, "the guest prints nothing after the SMI");
    const err = lines(r.stderr);
    assert.match(
      err[0],
      /^pinvm: CR pinning violation #1: vcpu 0 rip=0x[0-9a-f]+ CR4 \(rsm\) .*refused on RSM, vCPU stopped$/,
    );
    assert.match(err[1], /^pinvm: vcpu 0 stopped by the hypervisor: /);
  },
);
