/**
 * `-kernel` with a Linux bzImage (told by "HdrS" at offset 202H): pinvm boots it by the Linux
 * boot protocol (Documentation/arch/x86/boot.rst): -append is the command line (without the
 * file name, unlike Multiboot), one -initrd is the initial ramdisk. The fake kernels here
 * read boot_params (RSI at the 64-bit entry, startup_64 = load address + 200H) and write a
 * byte of what they find to isa-debug-exit, so the exit status shows what they got.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lines, missing, pinvm } from "./run-cli.js";

/** boot_params offsets (zero page): cmd_line_ptr, ramdisk_image. */
const CMD_LINE_PTR = 0x228;
const RAMDISK_IMAGE = 0x218;

/** A bzImage (protocol 2.15, relocatable, 64-bit entry) whose startup_64 is `code`. */
function fakeBzImage(code: number[]): Uint8Array {
  const kernelOffset = 2 * 512; // boot sector + setup_sects = 1
  const image = new Uint8Array(kernelOffset + 0x1000);
  const v = new DataView(image.buffer);
  image[0x1f1] = 1; // setup_sects
  v.setUint32(0x1f4, 0x1000 / 16, true); // syssize
  v.setUint16(0x1fe, 0xaa55, true); // boot_flag
  image.set([0xeb, 0x6a], 0x200); // jump over the header
  v.setUint32(0x202, 0x53726448, true); // "HdrS"
  v.setUint16(0x206, 0x20f, true); // version 2.15
  image[0x211] = 0x01; // loadflags: LOADED_HIGH
  v.setUint32(0x214, 0x100000, true); // code32_start
  v.setUint32(0x22c, 0x7fffffff, true); // initrd_addr_max
  v.setUint32(0x230, 0x200000, true); // kernel_alignment
  image[0x234] = 1; // relocatable_kernel
  v.setUint16(0x236, 0x1, true); // xloadflags: XLF_KERNEL_64
  v.setUint32(0x238, 255, true); // cmdline_size
  v.setBigUint64(0x258, 0x1000000n, true); // pref_address
  v.setUint32(0x260, 0x20000, true); // init_size
  image.set(code, kernelOffset + 0x200);
  return image;
}

/** mov eax, [rsi+field]; movzx eax, byte [rax]; out 0F4H, al; hlt. */
function firstByteOf(field: number): number[] {
  return [0x8b, 0x86, field & 0xff, field >> 8, 0, 0, 0x0f, 0xb6, 0x00, 0xe6, 0xf4, 0xf4];
}

test("a bzImage gets -append as its command line, without the file name", { skip: missing() }, () => {
  const dir = mkdtempSync(join(tmpdir(), "pinvm-linux-"));
  try {
    const kernel = join(dir, "bzImage");
    writeFileSync(kernel, fakeBzImage(firstByteOf(CMD_LINE_PTR)));
    const r = pinvm(["-kernel", kernel, "-append", "A console=ttyS0", "-device", "isa-debug-exit"]);
    assert.equal(r.status, (0x41 << 1) | 1, r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a bzImage gets one -initrd as its ramdisk; two are refused", { skip: missing() }, () => {
  const dir = mkdtempSync(join(tmpdir(), "pinvm-linux-"));
  try {
    const kernel = join(dir, "bzImage");
    const initrd = join(dir, "initrd.img");
    writeFileSync(kernel, fakeBzImage(firstByteOf(RAMDISK_IMAGE)));
    writeFileSync(initrd, Uint8Array.of(0x5a, 1, 2, 3));
    const r = pinvm(["-kernel", kernel, "-initrd", initrd, "-device", "isa-debug-exit"]);
    assert.equal(r.status, (0x5a << 1) | 1, r.stderr);
    const two = pinvm(["-kernel", kernel, "-initrd", `${initrd},${initrd}`]);
    assert.equal(two.status, 1);
    assert.deepEqual(lines(two.stderr), [
      `pinvm: -kernel '${kernel}': a Linux kernel takes one -initrd file, not 2`,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
