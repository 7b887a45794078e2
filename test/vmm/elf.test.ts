/**
 * Tests of the ELF loader on a real hypervisor VM: ELF32 entered in flat protected mode,
 * ELF64 in long mode through the loader's identity map (with a higher-half virtual address
 * translated by p_paddr), bss zeroing, and every malformed image refused with a LoaderError.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hypervisor } from "../../src/hv/index.js";
import { bootTargetOf, LoaderError } from "../../src/vmm/loaders/common.js";
import { loadElf, parseElf } from "../../src/vmm/loaders/elf.js";

interface Seg {
  type?: number;
  vaddr: bigint;
  paddr: bigint;
  data: Uint8Array;
  memsz: bigint;
  filesz?: bigint;
  offset?: bigint;
}

/** An ELF image (32- or 64-bit) built field by field from the gABI layouts. */
function elf(
  bits: 32 | 64,
  entry: bigint,
  segs: Seg[],
  patch: (view: DataView) => void = () => {},
): Uint8Array {
  const ehsize = bits === 64 ? 64 : 52;
  const phsize = bits === 64 ? 56 : 32;
  let offset = ehsize + segs.length * phsize;
  const offsets = segs.map((s) => {
    const at = offset;
    offset += s.data.length;
    return at;
  });
  const image = new Uint8Array(offset);
  const v = new DataView(image.buffer);
  image.set([0x7f, 0x45, 0x4c, 0x46, bits === 64 ? 2 : 1, 1, 1]);
  v.setUint16(16, 2, true);
  v.setUint16(18, bits === 64 ? 62 : 3, true);
  v.setUint32(20, 1, true);
  if (bits === 64) {
    v.setBigUint64(24, entry, true);
    v.setBigUint64(32, BigInt(ehsize), true);
    v.setUint16(52, ehsize, true);
    v.setUint16(54, phsize, true);
    v.setUint16(56, segs.length, true);
  } else {
    v.setUint32(24, Number(entry), true);
    v.setUint32(28, ehsize, true);
    v.setUint16(40, ehsize, true);
    v.setUint16(42, phsize, true);
    v.setUint16(44, segs.length, true);
  }
  segs.forEach((s, i) => {
    const ph = ehsize + i * phsize;
    const filesz = s.filesz ?? BigInt(s.data.length);
    const off = s.offset ?? BigInt(offsets[i]);
    v.setUint32(ph, s.type ?? 1, true);
    if (bits === 64) {
      v.setUint32(ph + 4, 5, true);
      v.setBigUint64(ph + 8, off, true);
      v.setBigUint64(ph + 16, s.vaddr, true);
      v.setBigUint64(ph + 24, s.paddr, true);
      v.setBigUint64(ph + 32, filesz, true);
      v.setBigUint64(ph + 40, s.memsz, true);
    } else {
      v.setUint32(ph + 4, Number(off), true);
      v.setUint32(ph + 8, Number(s.vaddr), true);
      v.setUint32(ph + 12, Number(s.paddr), true);
      v.setUint32(ph + 16, Number(filesz), true);
      v.setUint32(ph + 20, Number(s.memsz), true);
    }
    image.set(s.data, offsets[i]);
  });
  patch(v);
  return image;
}

function machine(memoryBytes = 8 * 1024 * 1024) {
  const vm = new Hypervisor().createVm({ memoryBytes });
  const vcpu = vm.createVcpu(0);
  return { vm, vcpu, target: bootTargetOf(vm, vcpu) };
}

const code = (...bytes: number[]) => Uint8Array.from(bytes);

test("ELF32: segments loaded, bss zeroed, entered in flat 32-bit protected mode", () => {
  const { vm, vcpu, target } = machine();
  target.writePhysical(0x200000, new Uint8Array(0x100).fill(0xaa)); // garbage where the bss goes
  // MOV EAX,[200010H] (a bss word); MOV EBX,12345678H; HLT
  const text = code(0xa1, 0x10, 0x00, 0x20, 0x00, 0xbb, 0x78, 0x56, 0x34, 0x12, 0xf4);
  const data = code(1, 2, 3, 4);
  const info = loadElf(
    target,
    elf(32, 0x100000n, [
      { vaddr: 0x100000n, paddr: 0x100000n, data: text, memsz: BigInt(text.length) },
      { vaddr: 0x200000n, paddr: 0x200000n, data, memsz: 0x100n },
    ]),
  );
  assert.equal(info.mode, "protected32");
  assert.deepEqual(Array.from(vm.readPhysical(0x200000, 8)), [1, 2, 3, 4, 0, 0, 0, 0]);
  assert.ok(
    vm.readPhysical(0x200004, 0xfc).every((b) => b === 0),
    "bss zeroed",
  );
  const s = vcpu.getSregs();
  assert.equal(s.cs.selector, 0x10);
  assert.equal(s.ds.selector, 0x18);
  assert.equal(s.cr0 & 0x8000_0001n, 1n);
  assert.equal(s.efer, 0n);
  assert.equal(vcpu.getRegs().rflags & 0x200n, 0n, "IF clear");
  assert.equal(vcpu.run(100).kind, "hlt");
  const r = vcpu.getRegs();
  assert.equal(r.rax, 0n);
  assert.equal(r.rbx, 0x12345678n);
});

