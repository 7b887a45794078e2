/**
 * Tests of the `pinvm` command-line parser (src/cli/args.ts): defaults, every flag in
 * each spelling QEMU accepts (one or two dashes) plus pinvm's `=` form, every error
 * message, and the first runner's MachineConfig view. Architectural values (CR0.WP is
 * bit 16, CR4.SMEP bit 20, SMAP 21, UMIP 11: SDM Vol.3 2.5) and QEMU's conventions
 * (default 128 MiB, -m in MiB without a suffix, isa-debug-exit at 0xf4 size 4) are
 * written here from their sources, not copied from the implementation.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseArguments, parseCommandLine, USAGE, UsageError, type RunConfig } from "../../src/cli/args.js";

const MiB = 2 ** 20;
const CR0_WP = 1 << 16;
const CR4_UMIP = 1 << 11;
const CR4_SMEP = 1 << 20;
const CR4_SMAP = 1 << 21;

/** The RunConfig of a command line that must parse. */
function run(...argv: string[]): RunConfig {
  const r = parseArguments(argv);
  assert.equal(r.kind, "run", `${argv.join(" ")}: ${r.kind === "error" ? r.error.message : r.kind}`);
  return (r as { config: RunConfig }).config;
}

/** The error message of a command line that must be refused. */
function error(...argv: string[]): string {
  const r = parseArguments(argv);
  assert.equal(r.kind, "error", `${argv.join(" ")} should be refused`);
  const e = (r as { error: UsageError }).error;
  assert.ok(e instanceof UsageError);
  return e.message;
}

/** `-name value` in the four spellings: -n v, --n v, -n=v, --n=v. */
function spellings(name: string, value: string): string[][] {
  return [[`-${name}`, value], [`--${name}`, value], [`-${name}=${value}`], [`--${name}=${value}`]];
}

/** Checks `check` on the config of every spelling of `-name value` (plus `extra` flags). */
function eachSpelling(
  name: string,
  value: string,
  check: (c: RunConfig) => void,
  extra: string[] = [],
): void {
  for (const argv of spellings(name, value)) check(run(...extra, ...argv));
}

// -------------------------------------------------------------------------------- defaults

test("defaults: no flags is `pinvm run` of the demo guest with QEMU's defaults and pinning off", () => {
  assert.deepEqual(run(), {
    command: "run",
    boot: { kind: "demo" },
    memoryBytes: 128 * MiB,
    vcpuCount: 1,
    machineType: "pc",
    smm: true,
    cpu: { model: "max", features: {} },
    serial: [{ kind: "stdio" }],
    debugcon: null,
    debugExit: null,
    pcTestdev: false,
    noReboot: false,
    nodefaults: false,
    pinning: {
      profile: "off",
      pinsOnInit: "keep",
      allowedCr0: CR0_WP,
      allowedCr4: CR4_SMEP | CR4_SMAP | CR4_UMIP,
      violations: "log",
    },
    resetStyle: "vcpu",
    softReset: "system",
    snapshotSave: null,
    trace: false,
    maxInstructions: null,
    explicit: [],
    warnings: [],
  });
  assert.deepEqual(run("run"), run());
});

test("demo: `pinvm demo` turns CR pinning on (jun2020, INIT clears pins) unless --cr-pin says otherwise", () => {
  const demo = run("demo");
  assert.equal(demo.command, "demo");
  assert.deepEqual(demo.boot, { kind: "demo" });
  assert.equal(demo.pinning.profile, "jun2020");
  assert.equal(demo.pinning.pinsOnInit, "clear");
  assert.equal(run("demo", "--cr-pin", "off").pinning.profile, "off");
  assert.equal(run("demo", "-cr-pin=rfc2019").pinning.profile, "rfc2019");
  for (const flag of [
    ["-kernel", "k"],
    ["-bios", "b"],
    ["--snapshot-load", "s"],
    ["-append", "x"],
  ]) {
    assert.equal(
      error("demo", ...flag),
      `${flag[0]}: pinvm demo runs the built-in demo guest (use pinvm run)`,
    );
  }
});

// ------------------------------------------------------------------------------ boot source

