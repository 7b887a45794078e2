/**
 * Tests of the Multiboot v1 loader: the real guests/build/hello.elf (skipped when not built),
 * synthetic ELF32 and a.out-kludge images, and malformed images that must be refused with a
 * LoaderError naming the problem. Also the initial CPU state and the info-structure writer.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  LoaderError,
  MULTIBOOT_BOOTLOADER_MAGIC,
  MULTIBOOT_HEADER_MAGIC,
  MULTIBOOT_INFO_SIZE,
  MultibootInfoFlag,
  multibootInitialState,
  parseMultiboot,
  writeMultibootInfo,
} from "../../src/vmm/loaders/multiboot.js";
import { repoRoot } from "../oracle/qemu.js";

const helloElf = join(repoRoot(), "guests", "build", "hello.elf");

/** A Multiboot header: magic, flags, checksum, then the given extra words. */
function multibootHeader(flags: number, extra: number[] = [], checksumDelta = 0): Uint8Array {
  const words = [
    MULTIBOOT_HEADER_MAGIC,
    flags,
    (-(MULTIBOOT_HEADER_MAGIC + flags) + checksumDelta) >>> 0,
    ...extra,
  ];
  const bytes = new Uint8Array(words.length * 4);
  const view = new DataView(bytes.buffer);
  words.forEach((word, i) => view.setUint32(i * 4, word >>> 0, true));
  return bytes;
}

interface SyntheticSegment {
  vaddr: number;
  paddr: number;
  data: Uint8Array;
  memsz: number;
}

/**
 * A minimal ELF32 EM_386 executable: ELF header, program headers, then each segment's bytes;
 * the first segment starts with a Multiboot header (flags 0) unless `header` replaces it.
 */
function elf32(entry: number, segments: SyntheticSegment[]): Uint8Array {
  const phoff = 52;
  let offset = phoff + segments.length * 32;
  const offsets = segments.map((segment) => {
    const at = offset;
    offset += segment.data.length;
    return at;
  });
  const image = new Uint8Array(offset);
  const view = new DataView(image.buffer);
  image.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0);
  view.setUint16(16, 2, true); // ET_EXEC
  view.setUint16(18, 3, true); // EM_386
  view.setUint32(20, 1, true);
  view.setUint32(24, entry, true);
  view.setUint32(28, phoff, true);
  view.setUint16(40, 52, true);
  view.setUint16(42, 32, true);
  view.setUint16(44, segments.length, true);
  segments.forEach((segment, i) => {
    const ph = phoff + i * 32;
    view.setUint32(ph, 1, true); // PT_LOAD
    view.setUint32(ph + 4, offsets[i], true);
    view.setUint32(ph + 8, segment.vaddr, true);
    view.setUint32(ph + 12, segment.paddr, true);
    view.setUint32(ph + 16, segment.data.length, true);
    view.setUint32(ph + 20, segment.memsz, true);
    view.setUint32(ph + 24, 7, true);
    image.set(segment.data, offsets[i]);
  });
  return image;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A text segment: multiboot header (flags 0) followed by `codeBytes` bytes of code. */
function textWithHeader(codeBytes = 20, header = multibootHeader(0)): Uint8Array {
  return concat(header, new Uint8Array(codeBytes).fill(0x90));
}

function assertLoaderError(image: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => parseMultiboot(image),
    (error: unknown) => error instanceof LoaderError && pattern.test(error.message),
  );
}

test("hello.elf: ELF32 image at 1 MiB whose entry is the runtime's _start", (t) => {
  if (!existsSync(helloElf)) return t.skip("guests/build/hello.elf not built (run make -C guests)");
  const image = parseMultiboot(new Uint8Array(readFileSync(helloElf)));
  assert.equal(image.format, "elf32");
  assert.equal(image.segments[0].paddr, 0x100000);
  const text = image.segments[0];
  assert.equal(new DataView(text.data.buffer).getUint32(0, true), MULTIBOOT_HEADER_MAGIC);
  assert.ok(image.entry >= text.paddr && image.entry < text.paddr + text.data.length);
  // _start begins with `movl %eax, boot_entry_state` (A3 moffs32: MOV moffs32, EAX).
  assert.equal(text.data[image.entry - text.paddr], 0xa3, "_start begins with mov moffs32, eax (0xa3)");
  assert.ok(
    image.segments.some((segment) => segment.memsz > segment.data.length),
    "has a bss",
  );
  assert.ok(image.segments.every((segment) => segment.paddr + segment.memsz < 0x4000_0000));
});

test("hello.elf64 (before objcopy) is refused with the fix in the message", (t) => {
  const elf64 = helloElf.replace(/\.elf$/, ".elf64");
  if (!existsSync(elf64)) return t.skip("guests/build/hello.elf64 not built (run make -C guests)");
  assertLoaderError(new Uint8Array(readFileSync(elf64)), /ELF64.*objcopy -O elf32-i386/);
});