test("ELF64: higher-half vaddr loaded at p_paddr, long mode with the 4 GiB identity map", () => {
  const { vcpu, target } = machine(16 * 1024 * 1024);
  // MOV RAX,[moffs64 = 0xC00008]; MOV RCX,1122334455667788H; HLT
  const text = code(
    0x48,
    0xa1,
    0x08,
    0x00,
    0xc0,
    0x00,
    0,
    0,
    0,
    0,
    0x48,
    0xb9,
    0x88,
    0x77,
    0x66,
    0x55,
    0x44,
    0x33,
    0x22,
    0x11,
    0xf4,
  );
  const base = 0xffff_ffff_8010_0000n;
  const info = loadElf(
    target,
    elf(64, base + 0n, [{ vaddr: base, paddr: 0x100000n, data: text, memsz: 0x1000n }]),
  );
  assert.equal(info.mode, "long64");
  assert.equal(info.entry, 0x100000);
  target.writePhysical(0xc00008, code(0xef, 0xbe, 0xad, 0xde, 0x01, 0, 0, 0));
  const s = vcpu.getSregs();
  assert.equal(s.efer & 0x500n, 0x500n, "LME and LMA");
  assert.equal(s.cr4 & 0x20n, 0x20n, "PAE");
  assert.equal(s.cr0 >> 31n, 1n, "PG");
  assert.equal(s.cs.l, 1);
  assert.equal(s.cs.selector, 0x10);
  assert.equal(vcpu.run(100).kind, "hlt");
  const r = vcpu.getRegs();
  assert.equal(r.rax, 0x1deadbeefn);
  assert.equal(r.rcx, 0x1122334455667788n);
});

test("malformed ELF images are refused with a LoaderError naming the problem", () => {
  const seg = { vaddr: 0x100000n, paddr: 0x100000n, data: code(0xf4), memsz: 1n };
  const good32 = elf(32, 0x100000n, [seg]);
  const good64 = elf(64, 0x100000n, [seg]);
  assert.doesNotThrow(() => parseElf(good32));
  assert.doesNotThrow(() => parseElf(good64));
  const cases: [string, Uint8Array, RegExp][] = [
    ["bad magic", Uint8Array.from([0x7f, 0x45, 0x4c, 0x47, ...good32.subarray(4)]), /bad magic/],
    ["short file", good32.subarray(0, 10), /bad magic/],
    ["truncated ELF64 header", good64.subarray(0, 40), /header is truncated/],
    ["unknown class", elf(32, 0x100000n, [seg], (v) => v.setUint8(4, 3)), /unknown ELF class 3/],
    ["big-endian", elf(32, 0x100000n, [seg], (v) => v.setUint8(5, 2)), /not little-endian/],
    ["ET_DYN", elf(64, 0x100000n, [seg], (v) => v.setUint16(16, 3, true)), /not ET_EXEC/],
    ["EM_ARM", elf(32, 0x100000n, [seg], (v) => v.setUint16(18, 40, true)), /unsupported ELF machine 40/],
    [
      "ELF32 x86-64 (x32)",
      elf(32, 0x100000n, [seg], (v) => v.setUint16(18, 62, true)),
      /unsupported ELF machine 62/,
    ],
    ["no program headers", elf(32, 0x100000n, [seg], (v) => v.setUint16(44, 0, true)), /no program headers/],
    [
      "program headers past the end",
      elf(64, 0x100000n, [seg], (v) => v.setUint16(56, 9, true)),
      /run past the end/,
    ],
    [
      "segment past the end",
      elf(32, 0x100000n, [{ ...seg, filesz: 0x100n, memsz: 0x100n }]),
      /past the end of the file/,
    ],
    ["filesz > memsz", elf(64, 0x100000n, [{ ...seg, data: code(1, 2), memsz: 1n }]), /exceeds memory size/],
    ["overlap", elf(32, 0x100000n, [seg, { ...seg, vaddr: 0x100000n, paddr: 0x100000n }]), /overlaps/],
    ["entry outside", elf(64, 0x200000n, [seg]), /entry 0x200000 is not inside/],
    ["no PT_LOAD", elf(32, 0x100000n, [{ ...seg, type: 4 }]), /no loadable/],
  ];
  for (const [name, image, message] of cases) {
    assert.throws(
      () => parseElf(image),
      (e: unknown) => e instanceof LoaderError && message.test(e.message),
      name,
    );
  }
});

test("segments outside RAM, in the legacy hole or over the boot structures are refused", () => {
  const { target } = machine(4 * 1024 * 1024);
  const at = (paddr: bigint, memsz = 0x10n) =>
    elf(64, paddr, [{ vaddr: paddr, paddr, data: code(0xf4), memsz }]);
  assert.throws(() => loadElf(target, at(0x3ffff8n)), /outside guest RAM/);
  assert.throws(() => loadElf(target, at(0xb8000n)), /legacy VGA\/BIOS hole/);
  assert.throws(() => loadElf(target, at(0x2000n)), /GDT and page tables/);
  assert.throws(() => loadElf(target, at(0x1_0000_0000n)), /outside guest RAM/);
  assert.doesNotThrow(() => loadElf(target, at(0x8000n)));
});