test("-kernel, -append, -initrd: Multiboot modules with their command lines, ',,' for a comma", () => {
  eachSpelling("kernel", "/k.elf", (c) =>
    assert.deepEqual(c.boot, { kind: "kernel", path: "/k.elf", initrd: [] }),
  );
  eachSpelling(
    "append",
    "console=ttyS0 a=b",
    (c) => {
      assert.deepEqual(c.boot, { kind: "kernel", path: "k", append: "console=ttyS0 a=b", initrd: [] });
    },
    ["-kernel", "k"],
  );
  eachSpelling(
    "initrd",
    "mod1.bin arg=1,mod2.bin",
    (c) => {
      assert.deepEqual(c.boot, {
        kind: "kernel",
        path: "k",
        initrd: [
          { path: "mod1.bin", commandLine: "mod1.bin arg=1" },
          { path: "mod2.bin", commandLine: "mod2.bin" },
        ],
      });
    },
    ["-kernel", "k"],
  );
  const escaped = run("-kernel", "k", "-initrd", "m.bin a,,b");
  assert.deepEqual(escaped.boot.kind === "kernel" && escaped.boot.initrd, [
    { path: "m.bin", commandLine: "m.bin a,b" },
  ]);
  assert.equal(error("-kernel", "k", "-initrd", "a,,,"), "-initrd a,,,: empty file name in the list");
  assert.equal(error("-kernel", "k", "-initrd", "a,"), "-initrd a,: empty file name in the list");
  assert.equal(error("-append", "x"), "-append only allowed with -kernel");
  assert.equal(error("-initrd", "x"), "-initrd only allowed with -kernel");
  assert.equal(error("-kernel="), "-kernel: empty file name");
  assert.equal(error("-kernel"), "option '-kernel' needs a value");
  assert.equal(error("--kernel"), "option '--kernel' needs a value");
});

test("-bios: a flat firmware image, not combined with -kernel", () => {
  eachSpelling("bios", "fw.bin", (c) => assert.deepEqual(c.boot, { kind: "bios", path: "fw.bin" }));
  assert.equal(
    error("-bios", "fw.bin", "-kernel", "k"),
    "-bios cannot be combined with -kernel: pinvm loads -kernel directly, without firmware",
  );
  assert.equal(error("-bios="), "-bios: empty file name");
});

// --------------------------------------------------------------------------------- machine

test("-m: QEMU's size syntax, MiB without a suffix", () => {
  for (const [text, bytes] of [
    ["128", 128 * MiB],
    ["128M", 128 * MiB],
    ["128m", 128 * MiB],
    ["1G", 1024 * MiB],
    ["size=256M", 256 * MiB],
    ["2048K", 2 * MiB],
    ["1.5G", 1536 * MiB],
    ["4194304B", 4 * MiB],
    ["3840", 3840 * MiB],
    ["6G", 6144 * MiB],
    ["16G", 16384 * MiB],
  ] as const) {
    eachSpelling("m", text, (c) => assert.equal(c.memoryBytes, bytes, text));
  }
  assert.equal(error("-m", "lots"), "-m lots: expected a size such as 128, 128M or 1G");
  assert.equal(error("-m", "128MB"), "-m 128MB: expected a size such as 128, 128M or 1G");
  assert.equal(error("-m", "1M"), "-m 1M: pinvm needs at least 2 MiB of guest RAM");
  assert.equal(error("-m", "17G"), "-m 17G: pinvm supports at most 16 GiB of guest RAM");
  assert.equal(error("-m", "16385M"), "-m 16385M: pinvm supports at most 16 GiB of guest RAM");
  assert.equal(error("-m", "2049K"), "-m 2049K: RAM size must be a multiple of 4 KiB");
  assert.equal(error("-m", "2.0000001M"), "-m 2.0000001M: not a whole number of bytes");
  assert.equal(
    error("-m", "128M,slots=2"),
    "-m 128M,slots=2: pinvm has no memory hotplug (slots= is not supported)",
  );
  assert.equal(
    error("-m", "128M,maxmem=1G"),
    "-m 128M,maxmem=1G: pinvm has no memory hotplug (maxmem= is not supported)",
  );
  assert.equal(
    error("-m", "128M,x=1"),
    "-m 128M,x=1: unknown property 'x' (pinvm accepts -m SIZE or -m size=SIZE)",
  );
  assert.equal(run("-m", "64", "-m", "256").memoryBytes, 256 * MiB, "the last -m wins, as in QEMU");
});

