/**
 * Host-side errors of `pinvm`: a bad command line, an unreadable or malformed kernel, a
 * damaged snapshot. Each is status 1 with one line `pinvm: ...` on stderr that names what is
 * wrong, and never a stack trace.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guest, lines, missing, pinvm, saveHelloSnapshot } from "./run-cli.js";

function oneErrorLine(r: { status: number | null; stderr: string; stdout: string }): string {
  assert.equal(r.status, 1, r.stderr);
  const err = lines(r.stderr);
  assert.equal(err.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  return err[0];
}

test("bad flags: status 1 and a message naming the flag", { skip: missing() }, () => {
  for (const [args, pattern] of [
    [["--bogus"], /'--bogus'/],
    [["-device", "e1000"], /-device e1000/],
    [["--cr-pin", "2021"], /--cr-pin/],
    [["--reset-style", "bios"], /--reset-style/],
    [["--violations", "exit"], /--violations needs CR pinning on/],
    [["-smp", "99"], /-smp/],
    [["-hda", "disk.img"], /-hda.*no disks/],
  ] as const) {
    const r = pinvm([...args]);
    assert.match(oneErrorLine(r), pattern, args.join(" "));
    assert.equal(r.stdout, "");
  }
});

test("a kernel of no known format: status 1, the file named, what was expected", { skip: missing() }, () => {
  const dir = mkdtempSync(join(tmpdir(), "pinvm-cli-"));
  try {
    const junk = join(dir, "junk.bin");
    writeFileSync(junk, Buffer.alloc(4096, 0x5a));
    const line = oneErrorLine(pinvm(["-kernel", junk]));
    assert.match(
      line,
      /^pinvm: -kernel '.*junk\.bin': not a kernel pinvm can boot: expected a Multiboot v1 image/,
    );
    const elf = join(dir, "bad.elf");
    writeFileSync(elf, Buffer.from("\x7fELF this is not a kernel".padEnd(4096, "\0")));
    assert.match(oneErrorLine(pinvm(["-kernel", elf])), /^pinvm: -kernel '.*bad\.elf': .*ELF/);
    assert.match(
      oneErrorLine(pinvm(["-kernel", join(dir, "absent")])),
      /could not open kernel file .*: no such file$/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A minimal ELF32 executable (no Multiboot header): mov al, 9; out 0xF4, al; hlt at 100054H. */
function tinyElf32(): Uint8Array {
  const code = [0xb0, 0x09, 0xe6, 0xf4, 0xf4];
  const bytes = new Uint8Array(52 + 32 + code.length);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]); // ELFCLASS32, little-endian, EV_CURRENT
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 3, true); // EM_386
  v.setUint32(20, 1, true);
  v.setUint32(24, 0x100054, true); // e_entry
  v.setUint32(28, 52, true); // e_phoff
  v.setUint16(40, 52, true); // e_ehsize
  v.setUint16(42, 32, true); // e_phentsize
  v.setUint16(44, 1, true); // e_phnum
  v.setUint32(52, 1, true); // PT_LOAD
  v.setUint32(56, 0, true); // p_offset
  v.setUint32(60, 0x100000, true); // p_vaddr
  v.setUint32(64, 0x100000, true); // p_paddr
  v.setUint32(68, bytes.length, true); // p_filesz
  v.setUint32(72, bytes.length, true); // p_memsz
  v.setUint32(76, 5, true); // R+X
  v.setUint32(80, 0x1000, true);
  bytes.set(code, 84);
  return bytes;
}

test(
  "a plain ELF kernel is run by the ELF loader; -initrd and -append with it are refused",
  { skip: missing() },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "pinvm-cli-"));
    try {
      const elf = join(dir, "tiny.elf");
      writeFileSync(elf, tinyElf32());
      const ok = pinvm(["-kernel", elf, "-device", "isa-debug-exit"]);
      assert.equal(ok.status, (9 << 1) | 1, ok.stderr);
      assert.match(
        oneErrorLine(pinvm(["-kernel", elf, "-initrd", elf])),
        /-initrd needs a Multiboot or Linux kernel/,
      );
      assert.match(
        oneErrorLine(pinvm(["-kernel", elf, "-append", "x"])),
        /-append needs a Multiboot or Linux kernel/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("an ELF64 Multiboot image is refused as QEMU refuses it", { skip: missing("hello.elf64") }, () => {
  assert.match(
    oneErrorLine(pinvm(["-kernel", guest("hello.elf64")])),
    /hello\.elf64': ELF64 multiboot images are not supported/,
  );
});

test("a corrupt snapshot: status 1 and one line saying what is wrong", { skip: missing("hello.elf") }, () => {
  const dir = mkdtempSync(join(tmpdir(), "pinvm-cli-"));
  try {
    const good = join(dir, "good.snap");
    const save = saveHelloSnapshot(good);
    assert.equal(save.status, 124, save.stderr);
    const bytes = readFileSync(good);
    const cases: [string, Uint8Array, RegExp][] = [
      ["truncated", bytes.subarray(0, bytes.length - 100), /truncated|end marker/],
      [
        "flipped",
        Uint8Array.from(bytes, (b, i) => (i === bytes.length - 50 ? b ^ 0xff : b)),
        /CRC|crc|malformed|marker/i,
      ],
      ["text", Buffer.from("hello, I am not a snapshot"), /not a pinvm snapshot|magic/i],
    ];
    for (const [name, data, pattern] of cases) {
      const path = join(dir, `${name}.snap`);
      writeFileSync(path, data);
      const line = oneErrorLine(pinvm(["--snapshot-load", path]));
      assert.match(line, new RegExp(`^pinvm: snapshot '.*${name}\\.snap': `), name);
      assert.match(line, pattern, name);
    }
    // Intact, but for another machine shape than the command line asks.
    const mismatch = oneErrorLine(pinvm(["--snapshot-load", good, "-m", "64"]));
    assert.match(mismatch, /128 MiB.*64 MiB|64 MiB.*128 MiB/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
