/**
 * The conformance suites (guests/tests/*.c, built into guests/build/tests/<name>.elf) under
 * QEMU TCG and under pinvm. Each suite prints one line per check (`ok`, `FAIL`, `skip`), value
 * lines, and `SUMMARY pass=N fail=M skip=K`; this file prints both runs' counts (so the CI log
 * shows them), requires the QEMU run to pass, and compares pinvm with QEMU line for line for
 * the suites in COMPARED: the only lines allowed to differ are QEMU's `skip <name>
 * deviation=<id>` lines, where TCG deviates from the SDM (docs/tcg-deviations.md) and pinvm must
 * print `ok <name>`.
 *
 * QEMU runs as the suites need it: `-accel tcg -cpu max,vendor=GenuineIntel -smp 2 -m 128`,
 * isa-debug-exit at 0xf4, and without `-no-reboot` (reset_init resets the machine through
 * 0xCF9 and checks the second boot), always under a timeout. pinvm runs as the `pinvm` command
 * (dist/src/cli/main.js) with the same flags; the CR-pinning suite once per pinning profile
 * (and with pinning off, where it must match QEMU), plus its SMM/RSM violation run.
 *
 * The list of suites comes from the guests/tests directory, so a new suite (cr_pinning.c) is
 * picked up without editing this file; guests/tests32 (32-bit protected mode, build/tests32)
 * likewise, each compared with QEMU line for line. Skips, with the reason, what cannot run (no QEMU, suites
 * not built, CLI not built).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DEBUG_EXIT_PORT, decodeDebugExit, qemuAvailable, repoRoot } from "../oracle/qemu.js";

const ROOT = repoRoot();
const SOURCES = join(ROOT, "guests", "tests");
const BUILD = join(ROOT, "guests", "build", "tests");
/** The 32-bit protected-mode suites (guests/tests32, lib32): all compared with QEMU line for line. */
const SOURCES32 = join(ROOT, "guests", "tests32");
const BUILD32 = join(ROOT, "guests", "build", "tests32");
const CLI = join(ROOT, "dist", "src", "cli", "main.js");
/** Per-run limit; the suites take a few seconds (reset_init boots twice, with firmware under QEMU). */
const TIMEOUT_MS = 60_000;
/** pinvm's instruction budget per suite run. */
const PINVM_MAX_INSTRUCTIONS = 500_000_000;

/** The machine every suite runs on (but -smp), as flags both QEMU and the pinvm command accept. */
const MACHINE_ARGS = [
  "-m",
  "128",
  "-display",
  "none",
  "-serial",
  "stdio",
  "-device",
  `isa-debug-exit,iobase=0x${DEBUG_EXIT_PORT.toString(16)},iosize=0x4`,
];

/** Suites whose pinvm output must equal QEMU's line for line (except documented deviations). */
const COMPARED = new Set(["paging_protections", "reset_init"]);

/**
 * The CR-pinning suite runs under pinvm once per profile (and once with pinning off, where it
 * must skip exactly as under QEMU, which offers no pinning).
 */
const PIN_PROFILES = ["off", "rfc2019", "jun2020", "heki2024"] as const;

/**
 * The TCG deviations a suite may report as `skip <name> deviation=<id>` (guests/lib
 * check_sdm), with the SDM's requirement; pinvm must print `ok <name>` for them.
 */
const DEVIATIONS: Record<string, string> = {
  "tcg-init-cr0":
    "SDM Vol.3 state table (INIT column, note 2): INIT keeps CR0.CD and CR0.NW; QEMU 7.2 TCG loads 60000010H",
  "tcg-reset-fcw":
    "SDM Vol.3 state table: x87 FCW 0040H after power-up/RESET; QEMU 7.2 loads the FINIT value 037FH",
  "tcg-reset-ftw":
    "SDM Vol.3 state table: x87 FTW 5555H (all zero) after power-up/RESET; QEMU 7.2 marks all empty (FFFFH)",
  "tcg-init-mtrr": "SDM Vol.3 state table: INIT leaves the MTRRs unchanged; QEMU 7.2 TCG's INIT zeroes them",
  "tcg-reset-tsc": "SDM Vol.3 state table: RESET loads TSC = 0; QEMU 7.2 TCG's TSC keeps counting",
  "tcg-smap-implicit":
    "SDM Vol.3 4.6.1: with CR4.SMAP=1, 'if EFLAGS.AC = 0 or the access is implicit, data may not be read from any user-mode address' (an LDT descriptor read at CPL 0 with AC=1 is #PF); QEMU 7.2 TCG lets AC=1 at CPL < 3 cover implicit accesses",
  "tcg-segment-limit":
    "SDM Vol.2 MOV (Real-Address Mode Exceptions), Vol.3 state table (segment limit FFFFH after INIT): a read at offset 10000H is #GP(0), #SS(0) for SS; QEMU 7.2 TCG checks no segment limits",
  "tcg-cr-checks":
    "SDM Vol.2 MOV (control registers): #GP(0) for CR0.NW=1 with CD=0, PG=1 with PE=0, reserved CR4 bits; QEMU 7.2 TCG accepts them (docs/tcg-deviations.md #7, #8)",
};

