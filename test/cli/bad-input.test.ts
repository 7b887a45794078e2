/**
 * Bad input through the real command, end to end: a malformed image of every loader kind
 * (Multiboot ELF and a.out kludge, Linux bzImage, plain ELF32/ELF64, -bios flat image), bad
 * flags, and corrupt, truncated, inconsistent or mismatched snapshots. Each must give status
 * 1 and exactly one line `pinvm: ...` on stderr saying what is wrong, no stack trace, and
 * nothing run: no guest output on stdout, and a `--snapshot-save` to the same file leaves the
 * refused snapshot untouched.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeSnapshot, encodeSnapshot } from "../../src/vmm/snapshot/format.js";
import { guest, lines, missing, pinvm, type CliRun, saveHelloSnapshot } from "./run-cli.js";

/** Asserts status 1, one stderr line without a stack trace, nothing on stdout; returns the line. */
function refused(r: CliRun, what: string): string {
  assert.equal(r.status, 1, `${what}: status\n${r.stderr}`);
  const err = lines(r.stderr);
  assert.equal(err.length, 1, `${what}: expected one line on stderr, got:\n${r.stderr}`);
  assert.match(err[0], /^pinvm: /, what);
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:/, `${what}: no stack trace`);
  assert.equal(r.stdout, "", `${what}: nothing ran`);
  return err[0];
}

const MB_MAGIC = 0x1badb002;

/** A Multiboot header of `flags` at offset 0 of an 8 KiB image, checksum `checksum` (default right). */
function multiboot(flags: number, checksum?: number, words: number[] = [], size = 8192): Uint8Array {
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  v.setUint32(0, MB_MAGIC, true);
  v.setUint32(4, flags, true);
  v.setUint32(8, checksum ?? -(MB_MAGIC + flags) >>> 0, true);
  words.forEach((w, i) => v.setUint32(12 + 4 * i, w, true));
  return b;
}

/** A bzImage setup header: boot protocol `version`, `setupSects` setup sectors (Linux boot.rst). */
function bzImage(version: number, setupSects: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  b[0x1f1] = setupSects;
  v.setUint16(0x1fe, 0xaa55, true);
  b.set([0x48, 0x64, 0x72, 0x53], 0x202); // "HdrS"
  v.setUint16(0x206, version, true);
  b[0x211] = 1; // LOADED_HIGH
  return b;
}

/** An ELF header (class 1 = 32-bit, 2 = 64-bit; data 1 = little-endian) with one program header claimed. */
function elfHeader(elfClass: 1 | 2, data: 1 | 2, size: number): Uint8Array {
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, elfClass, data, 1]);
  v.setUint16(16, 2, true); // ET_EXEC
  if (elfClass === 1) {
    v.setUint16(18, 3, true); // EM_386
    v.setUint32(20, 1, true);
    v.setUint32(24, 0x100000, true); // e_entry
    v.setUint32(28, 52, true); // e_phoff
    v.setUint16(40, 52, true);
    v.setUint16(42, 32, true);
    v.setUint16(44, 1, true); // e_phnum
  } else {
    v.setUint16(18, 62, true); // EM_X86_64
    v.setUint32(20, 1, true);
    v.setBigUint64(24, 0x100000n, true);
    v.setBigUint64(32, 64n, true); // e_phoff
    v.setUint16(52, 64, true);
    v.setUint16(54, 56, true);
    v.setUint16(56, 1, true);
  }
  return b;
}

/** An ELF64 whose one PT_LOAD segment claims 64 KiB of file data the file does not have. */
function elf64SegmentPastEnd(): Uint8Array {
  const b = elfHeader(2, 1, 64 + 56);
  const v = new DataView(b.buffer);
  v.setUint32(64, 1, true); // PT_LOAD
  v.setUint32(68, 5, true);
  v.setBigUint64(72, 0n, true); // p_offset
  v.setBigUint64(80, 0x100000n, true);
  v.setBigUint64(88, 0x100000n, true);
  v.setBigUint64(96, 0x10000n, true); // p_filesz
  v.setBigUint64(104, 0x10000n, true);
  return b;
}