test("-smp: N or cpus=N, 1 to 8; topology refused", () => {
  eachSpelling("smp", "4", (c) => assert.equal(c.vcpuCount, 4));
  eachSpelling("smp", "cpus=8", (c) => assert.equal(c.vcpuCount, 8));
  assert.equal(error("-smp", "9"), "-smp 9: pinvm runs 1 to 8 vCPUs");
  assert.equal(error("-smp", "0"), "-smp 0: pinvm runs 1 to 8 vCPUs");
  assert.equal(error("-smp", "two"), "-smp two: 'two' is not a number");
  assert.equal(
    error("-smp", "2,sockets=2"),
    "-smp 2,sockets=2: pinvm accepts only -smp N or -smp cpus=N ('sockets': no CPU topology or hotplug)",
  );
  assert.equal(
    error("-smp", "cpus=2,maxcpus=4"),
    "-smp cpus=2,maxcpus=4: pinvm accepts only -smp N or -smp cpus=N ('maxcpus': no CPU topology or hotplug)",
  );
});

test("-machine / -M: pc and q35 (and their versioned names), smm, accel ignored with a warning", () => {
  eachSpelling("machine", "q35", (c) => assert.equal(c.machineType, "q35"));
  eachSpelling("M", "pc", (c) => assert.equal(c.machineType, "pc"));
  assert.equal(run("-M", "pc-q35-9.0").machineType, "q35");
  assert.equal(run("-machine", "pc-i440fx-8.2").machineType, "pc");
  assert.equal(run("-machine", "type=q35").machineType, "q35");
  assert.equal(run("-machine", "q35,smm=off").smm, false);
  assert.equal(run("-machine", "pc,smm=on").smm, true);
  assert.equal(run("-machine", "smm=auto").smm, true);
  const accel = run("-machine", "q35,accel=kvm");
  assert.deepEqual(accel.warnings, ["-machine accel=kvm ignored: pinvm is its own accelerator"]);
  assert.equal(
    error("-machine", "microvm"),
    "-machine microvm: unsupported machine 'microvm' (pinvm has pc and q35, the same PC)",
  );
  assert.equal(error("-machine", "pc,smm=maybe"), "-machine smm: expected on or off or auto, not 'maybe'");
  assert.equal(
    error("-machine", "pc,usb=on"),
    "-machine pc,usb=on: unsupported property 'usb' (pinvm accepts type, accel and smm)",
  );
  assert.equal(error("-machine", "pc,,"), "-machine pc,,: empty property in the list");
});

test("-cpu: max, host, qemu64, feature switches in QEMU's three forms, vendor", () => {
  for (const model of ["max", "host", "qemu64"] as const) {
    eachSpelling("cpu", model, (c) => assert.deepEqual(c.cpu, { model, features: {} }));
  }
  assert.deepEqual(run("-cpu", "max,-smep,+smap,umip=off,pni=on,sse4_2=off,vendor=AuthenticAMD").cpu, {
    model: "max",
    vendor: "AuthenticAMD",
    features: { smep: false, smap: true, umip: false, sse3: true, "sse4.2": false },
  });
  assert.deepEqual(run("-cpu", "host,-smep,+smep").cpu.features, { smep: true });
  assert.equal(
    error("-cpu", "pentium"),
    "-cpu pentium: unsupported model (pinvm models one processor: use max, host or qemu64)",
  );
  assert.equal(
    error("-cpu", "max,+avx"),
    "-cpu max,+avx: pinvm's processor has no feature 'avx' (see -cpu help)",
  );
  assert.equal(error("-cpu", "max,smep"), "-cpu max,smep: write +smep, -smep or smep=on|off");
  assert.equal(error("-cpu", "max,smep=maybe"), "-cpu max,smep: expected on or off, not 'maybe'");
  assert.equal(
    error("-cpu", "max,vendor=AMD"),
    "-cpu max,vendor=AMD: the vendor must be 12 characters, e.g. GenuineIntel",
  );
});