/**
 * Lines each run must print as `ok <name>`: at least one check per requirement of issue 6 (so a
 * requirement cannot silently turn into a skip, e.g. an AP that did not start or a reset that
 * did not happen). Keys: the suite name, or `cr_pinning/<profile>` for the pinning runs.
 */
const REQUIRED_OK: Record<string, string[]> = {
  paging_protections: [
    // SMEP: supervisor fetch from a user page: #PF, error P|I/D (SDM Vol.3 4.6.1, 4.7), CR2, RIP.
    "smep.off.cpl0-fetch-user.no-fault",
    "smep.on.cpl0-fetch-user.error",
    "smep.on.cpl0-fetch-user.cr2",
    "smep.on.cpl0-fetch-user.rip",
    // SMAP: explicit accesses with AC=0 fault, STAC (AC=1) allows them, implicit ones fault anyway.
    "smap.on.ac0.cpl0-read-user.error",
    "smap.on.ac0.cpl0-write-user.error",
    "smap.on.ac1.cpl0-read-user.no-fault",
    "smap.on.ac1.cpl0-write-user.no-fault",
    "smap.off.implicit-ldt-read.no-fault",
    "smap.on.ac1.implicit-ldt-read.error",
    "smap.on.ac1.implicit-ldt-read.cr2",
    "smap.on.ac0.implicit-ldt-read.error",
    "smap.off.cpl0-implicit-ldt-read.no-fault",
    "smap.on.ac0.cpl0-implicit-ldt-read.error",
    "smap.on.ac1.cpl0-implicit-ldt-read",
    // CR0.WP: a supervisor write to a read-only page faults only with WP=1.
    "wp.off.cpl0-write-kernel-ro.no-fault",
    "wp.on.cpl0-write-kernel-ro.error",
    "wp.on.cpl3-write-user-ro.error",
    // NX.
    "nx.cpl0-fetch-xd.error",
    "nx.cpl3-fetch-xd.error",
    "nx.cpl0-read-xd.no-fault",
    // UMIP: the five instructions at CPL 3 -> #GP(0).
    ...["sgdt", "sidt", "sldt", "smsw", "str"].flatMap((i) => [
      `umip.on.cpl3.${i}.vector`,
      `umip.on.cpl3.${i}.error`,
      `umip.off.cpl3.${i}.no-fault`,
      `umip.on.cpl0.${i}.no-fault`,
    ]),
  ],
  reset_init: [
    "ap.sipi1.cs",
    "ap.sipi1.ip",
    "ap.sipi1.edx-signature",
    "ap.sipi1.dr6",
    "ap.sipi1.dr7",
    "ap.sipi1.efer",
    "ap.init.ds",
    "ap.init.ss",
    "ap.init.star-kept",
    "ap.init.lstar-kept",
    "ap.init.pat-kept",
    "ap.init.fcw-kept",
    "ap.init.st0-significand-kept",
    "ap.init.xmm0-lo-kept",
    "ap.init.mxcsr-kept",
    "ap.init.tsc-not-reset",
    "ap.init.apic-id",
    "ap.init.dr6",
    "ap.init.dr7",
    "ap.init.cr2",
    "ap.init.ds-base",
    "ap.init.gs-base",
    "ap.init.es-limit-ffff",
    "ap.init.ds-limit-10000",
    "ap.init.ss-limit-10000",
    "ap.init2.cs",
    "ap.init2.cr0-cd-kept",
    "bsp.reset.pat",
    "bsp.reset.efer",
    "bsp.reset.dr7",
    "ap.reset.cs",
    "ap.reset.pat",
  ],
  "cr_pinning/rfc2019": [
    "rfc2019-cr4-allowed",
    "rfc2019-pin-cr4-pge-gp",
    "rfc2019-pin-cr4-smep",
    "rfc2019-clear-smep-gp",
    "rfc2019-clear-smep-cr4-unchanged",
    "rfc2019-sticky-clear-smep-gp",
    "rfc2019-clear-wp-gp",
    "rfc2019-clear-wp-cr0-unchanged",
    "cr0-clts-wp-pinned",
    "cr0-lmsw-keeps-wp",
    "unrelated-cr4-set-osxmmexcpt",
    "ap-clear-smep-pinned-on-bsp-only",
    "ap-clear-smep-pinned-gp",
    "bsp-cr4-unchanged-by-ap",
    "smm-rsm-cr4",
    "smm-mov-cr4-allowed-in-smm",
    "init-pins-kept",
    "reset-wp-clearable",
    "reset-smep-clearable",
  ],
  "cr_pinning/jun2020": [
    "jun2020-cr4-allowed",
    "jun2020-pin-cr4-high-pge-gp",
    "jun2020-pin-cr4-high-smep",
    "jun2020-clear-smep-gp",
    "jun2020-clear-smep-cr4-unchanged",
    "jun2020-cr4-high-zero-gp",
    "jun2020-set-umip-gp",
    "jun2020-clear-wp-gp",
    "cr0-clts-wp-pinned",
    "cr0-lmsw-keeps-wp",
    "unrelated-cr4-set-osxmmexcpt",
    "ap-clear-smep-pinned-on-bsp-only",
    "ap-set-umip-pinned-low-gp",
    "bsp-cr4-low-unchanged-by-ap",
    "smm-rsm-cr4",
    "smm-mov-cr4-allowed-in-smm",
    "init-pins-cleared",
    "reset-cr4-high-cleared",
    "reset-cr0-high-cleared",
    "reset-smep-clearable",
  ],
  "cr_pinning/heki2024": [
    "heki-version",
    "heki-bad-cr4-mask-pge",
    "heki-lock-cr4-smep",
    "heki-clear-smep-gp",
    "heki-clear-smep-cr4-unchanged",
    "heki-lock-cr0-wp",
    "heki-clear-wp-gp",
    "cr0-lmsw-keeps-wp",
    "unrelated-cr4-set-osxmmexcpt",
    "ap-heki-clear-smep-gp",
    "ap-heki-clear-wp-gp",
    "smm-rsm-cr4",
    "smm-mov-cr4-allowed-in-smm",
    "reset-wp-clearable",
    "reset-smep-clearable",
  ],
};