test("synthetic ELF32: segments by physical address, entry translated from virtual", () => {
  const text = textWithHeader();
  const image = parseMultiboot(
    elf32(0xc010_0010, [
      { vaddr: 0xc010_0000, paddr: 0x10_0000, data: text, memsz: text.length },
      { vaddr: 0xc020_0000, paddr: 0x20_0000, data: new Uint8Array([1, 2, 3]), memsz: 0x1000 },
    ]),
  );
  assert.equal(image.entry, 0x10_0010);
  assert.deepEqual(
    image.segments.map((segment) => [segment.paddr, segment.data.length, segment.memsz]),
    [
      [0x10_0000, text.length, text.length],
      [0x20_0000, 3, 0x1000],
    ],
  );
  assert.deepEqual([...image.segments[1].data], [1, 2, 3]);
});

test("a.out kludge: address fields place the file bytes and the bss", () => {
  // Flat image: 16 bytes of padding, then the header (at file offset 16 = header_addr).
  const header = multibootHeader(0x10000, [0x10_0010, 0x10_0000, 0x10_0040, 0x10_2000, 0x10_0030]);
  const file = concat(new Uint8Array(16), header, new Uint8Array(0x40 - 16 - header.length).fill(0xcc));
  const image = parseMultiboot(file);
  assert.equal(image.format, "aout-kludge");
  assert.equal(image.entry, 0x10_0030);
  assert.equal(image.segments.length, 1);
  assert.equal(image.segments[0].paddr, 0x10_0000);
  assert.equal(image.segments[0].data.length, 0x40);
  assert.equal(image.segments[0].memsz, 0x2000);
  assert.equal(image.header.addresses?.headerAddr, 0x10_0010);
});

test("malformed images are refused with a clear LoaderError", () => {
  const text = textWithHeader();
  const good = elf32(0x10_0000, [{ vaddr: 0x10_0000, paddr: 0x10_0000, data: text, memsz: text.length }]);
  assert.doesNotThrow(() => parseMultiboot(good));

  assertLoaderError(new Uint8Array(4), /too short/);
  assertLoaderError(new Uint8Array(9000), /no multiboot header/);
  assertLoaderError(good.slice(0, good.length - 4), /past the end of the file.*truncated/);
  assertLoaderError(concat(new Uint8Array(8192), multibootHeader(0)), /no multiboot header/);

  const badSum = textWithHeader(20, multibootHeader(0, [], 1));
  assertLoaderError(
    elf32(0x10_0000, [{ vaddr: 0x10_0000, paddr: 0x10_0000, data: badSum, memsz: badSum.length }]),
    /bad checksum/,
  );
  assertLoaderError(textWithHeader(20, multibootHeader(1 << 5)), /unsupported features.*0x20/);
  assertLoaderError(textWithHeader(20, multibootHeader(0)), /must be an ELF file/);
  assertLoaderError(multibootHeader(0x10000, [0x10_0000]), /truncated/);

  const beyond4G = elf32(0xffff_f000, [
    { vaddr: 0xffff_f000, paddr: 0xffff_f000, data: text, memsz: 0x2000 },
  ]);
  assertLoaderError(beyond4G, /past 4 GiB/);
  assertLoaderError(
    elf32(0x10_0000, [{ vaddr: 0x10_0000, paddr: 0x10_0000, data: text, memsz: 4 }]),
    /file size .* exceeds memory size/,
  );
  assertLoaderError(
    elf32(0x50_0000, [{ vaddr: 0x10_0000, paddr: 0x10_0000, data: text, memsz: text.length }]),
    /entry 0x500000 is not inside any loaded segment/,
  );
  assertLoaderError(
    elf32(0x10_0000, [
      { vaddr: 0x10_0000, paddr: 0x10_0000, data: text, memsz: 0x1000 },
      { vaddr: 0x10_0800, paddr: 0x10_0800, data: new Uint8Array(4), memsz: 4 },
    ]),
    /overlaps/,
  );

  const elf64 = good.slice();
  elf64[4] = 2;
  assertLoaderError(elf64, /ELF64/);
  const notExec = good.slice();
  new DataView(notExec.buffer).setUint16(16, 3, true);
  assertLoaderError(notExec, /ET_EXEC/);
  const wrongMachine = good.slice();
  new DataView(wrongMachine.buffer).setUint16(18, 62, true);
  assertLoaderError(wrongMachine, /EM_386/);

  // a.out kludge inconsistencies.
  const kludge = (fields: number[], fileBytes = 0x40) =>
    concat(multibootHeader(0x10000, fields), new Uint8Array(fileBytes - 32));
  assertLoaderError(kludge([0x10_0000, 0x10_0010, 0, 0, 0x10_0010]), /below load_addr/);
  assertLoaderError(kludge([0x10_0010, 0x10_0000, 0, 0, 0x10_0010]), /before the file/);
  assertLoaderError(kludge([0x10_0000, 0x10_0000, 0x10_1000, 0, 0x10_0000]), /truncated/);
  assertLoaderError(kludge([0x10_0000, 0x10_0000, 0x10_0040, 0x10_0020, 0x10_0000]), /bss_end_addr/);
  assertLoaderError(kludge([0x10_0000, 0x10_0000, 0x10_0040, 0, 0x20_0000]), /entry_addr .* outside/);
  assertLoaderError(kludge([0xffff_fff0, 0xffff_fff0, 0, 0xffff_ffff, 0xffff_fff0]), /past 4 GiB/);
});