test("-accel, -enable-kvm, -no-shutdown: accepted, ignored, with a warning", () => {
  for (const name of ["tcg", "kvm", "kvm,kernel-irqchip=on"]) {
    eachSpelling("accel", name, (c) => {
      assert.deepEqual(c.warnings, [
        `-accel ${name.split(",")[0]} ignored: pinvm is its own accelerator (it always emulates the CPU in software)`,
      ]);
    });
  }
  assert.equal(error("-accel", "hvf"), "-accel hvf: expected tcg or kvm");
  for (const argv of [["-enable-kvm"], ["--enable-kvm"]]) {
    assert.deepEqual(run(...argv).warnings, ["-enable-kvm ignored: pinvm is its own accelerator"]);
  }
  for (const argv of [["-no-shutdown"], ["--no-shutdown"]]) {
    assert.deepEqual(run(...argv).warnings, [
      "-no-shutdown ignored: pinvm has no monitor; it exits when the guest powers off",
    ]);
  }
});

test("-display none, -nographic, -no-reboot, -nodefaults (boolean flags, both dashes)", () => {
  eachSpelling("display", "none", (c) => assert.deepEqual(c.warnings, []));
  assert.equal(
    error("-display", "gtk"),
    "-display gtk: pinvm has no display; only -display none is accepted",
  );
  for (const dash of ["-", "--"]) {
    assert.equal(run(`${dash}nographic`).explicit.includes("nographic"), true);
    assert.equal(run(`${dash}no-reboot`).noReboot, true);
    const bare = run(`${dash}nodefaults`);
    assert.equal(bare.nodefaults, true);
    assert.deepEqual(bare.serial, [], "-nodefaults without -serial: no COM1");
  }
  assert.equal(error("-no-reboot=1"), "option '-no-reboot' takes no value");
  assert.equal(error("--nographic=yes"), "option '--nographic' takes no value");
});

// ------------------------------------------------------------------------------ char devices

test("-serial: stdio, file:PATH, null, none; repeatable COM1..COM4", () => {
  eachSpelling("serial", "stdio", (c) => assert.deepEqual(c.serial, [{ kind: "stdio" }]));
  eachSpelling("serial", "file:/tmp/com1.log", (c) =>
    assert.deepEqual(c.serial, [{ kind: "file", path: "/tmp/com1.log" }]),
  );
  eachSpelling("serial", "null", (c) => assert.deepEqual(c.serial, [{ kind: "null" }]));
  eachSpelling("serial", "none", (c) => assert.deepEqual(c.serial, [null]));
  const four = ["-serial", "stdio", "-serial", "file:a", "--serial=null", "-serial=file:b"];
  assert.deepEqual(run(...four).serial, [
    { kind: "stdio" },
    { kind: "file", path: "a" },
    { kind: "null" },
    { kind: "file", path: "b" },
  ]);
  assert.equal(error(...four, "-serial", "null"), "-serial null: at most 4 serial ports (COM1 to COM4)");
  // QEMU 9.0 (commit "Fix handling of '-serial none -serial something'"): none keeps its place.
  assert.deepEqual(run("-serial", "none", "-serial", "file:x").serial, [null, { kind: "file", path: "x" }]);
  assert.equal(error("-serial", "none", ...four), "-serial file:b: at most 4 serial ports (COM1 to COM4)");
  assert.deepEqual(run("-nodefaults", "-serial", "stdio").serial, [{ kind: "stdio" }]);
  assert.equal(
    error("-serial", "file:a", "-serial", "stdio", "-serial", "stdio"),
    "-serial stdio: stdio is already used by COM2",
  );
  assert.equal(error("-serial", "pty"), "-serial pty: pinvm supports stdio, file:PATH, null and none");
  assert.equal(
    error("-serial", "mon:stdio"),
    "-serial mon:stdio: pinvm supports stdio, file:PATH, null and none (pinvm has no monitor; use stdio)",
  );
  assert.equal(error("-serial", "file:"), "-serial file:: empty file name");
});

test("-debugcon: stdio, file:PATH, null, none", () => {
  eachSpelling("debugcon", "stdio", (c) => assert.deepEqual(c.debugcon, { kind: "stdio" }));
  eachSpelling("debugcon", "file:e9.log", (c) =>
    assert.deepEqual(c.debugcon, { kind: "file", path: "e9.log" }),
  );
  eachSpelling("debugcon", "null", (c) => assert.deepEqual(c.debugcon, { kind: "null" }));
  eachSpelling("debugcon", "none", (c) => assert.equal(c.debugcon, null));
  assert.equal(error("-debugcon", "vc"), "-debugcon vc: pinvm supports stdio, file:PATH, null and none");
});