/** The names of REQUIRED_OK[key] that the run did not print as `ok <name>`. */
function missingOk(serial: string, key: string): string[] {
  const lines = new Set(serial.split("\n"));
  return (REQUIRED_OK[key] ?? []).filter((name) => !lines.has(`ok ${name}`));
}

/**
 * The lines of a cr_pinning run without the two that name the hypervisor: QEMU's TCG signature
 * and #UD on VMCALL against pinvm's KVM signature and -KVM_ENOSYS with pinning off.
 */
function withoutHypervisorLines(serial: string): string {
  return serial
    .split("\n")
    .filter((l) => !l.startsWith("cpuid hypervisor=") && !l.startsWith("heki-probe "))
    .join("\n");
}

/** What one run printed and how it ended. */
interface SuiteRun {
  serial: string;
  /** Process status; null when killed (timeout) or by a signal. */
  status: number | null;
  timedOut: boolean;
  stderr: string;
  command: string[];
}

/** Counts from the `SUMMARY` line, or null without one. */
interface Summary {
  pass: number;
  fail: number;
  skip: number;
}

function suiteNames(sources = SOURCES): string[] {
  if (!existsSync(sources)) return [];
  return readdirSync(sources)
    .filter((f) => f.endsWith(".c"))
    .map((f) => f.slice(0, -2))
    .sort();
}

/** Runs a command, collecting stdout/stderr, killing it after TIMEOUT_MS. */
function runCommand(command: string[]): Promise<SuiteRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, TIMEOUT_MS);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({
        serial: Buffer.concat(out).toString("latin1"),
        status: timedOut ? null : code,
        timedOut,
        stderr: Buffer.concat(err).toString("utf8"),
        command,
      });
    });
  });
}

