/**
 * `-kernel K -initrd "a ARGS,b"` for a Multiboot kernel: each entry becomes a boot module
 * (Multiboot 0.6.96 spec section 3.3): info flags bit 3, mods_count at offset 20, mods_addr
 * at offset 24, 16-byte entries (mod_start, mod_end, string, reserved), modules page-aligned
 * above the kernel, each string the entry's text (file name first, as QEMU passes it).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { PcMachine } from "../../src/vmm/machine.js";
import { loadBootImage, kernelFormatOf } from "../../src/vmm/loaders/kernel-image.js";
import { parseMultiboot } from "../../src/vmm/loaders/multiboot.js";
import { guest } from "./run-cli.js";

const HELLO = guest("hello.elf");

function cString(ram: Uint8Array, address: number): string {
  let end = address;
  while (ram[end] !== 0) end++;
  return new TextDecoder().decode(ram.subarray(address, end));
}

test(
  "two -initrd modules: info structure, placement and strings per the Multiboot spec",
  { skip: existsSync(HELLO) ? undefined : "guests/build/hello.elf not built" },
  () => {
    const image = readFileSync(HELLO);
    assert.equal(kernelFormatOf(image), "multiboot");
    const a = Uint8Array.from({ length: 100 }, (_, i) => i + 1);
    const b = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
    const machine = new PcMachine({ memoryBytes: 16 << 20 });
    loadBootImage(machine, {
      kind: "kernel",
      name: "hello.elf",
      image,
      append: "x=1",
      modules: [
        { commandLine: "a.bin arg=1", data: a },
        { commandLine: "b.bin", data: b },
      ],
    });
    const ram = machine.vm.ram;
    const view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
    const info = Number(machine.vcpu.getRegs().rbx);
    assert.equal(machine.vcpu.getRegs().rax, 0x2badb002n);
    const flags = view.getUint32(info, true);
    assert.ok(flags & (1 << 3), "flags bit 3: mods_* valid");
    assert.ok(flags & (1 << 2), "flags bit 2: cmdline valid");
    assert.equal(cString(ram, view.getUint32(info + 16, true)), "hello.elf x=1");
    assert.equal(view.getUint32(info + 20, true), 2, "mods_count");
    const mods = view.getUint32(info + 24, true);
    const kernelEnd = Math.max(...parseMultiboot(image).segments.map((s) => s.paddr + s.memsz));
    let previousEnd = kernelEnd;
    for (const [i, [data, text]] of [
      [a, "a.bin arg=1"],
      [b, "b.bin"],
    ].entries() as IterableIterator<[number, [Uint8Array, string]]>) {
      const start = view.getUint32(mods + 16 * i, true);
      const end = view.getUint32(mods + 16 * i + 4, true);
      assert.equal(start % 4096, 0, `module ${i} page-aligned`);
      assert.ok(start >= previousEnd, `module ${i} above the kernel and the module before`);
      assert.equal(end - start, data.length, "mod_end is the first byte past the module");
      assert.deepEqual(ram.subarray(start, end), data);
      assert.equal(cString(ram, view.getUint32(mods + 16 * i + 8, true)), text);
      assert.equal(view.getUint32(mods + 16 * i + 12, true), 0, "reserved");
      previousEnd = end;
    }
  },
);

test(
  "modules that do not fit in RAM: LoaderError naming the module and the file",
  { skip: existsSync(HELLO) ? undefined : "guests/build/hello.elf not built" },
  () => {
    const machine = new PcMachine({ memoryBytes: 4 << 20 });
    assert.throws(
      () =>
        loadBootImage(machine, {
          kind: "kernel",
          name: "hello.elf",
          image: readFileSync(HELLO),
          modules: [{ commandLine: "big.img", data: new Uint8Array(4 << 20) }],
        }),
      /^LoaderError: -kernel 'hello.elf': module 0 \('big.img', 4194304 bytes\) does not fit/,
    );
  },
);