// --------------------------------------------------------------------------------- devices

test("-device isa-debug-exit (default 0xf4/4), pc-testdev, and the errors", () => {
  eachSpelling("device", "isa-debug-exit", (c) => assert.deepEqual(c.debugExit, { iobase: 0xf4, iosize: 4 }));
  eachSpelling("device", "isa-debug-exit,iobase=0x501,iosize=2", (c) => {
    assert.deepEqual(c.debugExit, { iobase: 0x501, iosize: 2 });
  });
  assert.deepEqual(run("-device", "isa-debug-exit,iobase=244,id=exit0").debugExit, {
    iobase: 244,
    iosize: 4,
  });
  eachSpelling("device", "pc-testdev", (c) => assert.equal(c.pcTestdev, true));
  const both = run("-device", "pc-testdev", "--device=isa-debug-exit");
  assert.equal(both.pcTestdev, true);
  assert.notEqual(both.debugExit, null);
  assert.equal(
    error("-device", "e1000"),
    "-device e1000: unsupported device (pinvm has isa-debug-exit, pc-testdev)",
  );
  assert.equal(
    error("-device", "isa-debugcon,iobase=0x402,chardev=c"),
    "-device isa-debugcon: pinvm has no -chardev to connect it to; use -debugcon stdio|file:PATH (port 0xe9)",
  );
  assert.equal(
    error("-device", "isa-debug-exit,port=1"),
    "-device isa-debug-exit: unknown property 'port' (iobase, iosize)",
  );
  assert.equal(
    error("-device", "isa-debug-exit,iobase"),
    "-device isa-debug-exit: property 'iobase' needs a value",
  );
  assert.equal(
    error("-device", "isa-debug-exit,iobase=zz"),
    "-device isa-debug-exit,iobase: 'zz' is not a number",
  );
  assert.equal(
    error("-device", "isa-debug-exit,iobase=0xffff,iosize=2"),
    "-device isa-debug-exit: ports 0xffff+2 out of range",
  );
  assert.equal(
    error("-device", "isa-debug-exit", "-device", "isa-debug-exit"),
    "-device isa-debug-exit: given twice",
  );
  assert.equal(error("-device", "pc-testdev", "-device", "pc-testdev"), "-device pc-testdev: given twice");
  assert.equal(error("-device", "pc-testdev,x=1"), "-device pc-testdev: unknown property 'x'");
});

test("`-device help`, `-cpu help`, `-machine help` list what pinvm has", () => {
  const device = parseArguments(["-device", "help"]);
  assert.equal(device.kind, "help");
  assert.match((device as { text: string }).text, /isa-debug-exit[^\n]*\n {2}pc-testdev/);
  const cpu = parseArguments(["-cpu", "help"]);
  assert.match((cpu as { text: string }).text, /max, host, qemu64\nFeatures.* smep smap umip /);
  assert.match((parseArguments(["-M", "?"]) as { text: string }).text, /^Machines: pc .*q35/);
});

// -------------------------------------------------------------------------------- pinning

test("--cr-pin: every profile; --pins-on-init defaults to each version's INIT behaviour", () => {
  // Dec 2019 RFC: kvm_vcpu_reset untouched (pins survive INIT); Jun 2020: kvm_vcpu_reset
  // zeroes them (INIT included); Heki: per-VM pins, never unpinned.
  for (const [profile, init] of [
    ["off", "keep"],
    ["rfc2019", "keep"],
    ["jun2020", "clear"],
    ["heki2024", "keep"],
  ] as const) {
    eachSpelling("cr-pin", profile, (c) => {
      assert.equal(c.pinning.profile, profile);
      assert.equal(c.pinning.pinsOnInit, init);
      assert.equal(c.pinning.allowedCr0, CR0_WP);
      assert.equal(c.pinning.allowedCr4, CR4_SMEP | CR4_SMAP | CR4_UMIP);
    });
  }
  assert.equal(error("--cr-pin", "2021"), "--cr-pin 2021: expected off, rfc2019, jun2020 or heki2024");
  eachSpelling("pins-on-init", "keep", (c) => assert.equal(c.pinning.pinsOnInit, "keep"), [
    "--cr-pin",
    "jun2020",
  ]);
  eachSpelling("pins-on-init", "clear", (c) => assert.equal(c.pinning.pinsOnInit, "clear"), [
    "--cr-pin",
    "rfc2019",
  ]);
  assert.equal(
    error("--cr-pin", "jun2020", "--pins-on-init", "drop"),
    "--pins-on-init drop: expected keep or clear",
  );
  eachSpelling("violations", "exit", (c) => assert.equal(c.pinning.violations, "exit"), [
    "--cr-pin",
    "heki2024",
  ]);
  eachSpelling("violations", "log", (c) => assert.equal(c.pinning.violations, "log"), [
    "--cr-pin",
    "heki2024",
  ]);
  assert.equal(
    error("--cr-pin", "jun2020", "--violations", "panic"),
    "--violations panic: expected log or exit",
  );
  for (const flag of [
    ["--pins-on-init", "keep"],
    ["-allowed-cr4", "0"],
    ["--violations=exit"],
    ["--allowed-cr0", "0"],
  ]) {
    assert.equal(
      error(...flag),
      `${flag[0].split("=")[0]} needs CR pinning on (--cr-pin rfc2019, jun2020 or heki2024)`,
    );
  }
});