function runQemu(elf: string): Promise<SuiteRun> {
  return runCommand([
    "qemu-system-x86_64",
    "-nodefaults",
    "-accel",
    "tcg",
    "-cpu",
    "max,vendor=GenuineIntel",
    "-smp",
    "2",
    ...MACHINE_ARGS,
    "-kernel",
    elf,
  ]);
}

function runPinvm(elf: string, extra: string[] = []): Promise<SuiteRun> {
  return runCommand([
    process.execPath,
    CLI,
    "-smp",
    "2",
    ...MACHINE_ARGS,
    "--max-instructions",
    String(PINVM_MAX_INSTRUCTIONS),
    ...extra,
    "-kernel",
    elf,
  ]);
}

/** Parses the last `SUMMARY pass=N fail=M skip=K` line. */
function parseSummary(serial: string): Summary | null {
  const matches = [...serial.matchAll(/^SUMMARY pass=(\d+) fail=(\d+) skip=(\d+)$/gm)];
  const m = matches.at(-1);
  return m ? { pass: Number(m[1]), fail: Number(m[2]), skip: Number(m[3]) } : null;
}

function describe(who: string, run: SuiteRun): string {
  const s = parseSummary(run.serial);
  const counts = s ? `pass=${s.pass} fail=${s.fail} skip=${s.skip}` : "no SUMMARY line";
  const end = run.timedOut ? `timed out after ${TIMEOUT_MS} ms` : `status ${run.status}`;
  return `${who}: ${counts}, ${end}`;
}

/** The FAIL lines of a run, for messages. */
function failLines(serial: string): string[] {
  return serial.split("\n").filter((l) => l.startsWith("FAIL "));
}

/**
 * Compares pinvm's lines with QEMU's: equal, except where QEMU printed a documented deviation
 * (`skip <name> deviation=<id> ...`) and pinvm printed `ok <name>`. Returns the problems.
 */
function compareLines(pinvm: string, qemu: string): string[] {
  const p = pinvm.split("\n");
  const q = qemu.split("\n");
  const problems: string[] = [];
  let deviations = 0;
  for (let n = 0; n < Math.max(p.length, q.length); n++) {
    const pl = p[n] ?? "<end of output>";
    const ql = q[n] ?? "<end of output>";
    if (pl === ql) continue;
    const dev = /^skip (\S+) deviation=(\S+) /.exec(ql);
    if (dev && DEVIATIONS[dev[2]] !== undefined) {
      if (pl !== `ok ${dev[1]}`)
        problems.push(`line ${n + 1}: pinvm '${pl}', the SDM's value expected (${DEVIATIONS[dev[2]]})`);
      else deviations++;
      continue;
    }
    // The SUMMARY lines differ by exactly the deviations: QEMU's skips are pinvm's passes.
    const ps = parseSummary(pl);
    const qs = parseSummary(ql);
    if (
      ps &&
      qs &&
      ps.fail === qs.fail &&
      ps.pass === qs.pass + deviations &&
      ps.skip === qs.skip - deviations
    ) {
      continue;
    }
    if (dev) problems.push(`line ${n + 1}: QEMU deviation '${dev[2]}' is not documented in DEVIATIONS`);
    else problems.push(`line ${n + 1}: pinvm '${pl}', qemu '${ql}'`);
    if (problems.length >= 10) break;
  }
  return problems;
}