const MALFORMED_KERNELS: [string, Uint8Array, RegExp][] = [
  ["multiboot-checksum", multiboot(0x10000, 0), /checksum/],
  // a.out kludge (flags bit 16): header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr.
  [
    "multiboot-aout-addresses",
    multiboot(0x10000, undefined, [0x100000, 0x200000, 0x100000, 0, 0x100020]),
    /header_addr.*below load_addr/,
  ],
  [
    "multiboot-aout-truncated",
    multiboot(0x10000, undefined, [0x100000, 0x100000, 0x300000, 0x300000, 0x100020], 64),
    /truncated/,
  ],
  ["multiboot-required-flags", multiboot(0x8000), /unsupported features/],
  ["bzimage-old-protocol", bzImage(0x0105, 4, 8192), /1\.05.*too old/],
  ["bzimage-truncated", bzImage(0x020f, 60, 4096), /truncated/],
  ["elf32-truncated", elfHeader(1, 1, 64), /program headers.*past the end/],
  ["elf64-segment-past-end", elf64SegmentPastEnd(), /segment 0.*past the end/],
  ["elf-big-endian", elfHeader(1, 2, 64), /not little-endian/],
  ["empty", new Uint8Array(0), /not a kernel pinvm can boot/],
];

test(
  "a malformed image of every loader kind: one line naming the file and the problem, status 1",
  { skip: missing() },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "pinvm-bad-"));
    try {
      for (const [name, bytes, problem] of MALFORMED_KERNELS) {
        const path = join(dir, `${name}.img`);
        writeFileSync(path, bytes);
        const line = refused(pinvm(["-kernel", path, "-device", "isa-debug-exit"]), name);
        assert.match(line, new RegExp(`^pinvm: -kernel '.*${name}\\.img': `), name);
        assert.match(line, problem, name);
      }
      const empty = join(dir, "empty.rom");
      writeFileSync(empty, new Uint8Array(0));
      assert.match(refused(pinvm(["-bios", empty]), "empty -bios"), /-bios '.*empty\.rom': .*empty/);
      const big = join(dir, "big.rom");
      writeFileSync(big, new Uint8Array(256 << 10));
      // The flat image must end at 1 MiB and start at or above the 896 KiB ROM area: at most 128 KiB.
      assert.match(refused(pinvm(["-bios", big]), "big -bios"), /-bios '.*big\.rom': .*0x40000 bytes/);
      assert.match(
        refused(pinvm(["-kernel", guest("hello.elf"), "-initrd", join(dir, "absent")]), "absent -initrd"),
        /-initrd file '.*absent': no such file/,
      );
      assert.match(refused(pinvm(["-kernel", dir]), "directory"), /kernel file '.*': is a directory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("bad flags: each is one line naming the flag, status 1, nothing run", { skip: missing() }, () => {
  const cases: [string[], RegExp][] = [
    [["-m", "0"], /^pinvm: -m 0: /],
    [["-m", "1T"], /^pinvm: -m 1T: /],
    [["-m", "lots"], /^pinvm: -m lots: /],
    [["-smp", "0"], /^pinvm: -smp 0: /],
    [["-serial", "tcp:127.0.0.1:4444"], /^pinvm: -serial tcp:/],
    [["-serial", "stdio", "-serial", "stdio"], /^pinvm: -serial stdio: /],
    [["-device", "isa-debug-exit,iobase=zz"], /^pinvm: -device isa-debug-exit,iobase: /],
    [["-device", "isa-debug-exit,colour=red"], /^pinvm: -device isa-debug-exit: .*'colour'/],
    [
      ["-device", "isa-debug-exit", "-device", "isa-debug-exit"],
      /^pinvm: -device isa-debug-exit: given twice/,
    ],
    [["-device", "virtio-net-pci"], /^pinvm: -device virtio-net-pci/],
    [["--cr-pin", "jun2020", "--allowed-cr4", "0x800000"], /^pinvm: --allowed-cr4 0x800000: bit 23/],
    [["--cr-pin", "jun2020", "--allowed-cr0", "0x40"], /^pinvm: --allowed-cr0 0x40: bit 6/],
    [["--cr-pin", "jun2020", "--pins-on-init", "maybe"], /^pinvm: --pins-on-init maybe/],
    [["--snapshot-at", "5"], /^pinvm: --snapshot-at needs --snapshot-save/],
    [["-no-reboot=1"], /'-no-reboot' takes no value/],
    [["-kernel"], /'-kernel' needs a value/],
    [["kernel.elf"], /unknown command 'kernel\.elf'/],
    [["-machine", "isapc"], /^pinvm: -machine isapc/],
    [["-machine", "pc,smm=off"], /^pinvm: -machine smm=off/],
    [["-cpu", "486"], /^pinvm: -cpu 486/],
    [["-cpu", "max,+avx512f"], /^pinvm: -cpu max,\+avx512f: .*'avx512f'/],
    [["-display", "gtk"], /^pinvm: -display gtk/],
    [["-accel", "hvf"], /^pinvm: -accel hvf/],
    [["--max-instructions", "many"], /^pinvm: --max-instructions/],
    [["-append", "console=ttyS0"], /^pinvm: -append only allowed with -kernel/],
    [["-kernel", "a", "-bios", "b"], /^pinvm: -bios cannot be combined with -kernel/],
    [["--snapshot-load", "s", "-kernel", "k"], /^pinvm: -kernel cannot be combined with --snapshot-load/],
    [["-monitor", "stdio"], /^pinvm: .*-monitor.*no monitor/],
    [["-netdev", "user,id=n0"], /^pinvm: .*-netdev.*no network/],
    // Checked before the guest runs, not after it.
    [["--snapshot-save", "/nonexistent-dir/s.snap"], /^pinvm: --snapshot-save: cannot write '.*': ENOENT/],
    [["--snapshot-save", tmpdir()], /^pinvm: --snapshot-save: cannot write '.*': is a directory/],
  ];
  for (const [args, pattern] of cases) {
    assert.match(refused(pinvm(args), args.join(" ")), pattern, args.join(" "));
  }
});

test(
  "corrupt, truncated, inconsistent and mismatched snapshots: one line, status 1, nothing restored",
  { skip: missing("hello.elf") },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "pinvm-bad-"));
    try {
      const good = join(dir, "good.snap");
      const save = saveHelloSnapshot(good);
      assert.equal(save.status, 124, save.stderr);
      const bytes = readFileSync(good);
      const edited = (edit: (json: Record<string, unknown>) => void): Uint8Array => {
        const contents = decodeSnapshot(bytes);
        edit(contents.json);
        return encodeSnapshot(contents);
      };
      const cases: [string, Uint8Array, RegExp][] = [
        ["truncated-in-header", bytes.subarray(0, 10), /truncated at byte 10/],
        ["truncated-in-descriptors", bytes.subarray(0, 100), /truncated at byte 100/],
        ["truncated-in-data", bytes.subarray(0, bytes.length >> 1), /truncated at byte/],
        ["truncated-end-marker", bytes.subarray(0, bytes.length - 4), /truncated|end marker/],
        [
          "flipped-byte",
          Uint8Array.from(bytes, (b, i) => (i === bytes.length >> 1 ? b ^ 0x40 : b)),
          /CRC|crc/,
        ],
        ["not-a-snapshot", Buffer.from("#!/bin/sh\necho hello\n"), /not a pinvm snapshot|magic/i],
        // CRC-consistent files whose content a device or vCPU refuses.
        ["bad-pic-state", edited((j) => (j["device/pic"] = { version: 1 })), /i8259/],
        ["bad-vcpu-state", edited((j) => (j["vcpu/0"] = { version: 99 })), /vCPU/],
        ["missing-vcpu", edited((j) => delete j["vcpu/0"]), /"vcpu\/0" is missing/],
        [
          "unknown-device",
          edited((j) => (j["device/e1000"] = { version: 1 })),
          /device\/e1000.*no such device/,
        ],
        [
          "bad-fw-cfg-offset",
          edited((j) => (j["device/fw-cfg"] = { version: 1, selector: 0, offset: 99, dmaAddressHigh: 0 })),
          /fw_cfg/,
        ],
      ];
      for (const [name, data, pattern] of cases) {
        const path = join(dir, `${name}.snap`);
        writeFileSync(path, data);
        // Loading and saving to the same file: a refused load must not get as far as the save.
        const line = refused(pinvm(["--snapshot-load", path, "--snapshot-save", path]), name);
        assert.match(line, new RegExp(`^pinvm: snapshot '.*${name}\\.snap': `), name);
        assert.match(line, pattern, name);
        assert.deepEqual(readFileSync(path), Buffer.from(data), `${name}: the file is left as it was`);
      }
      // Intact, but not the machine the command line asks for.
      for (const [flags, pattern] of [
        [["-m", "64"], /128 MiB.*64 MiB/],
        [["-smp", "2"], /1 vCPU.*2/],
        [["--cr-pin", "jun2020"], /"off".*"jun2020"/],
      ] as const) {
        const line = refused(pinvm(["--snapshot-load", good, ...flags]), flags.join(" "));
        assert.match(line, /does not fit this machine/, flags.join(" "));
        assert.match(line, pattern, flags.join(" "));
      }
      assert.match(
        refused(pinvm(["--snapshot-load", join(dir, "absent.snap")]), "absent"),
        /could not open snapshot '.*absent\.snap': no such file/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