test("--allowed-cr0 / --allowed-cr4: masks of bits the register has (SDM Vol.3 2.5)", () => {
  const pin = ["--cr-pin", "jun2020"];
  eachSpelling("allowed-cr0", "0x80010001", (c) => assert.equal(c.pinning.allowedCr0, 0x80010001), pin); // PG|WP|PE
  eachSpelling("allowed-cr4", "0x310800", (c) => assert.equal(c.pinning.allowedCr4, 0x310800), pin); // SMAP|SMEP|FSGSBASE|UMIP
  assert.equal(run(...pin, "--allowed-cr4", String(CR4_SMEP)).pinning.allowedCr4, CR4_SMEP, "decimal");
  assert.equal(run(...pin, "--allowed-cr4", "0").pinning.allowedCr4, 0);
  // CR0 bits 6..15 are reserved (Figure 2-7).
  assert.equal(
    error(...pin, "--allowed-cr0", "0x140"),
    "--allowed-cr0 0x140: bits 6, 8 are not CR0 bits (valid mask 0xe005003f)",
  );
  // CR4 bit 15 is reserved; bit 23 (CET) is a CR4 bit pinvm's processor does not have.
  assert.equal(
    error(...pin, "--allowed-cr4", "0x8000"),
    "--allowed-cr4 0x8000: bit 15 is not a CR4 bit (valid mask 0x777fff)",
  );
  assert.equal(
    error(...pin, "--allowed-cr4", "0x800000"),
    "--allowed-cr4 0x800000: bit 23 is not a CR4 bit (valid mask 0x777fff)",
  );
  assert.equal(
    error(...pin, "--allowed-cr4", "0x100000000"),
    "--allowed-cr4 0x100000000: CR4 pinning masks are 32 bits wide",
  );
  assert.equal(error(...pin, "--allowed-cr4", "smep"), "--allowed-cr4: 'smep' is not a number");
  assert.equal(error(...pin, "--allowed-cr4", "-1"), "--allowed-cr4: '-1' is not a number");
});

test("--reset-style: vcpu (default) or vmm", () => {
  eachSpelling("reset-style", "vmm", (c) => assert.equal(c.resetStyle, "vmm"));
  eachSpelling("reset-style", "vcpu", (c) => assert.equal(c.resetStyle, "vcpu"));
  assert.equal(error("--reset-style", "bios"), "--reset-style bios: expected vcpu or vmm");
});

test("--soft-reset: system (default, QEMU's full reset) or init (INIT#)", () => {
  eachSpelling("soft-reset", "init", (c) => assert.equal(c.softReset, "init"));
  eachSpelling("soft-reset", "system", (c) => assert.equal(c.softReset, "system"));
  assert.equal(error("--soft-reset", "warm"), "--soft-reset warm: expected system or init");
});

// ----------------------------------------------------------------------- run control, snapshots

test("--max-instructions, --trace", () => {
  eachSpelling("max-instructions", "1000000", (c) => assert.equal(c.maxInstructions, 1_000_000));
  assert.equal(run("--max-instructions", "1_000_000").maxInstructions, 1_000_000);
  assert.equal(run("--max-instructions", "0x100").maxInstructions, 256);
  assert.equal(error("--max-instructions", "0"), "--max-instructions 0: must be at least 1");
  assert.equal(error("--max-instructions", "1e9"), "--max-instructions: '1e9' is not a number");
  assert.equal(run("--trace").trace, true);
  assert.equal(run("-trace").trace, true);
});