test("compareLines: a documented TCG deviation needs pinvm's ok, anything else must be equal", () => {
  const qemu = "ok a\nskip b deviation=tcg-init-cr0 got=60000010 sdm=10\nv 1\nSUMMARY pass=2 fail=0 skip=1\n";
  const pinvm = "ok a\nok b\nv 1\nSUMMARY pass=3 fail=0 skip=0\n";
  // The SUMMARY lines differ by exactly the one deviation: accepted.
  assert.deepEqual(compareLines(pinvm, qemu), []);
  // Any other difference in the SUMMARY is not.
  assert.equal(compareLines(pinvm.replace("pass=3", "pass=4"), qemu).length, 1);
  assert.match(compareLines(pinvm.replace("ok b", "FAIL b got=60000010 want=10"), qemu)[0], /SDM's value/);
  const undocumented = qemu.replace("tcg-init-cr0", "tcg-made-up");
  assert.match(compareLines(pinvm, undocumented)[0], /not documented/);
  assert.match(compareLines("ok a", "ok a\nok c")[0], /end of output/);
  assert.deepEqual(parseSummary("x\nSUMMARY pass=107 fail=2 skip=3\ndone\n"), {
    pass: 107,
    fail: 2,
    skip: 3,
  });
  assert.equal(parseSummary("ok a\ndone\n"), null);
});

const suites32 = suiteNames(SOURCES32);
for (const suite of suites32) COMPARED.add(suite);
const suites = [...suiteNames(), ...suites32];
const qemuSkip = qemuAvailable() ? undefined : "qemu-system-x86_64 not available";
const cliSkip = existsSync(CLI) ? undefined : "dist/src/cli/main.js not built (npm run build)";
const qemuSerial = new Map<string, string>();

if (suites.length === 0) test("conformance suites", { skip: "no guests/tests/*.c" }, () => {});

for (const suite of suites) {
  const elf = join(suites32.includes(suite) ? BUILD32 : BUILD, `${suite}.elf`);
  const buildSkip = existsSync(elf) ? undefined : `${elf} not built (make -C guests)`;

  test(`suite ${suite}: QEMU TCG`, { skip: buildSkip ?? qemuSkip }, async () => {
    const run = await runQemu(elf);
    qemuSerial.set(suite, run.serial);
    const line = `suite ${suite}: ${describe("qemu-tcg", run)}`;
    console.log(line);
    const summary = parseSummary(run.serial);
    assert.ok(
      summary,
      `no SUMMARY line (${run.command.join(" ")}):\n${run.serial.slice(-2000)}\n${run.stderr}`,
    );
    assert.equal(summary.fail, 0, `failed checks under QEMU:\n${failLines(run.serial).join("\n")}`);
    assert.equal(decodeDebugExit(run.status), 0, `QEMU ${describe("qemu-tcg", run)}`);
    if (suite === "cr_pinning") {
      // QEMU offers no pinning: the suite must skip cleanly, with no check run at all.
      assert.equal(summary.pass, 0, `cr_pinning ran checks under QEMU:\n${run.serial}`);
      assert.ok(summary.skip > 0, "cr_pinning printed no skip under QEMU");
      assert.match(run.serial, /^profile none$/m);
    } else {
      // Where TCG deviates (a `skip <name> deviation=` line), the SDM's value is pinvm's to show.
      const missing = missingOk(run.serial, suite).filter(
        (name) => !run.serial.includes(`\nskip ${name} deviation=`),
      );
      assert.deepEqual(missing, [], `required checks not passed under QEMU: ${missing.join(", ")}`);
    }
  });

  /** One pinvm run of the suite, checked like the QEMU run and compared with it if asked. */
  const pinvmTest = (name: string, extra: string[], compare: boolean, required = suite): void => {
    test(name, { skip: buildSkip ?? cliSkip }, async () => {
      const run = await runPinvm(elf, extra);
      console.log(`${name}: ${describe("pinvm", run)}`);
      const summary = parseSummary(run.serial);
      assert.ok(
        summary,
        `no SUMMARY line (${run.command.join(" ")}):\n${run.serial.slice(-2000)}\n${run.stderr}`,
      );
      assert.equal(summary.fail, 0, `failed checks under pinvm:\n${failLines(run.serial).join("\n")}`);
      assert.equal(decodeDebugExit(run.status), 0, `pinvm ${describe("pinvm", run)}\n${run.stderr}`);
      const missing = missingOk(run.serial, required);
      assert.deepEqual(missing, [], `required checks not passed under pinvm: ${missing.join(", ")}`);
      const qemu = qemuSerial.get(suite);
      if (compare && qemu !== undefined) {
        const problems = compareLines(run.serial, qemu);
        assert.deepEqual(problems, [], `pinvm and QEMU TCG differ:\n${problems.join("\n")}`);
      }
      if (suite === "cr_pinning" && extra.join(" ") === "--cr-pin off" && qemu !== undefined) {
        // Pinning off: the same clean skips as under QEMU, line for line but the hypervisor's name.
        assert.equal(withoutHypervisorLines(run.serial), withoutHypervisorLines(qemu));
      }
    });
  };

  if (suite !== "cr_pinning") {
    pinvmTest(
      `suite ${suite}: pinvm${COMPARED.has(suite) ? " = QEMU TCG line for line" : ""}`,
      [],
      COMPARED.has(suite),
    );
    continue;
  }
  for (const profile of PIN_PROFILES) {
    // With pinning off every pinning check skips, as under QEMU (the lines differ only in the
    // hypervisor signature: KVM's under pinvm, TCG's under QEMU).
    pinvmTest(
      `suite cr_pinning: pinvm --cr-pin ${profile}`,
      ["--cr-pin", profile],
      false,
      `cr_pinning/${profile}`,
    );
  }
  // INIT-SIPI of an AP with the other --pins-on-init than the profile's default: the suite is
  // told (init=) what to expect and must observe it (rfc2019 clear, jun2020 keep).
  for (const [profile, onInit] of [
    ["rfc2019", "clear"],
    ["jun2020", "keep"],
  ] as const) {
    test(
      `suite cr_pinning: pinvm --cr-pin ${profile} --pins-on-init ${onInit}`,
      { skip: buildSkip ?? cliSkip },
      async () => {
        const run = await runPinvm(elf, [
          "--cr-pin",
          profile,
          "--pins-on-init",
          onInit,
          "-append",
          `init=${onInit}`,
        ]);
        console.log(`suite cr_pinning --pins-on-init ${onInit}: ${describe(`pinvm ${profile}`, run)}`);
        assert.equal(parseSummary(run.serial)?.fail, 0, failLines(run.serial).join("\n"));
        assert.equal(decodeDebugExit(run.status), 0, run.stderr);
        assert.match(run.serial, new RegExp(`^init-pins-observed ${onInit}$`, "m"));
        assert.match(run.serial, new RegExp(`^ok init-pins-${onInit === "keep" ? "kept" : "cleared"}$`, "m"));
      },
    );
  }
  // A narrower CR4 ALLOWED mask (--allowed-cr4, SMEP only): the guest reads it back from the
  // ALLOWED MSR (allowed-cr4= tells it what to expect) and only SMEP gets pinned.
  for (const profile of ["rfc2019", "jun2020"] as const) {
    test(
      `suite cr_pinning: pinvm --cr-pin ${profile} --allowed-cr4 0x100000`,
      { skip: buildSkip ?? cliSkip },
      async () => {
        const mask = "0x100000";
        const run = await runPinvm(elf, [
          "--cr-pin",
          profile,
          "--allowed-cr4",
          mask,
          "-append",
          `allowed-cr4=${mask}`,
        ]);
        console.log(`suite cr_pinning --allowed-cr4 ${mask}: ${describe(`pinvm ${profile}`, run)}`);
        assert.equal(parseSummary(run.serial)?.fail, 0, failLines(run.serial).join("\n"));
        assert.equal(decodeDebugExit(run.status), 0, run.stderr);
        for (const name of [
          `${profile}-cr4-allowed`,
          `${profile}-clear-smep-gp`,
          `${profile}-clear-unpinned-smap`,
        ])
          assert.match(run.serial, new RegExp(`^ok ${name}$`, "m"));
        assert.doesNotMatch(run.serial, /smap-too|high-smep-smap/, "SMAP pinned outside the ALLOWED mask");
      },
    );
  }
  // RSM restoring a CR4 without the pinned SMEP: rfc2019 and heki2024 restore it as is (neither
  // checks RSM); jun2020 stops the VM with an internal error (status 3) right after the guest's
  // "smm-violate: SMI" line.
  test(
    "suite cr_pinning smm-violate: rfc2019 and heki2024 continue, jun2020 stops the vCPU",
    { skip: buildSkip ?? cliSkip },
    async () => {
      for (const profile of ["rfc2019", "heki2024"]) {
        const run = await runPinvm(elf, ["--cr-pin", profile, "-append", "smm-violate"]);
        console.log(`suite cr_pinning smm-violate: ${describe(`pinvm ${profile}`, run)}`);
        assert.match(run.serial, /^ok smm-violate-pin-smep$/m, run.serial);
        assert.match(run.serial, /^ok smm-violate-restored-as-is$/m, run.serial);
        assert.equal(decodeDebugExit(run.status), 0, run.stderr);
      }
      const jun = await runPinvm(elf, ["--cr-pin", "jun2020", "-append", "smm-violate"]);
      console.log(`suite cr_pinning smm-violate: pinvm jun2020: status ${jun.status} (3: vCPU stopped)`);
      assert.equal(jun.status, 3, `jun2020: status ${jun.status}\n${jun.stderr}`);
      assert.match(jun.serial, /smm-violate: SMI[^\n]*\n$/, "nothing after the SMI line");
      assert.match(jun.stderr, /refused on RSM|internal error|stopped by the hypervisor/);
    },
  );
}