test("multibootInitialState follows the spec's machine state", () => {
  const state = multibootInitialState(0x10_000c, 0x9000);
  assert.equal(state.eax, MULTIBOOT_BOOTLOADER_MAGIC);
  assert.equal(state.ebx, 0x9000);
  assert.equal(state.eip, 0x10_000c);
  assert.equal(state.cr0 & state.required.cr0Set, state.required.cr0Set);
  assert.equal(state.cr0 & state.required.cr0Clear, 0);
  assert.equal(state.eflags & state.required.eflagsClear, 0);
  for (const segment of [state.cs, state.ds, state.es, state.fs, state.gs, state.ss]) {
    assert.equal(segment.base, 0);
    assert.equal(segment.limit, 0xffff_ffff);
    assert.equal(segment.db, 1);
  }
  assert.equal(state.cs.type & 0x8, 0x8, "CS is a code segment");
  assert.equal(state.ds.type & 0x8, 0, "DS is a data segment");
});

test("writeMultibootInfo writes memory sizes, map, command line and name", () => {
  const memory = new Uint8Array(0x10000).fill(0xee);
  const layout = writeMultibootInfo(memory, 0x9000, {
    memLowerKiB: 639,
    memUpperKiB: 130048,
    memoryMap: [
      { base: 0, length: 0x9fc00, type: 1 },
      { base: 0x1_0000_0000, length: 0x4000_0000, type: 1 },
    ],
    commandLine: "console=ttyS0",
    bootLoaderName: "pinvm",
  });
  const view = new DataView(memory.buffer);
  const expectedFlags =
    MultibootInfoFlag.Memory |
    MultibootInfoFlag.MemoryMap |
    MultibootInfoFlag.CommandLine |
    MultibootInfoFlag.BootLoaderName;
  assert.equal(layout.flags, expectedFlags);
  assert.equal(view.getUint32(0x9000, true), expectedFlags);
  assert.equal(view.getUint32(0x9004, true), 639);
  assert.equal(view.getUint32(0x9008, true), 130048);
  assert.equal(view.getUint32(0x9000 + 20, true), 0, "mods_count zeroed");
  const mmapAddr = view.getUint32(0x9000 + 48, true);
  assert.equal(mmapAddr, 0x9000 + MULTIBOOT_INFO_SIZE);
  assert.equal(view.getUint32(0x9000 + 44, true), 48);
  assert.equal(view.getUint32(mmapAddr + 24, true), 20);
  assert.equal(view.getUint32(mmapAddr + 24 + 4, true), 0);
  assert.equal(view.getUint32(mmapAddr + 24 + 8, true), 1, "high half of 4 GiB base");
  assert.equal(view.getUint32(mmapAddr + 24 + 12, true), 0x4000_0000);
  const cmdline = view.getUint32(0x9000 + 16, true);
  assert.equal(new TextDecoder().decode(memory.subarray(cmdline, cmdline + 14)), "console=ttyS0\0");
  const name = view.getUint32(0x9000 + 64, true);
  assert.equal(new TextDecoder().decode(memory.subarray(name, name + 6)), "pinvm\0");
  assert.equal(layout.size, MULTIBOOT_INFO_SIZE + 48 + 14 + 6);
  assert.equal(memory[0x9000 + layout.size], 0xee, "nothing written past size");
});

test("writeMultibootInfo refuses bad values and structures that do not fit", () => {
  const memory = new Uint8Array(0x1000);
  const ok = { memLowerKiB: 639, memUpperKiB: 1024 };
  assert.throws(() => writeMultibootInfo(memory, 0xfc0, ok), LoaderError);
  assert.throws(() => writeMultibootInfo(memory, 2, ok), LoaderError);
  assert.throws(() => writeMultibootInfo(memory, 0, { ...ok, memLowerKiB: 641 }), LoaderError);
  assert.throws(() => writeMultibootInfo(memory, 0, { ...ok, memUpperKiB: -1 }), LoaderError);
  assert.equal(writeMultibootInfo(memory, 0, ok).flags, MultibootInfoFlag.Memory);
});