test("--snapshot-save (on stop, or --snapshot-at N), --snapshot-load and their conflicts", () => {
  eachSpelling("snapshot-save", "vm.snap", (c) => assert.deepEqual(c.snapshotSave, { path: "vm.snap" }));
  eachSpelling(
    "snapshot-at",
    "5000",
    (c) => {
      assert.deepEqual(c.snapshotSave, { path: "s", atInstruction: 5000 });
    },
    ["--snapshot-save", "s"],
  );
  eachSpelling("snapshot-load", "vm.snap", (c) =>
    assert.deepEqual(c.boot, { kind: "snapshot", path: "vm.snap" }),
  );
  const both = run("--snapshot-load", "a", "--snapshot-save", "a", "-m", "64");
  assert.deepEqual(both.boot, { kind: "snapshot", path: "a" });
  assert.deepEqual(
    both.explicit,
    ["snapshot-load", "snapshot-save", "m"],
    "-m given: the snapshot must match it",
  );
  assert.equal(
    error("--snapshot-at", "5"),
    "--snapshot-at needs --snapshot-save FILE (where to write the snapshot)",
  );
  assert.equal(
    error("--snapshot-save", "s", "--snapshot-at", "500", "--max-instructions", "100"),
    "--snapshot-at 500 is beyond --max-instructions 100: it would never happen",
  );
  for (const flag of ["-kernel", "-bios"]) {
    assert.equal(
      error("--snapshot-load", "s", flag, "f"),
      `${flag} cannot be combined with --snapshot-load (the snapshot holds the whole machine)`,
    );
  }
  assert.equal(error("--snapshot-load="), "--snapshot-load: empty file name");
  assert.equal(error("--snapshot-save="), "--snapshot-save: empty file name");
});

// ------------------------------------------------------------------------- help and errors

test("--help and --version in every spelling; help wins over everything else", () => {
  for (const argv of [
    ["--help"],
    ["-help"],
    ["-h"],
    ["--h"],
    ["help"],
    ["run", "--help"],
    ["-m", "lots", "-h"],
  ]) {
    assert.deepEqual(parseArguments(argv), { kind: "help", text: USAGE }, argv.join(" "));
  }
  for (const argv of [["--version"], ["-version"], ["demo", "-version"]]) {
    assert.deepEqual(parseArguments(argv), { kind: "version" }, argv.join(" "));
  }
});

test("the help lists every accepted flag, one line each, and the refused QEMU flags", () => {
  assert.match(USAGE, /^usage: pinvm \[options\]\n {7}pinvm run \[options\]\n {7}pinvm demo \[options\]\n/);
  // prettier-ignore
  const qemu = ["-kernel", "-initrd", "-append", "-bios", "-m", "-smp", "-machine, -M", "-cpu", "-accel", "-enable-kvm",
    "-serial", "-debugcon", "-device", "-display", "-nographic", "-nodefaults", "-no-reboot", "-no-shutdown",
    "-help, -h", "-version"];
  // prettier-ignore
  const own = ["--cr-pin", "--pins-on-init", "--allowed-cr0", "--allowed-cr4", "--violations", "--reset-style",
    "--snapshot-save", "--snapshot-at", "--snapshot-load", "--trace", "--max-instructions"];
  const [qemuPart, ownPart] = USAGE.split("pinvm's own flags:");
  for (const flag of qemu) assert.match(qemuPart, new RegExp(`\\n  ${flag}( |\\n)`), flag);
  for (const flag of own) assert.match(ownPart, new RegExp(`\\n  ${flag}( |\\n)`), flag);
  for (const refused of ["-hda", "-drive", "-netdev", "-chardev", "-monitor", "-gdb"])
    assert.ok(USAGE.includes(refused));
  assert.match(USAGE, /\(V << 1\) \| 1/);
  assert.match(USAGE, /124/);
  // every flag line (a line starting "  -") is followed by its help on the same or next line
  for (const line of USAGE.split("\n").filter((l) => /^ {2}-/.test(l))) assert.ok(line.length <= 100, line);
});

test("errors: unknown and refused flags, stray words, `--`, each naming what is wrong", () => {
  assert.equal(error("-bogus-flag"), "unknown option '-bogus-flag' (see pinvm --help)");
  assert.equal(error("--bogus=3"), "unknown option '--bogus' (see pinvm --help)");
  assert.equal(error("-hda", "disk.img"), "option '-hda' is not supported: pinvm has no disks");
  assert.equal(error("-netdev", "user,id=n"), "option '-netdev' is not supported: pinvm has no network");
  assert.equal(error("-s"), "option '-s' is not supported: pinvm has no gdb stub");
  assert.equal(error("-loadvm", "x"), "option '-loadvm' is not supported: use --snapshot-load FILE");
  assert.equal(
    error("kernel.elf"),
    "unknown command 'kernel.elf': expected run or demo (a kernel is given with -kernel FILE)",
  );
  assert.equal(
    error("-m", "64", "kernel.elf"),
    "unexpected argument 'kernel.elf' (a kernel is given with -kernel FILE)",
  );
  assert.equal(error("run", "demo"), "unexpected argument 'demo' (a kernel is given with -kernel FILE)");
  assert.equal(error("--"), "unexpected argument '--' (a kernel is given with -kernel FILE)");
  assert.equal(error("-m"), "option '-m' needs a value");
  assert.equal(error("--cr-pin"), "option '--cr-pin' needs a value");
});

test("values may start with a dash, and later flags win for single-valued options", () => {
  const c = run("-kernel", "k", "-append", "-v --debug");
  assert.deepEqual(c.boot, { kind: "kernel", path: "k", append: "-v --debug", initrd: [] });
  assert.equal(run("--cr-pin", "off", "--cr-pin", "jun2020").pinning.profile, "jun2020");
  assert.deepEqual(run("-m", "64", "-smp", "2", "--trace").explicit, ["m", "smp", "trace"]);
});

test("parseArguments never throws, whatever the words", () => {
  // prettier-ignore
  const words = ["-m", "--smp", "-serial", "stdio", "x", "=", "-device", "isa-debug-exit,iobase=", "--cr-pin",
    "-", "--", "demo", "run", "-kernel=", "-initrd", ",", "--allowed-cr4", "0xffffffffffff", "-cpu", "max,+", ""];
  let seed = 1;
  for (let n = 0; n < 2000; n++) {
    const argv: string[] = [];
    for (let k = 0; k < n % 6; k++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      argv.push(words[seed % words.length]);
    }
    const r = parseArguments(argv);
    assert.ok(["run", "help", "version", "error"].includes(r.kind), argv.join(" "));
  }
});

// ------------------------------------------------------------------ the first runner's view

test("parseCommandLine: the first runner's MachineConfig, refusing what it cannot run yet", () => {
  assert.deepEqual(parseCommandLine([]), {
    help: false,
    version: false,
    kernel: undefined,
    append: undefined,
    memoryBytes: 128 * MiB,
    serial: "stdio",
    debugcon: "none",
    debugExit: undefined,
    noReboot: false,
    warnings: [],
  });
  // prettier-ignore
  const c = parseCommandLine(["-kernel", "k", "-append", "a", "-m", "64", "-nodefaults", "-debugcon", "stdio",
    "-device", "isa-debug-exit", "-no-reboot", "-accel", "tcg"]);
  assert.equal(c.kernel, "k");
  assert.equal(c.append, "a");
  assert.equal(c.memoryBytes, 64 * MiB);
  assert.equal(c.serial, "none");
  assert.equal(c.debugcon, "stdio");
  assert.deepEqual(c.debugExit, { iobase: 0xf4, iosize: 4 });
  assert.equal(c.noReboot, true);
  assert.equal(c.warnings.length, 1);
  assert.equal(parseCommandLine(["--help"]).help, true);
  assert.equal(parseCommandLine(["-version"]).version, true);
  assert.throws(() => parseCommandLine(["-m", "lots"]), UsageError);
  assert.throws(
    () => parseCommandLine(["--cr-pin", "jun2020"]),
    (e: unknown) =>
      e instanceof UsageError && e.message === "--cr-pin is not supported by this pinvm's runner yet",
  );
  assert.throws(() => parseCommandLine(["-bios", "b"]), /-bios is not supported by this pinvm's runner yet/);
});
