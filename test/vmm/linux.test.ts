/**
 * Tests of the Linux boot-protocol loader (Documentation/arch/x86/boot.rst): a synthetic
 * bzImage entered at its 64-bit (load + 200H) and 32-bit entries on a real hypervisor VM,
 * boot_params read back from guest memory at the documented offsets (e820 at 1E8H/2D0H,
 * cmd_line_ptr 228H, ramdisk 218H/21CH, type_of_loader 210H), every malformed header
 * refused, and the setup header of the installed Debian kernel (/boot/vmlinuz-*), which is
 * also started for a few million instructions.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { Hypervisor } from "../../src/hv/index.js";
import { bootTargetOf, LoaderError } from "../../src/vmm/loaders/common.js";
import { loadLinux, parseLinuxHeader } from "../../src/vmm/loaders/linux.js";
import { E820Type, pcE820Map, qemuPcRamSplit } from "../../src/vmm/firmware/e820.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const G4 = 4 * GiB;

interface FakeKernel {
  version?: number;
  loadflags?: number;
  xloadflags?: number;
  setupSects?: number;
  prefAddress?: number;
  initSize?: number;
  kernelAlignment?: number;
  relocatable?: number;
  cmdlineSize?: number;
  initrdAddrMax?: number;
  syssizeExtra?: number;
}

/**
 * A bzImage: setup sectors with the header fields at their boot.rst offsets, then a
 * protected-mode part with MOV EAX,ESI; HLT at 0 (32-bit entry) and MOV RAX,RSI; HLT at
 * 200H (64-bit entry).
 */
function fakeBzImage(k: FakeKernel = {}): Uint8Array {
  const setupSects = k.setupSects ?? 1;
  const kernelOffset = ((setupSects || 4) + 1) * 512;
  const image = new Uint8Array(kernelOffset + 0x1000);
  const v = new DataView(image.buffer);
  image[0x1f1] = setupSects;
  v.setUint16(0x1fe, 0xaa55, true);
  image[0x200] = 0xeb; // JMP rel8 to the end of the header
  image[0x201] = 0x6a; // header ends at 202H + 6AH = 26CH
  v.setUint32(0x202, 0x53726448, true);
  v.setUint16(0x206, k.version ?? 0x20f, true);
  v.setUint16(0x20e, 0x300 - 0x200, true); // kernel_version string at 300H
  image.set(
    Array.from("6.99.0-fake", (c) => c.charCodeAt(0)),
    0x300,
  );
  image[0x211] = k.loadflags ?? 0x01;
  v.setUint32(0x214, 0x100000, true);
  v.setUint32(0x22c, k.initrdAddrMax ?? 0x7fffffff, true);
  v.setUint32(0x230, k.kernelAlignment ?? 0x200000, true);
  image[0x234] = k.relocatable ?? 1;
  v.setUint16(0x236, k.xloadflags ?? 0x1, true);
  v.setUint32(0x238, k.cmdlineSize ?? 255, true);
  v.setBigUint64(0x258, BigInt(k.prefAddress ?? 0x1000000), true);
  v.setUint32(0x260, k.initSize ?? 0x20000, true);
  v.setUint32(0x1f4, 0x1000 / 16 + (k.syssizeExtra ?? 0), true);
  image.set([0x89, 0xf0, 0xf4], kernelOffset); // startup_32: MOV EAX,ESI; HLT
  image.set([0x48, 0x89, 0xf0, 0xf4], kernelOffset + 0x200); // startup_64: MOV RAX,RSI; HLT
  return image;
}

function machine(memoryBytes = 32 * MiB) {
  const vm = new Hypervisor().createVm({ memoryBytes });
  const vcpu = vm.createVcpu(0);
  return { vm, vcpu, target: bootTargetOf(vm, vcpu) };
}

function u32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(at, true);
}

test("64-bit entry: kernel at pref_address, RIP = load + 200H, RSI = boot_params, long mode", () => {
  const { vm, vcpu, target } = machine();
  const image = fakeBzImage();
  const initrd = new Uint8Array(0x3456).fill(0x5a);
  const info = loadLinux(target, image, {
    commandLine: "console=ttyS0 quiet",
    initrd,
    acpiRsdpAddress: 0xe0000,
  });
  assert.equal(info.loadAddress, 0x1000000);
  assert.equal(info.entry, 0x1000200);
  assert.deepEqual(Array.from(vm.readPhysical(0x1000200, 4)), [0x48, 0x89, 0xf0, 0xf4]);
  const s = vcpu.getSregs();
  assert.equal(s.cs.selector, 0x10);
  assert.equal(s.cs.l, 1);
  assert.equal(s.ds.selector, 0x18);
  assert.equal(s.ss.selector, 0x18);
  assert.equal(s.efer & 0x400n, 0x400n, "LMA");
  // The GDT in memory holds a flat 64-bit code descriptor at 10H and flat data at 18H.
  const gdt = vm.readPhysical(Number(s.gdt.base), s.gdt.limit + 1);
  assert.equal(u32(gdt, 0x14) & 0x00ff_ff00, 0x00af_9b00, "__BOOT_CS: P, S, type B, L, G");
  assert.equal(u32(gdt, 0x1c) & 0x00ff_ff00, 0x00cf_9300, "__BOOT_DS: P, S, type 3, D/B, G");
  const regs = vcpu.getRegs();
  assert.equal(regs.rsi, BigInt(info.bootParamsAddress));
  assert.equal(regs.rflags & 0x200n, 0n, "interrupts disabled");
  assert.equal(vcpu.run(100).kind, "hlt");
  assert.equal(vcpu.getRegs().rax, BigInt(info.bootParamsAddress));

  const zp = vm.readPhysical(info.bootParamsAddress, 0x1000);
  assert.equal(zp[0x210], 0xff, "type_of_loader");
  assert.equal(u32(zp, 0x202), 0x53726448, "setup header copied");
  assert.equal(new DataView(zp.buffer).getUint16(0x206, true), 0x20f);
  const cmdline = u32(zp, 0x228);
  assert.equal(String.fromCharCode(...vm.readPhysical(cmdline, 20)), "console=ttyS0 quiet\0");
  const ramdisk = u32(zp, 0x218);
  assert.equal(u32(zp, 0x21c), initrd.length);
  assert.equal(ramdisk % 4096, 0, "page-aligned");
  assert.ok(
    ramdisk + initrd.length <= 32 * MiB && ramdisk + initrd.length > 32 * MiB - 4096,
    "as high as RAM allows",
  );
  assert.deepEqual(vm.readPhysical(ramdisk, initrd.length), initrd);
  assert.equal(new DataView(zp.buffer).getBigUint64(0x70, true), 0xe0000n, "acpi_rsdp_addr");
  // e820: entries at 1E8H, 20-byte records at 2D0H.
  const expected = pcE820Map(qemuPcRamSplit(32 * MiB));
  assert.equal(zp[0x1e8], expected.length);
  const view = new DataView(zp.buffer);
  expected.forEach((e, i) => {
    assert.equal(view.getBigUint64(0x2d0 + 20 * i, true), BigInt(e.base));
    assert.equal(view.getBigUint64(0x2d0 + 20 * i + 8, true), BigInt(e.length));
    assert.equal(view.getUint32(0x2d0 + 20 * i + 16, true), e.type);
  });
});

test("32-bit entry: EIP = load address, ESI = boot_params, paging off, __BOOT_CS/__BOOT_DS", () => {
  const { vm, vcpu, target } = machine();
  const info = loadLinux(target, fakeBzImage(), { entry: "32" });
  assert.equal(info.entry, 0x1000000);
  const s = vcpu.getSregs();
  assert.equal(s.cr0 & 0x8000_0001n, 1n, "PE, no PG");
  assert.equal(s.efer, 0n);
  assert.equal(s.cs.selector, 0x10);
  assert.equal(s.cs.db, 1);
  const gdt = vm.readPhysical(Number(s.gdt.base), s.gdt.limit + 1);
  assert.equal(u32(gdt, 0x14) & 0x00ff_ff00, 0x00cf_9b00, "__BOOT_CS: 32-bit flat code");
  const r = vcpu.getRegs();
  assert.deepEqual([r.rbx, r.rbp, r.rdi], [0n, 0n, 0n]);
  assert.equal(vcpu.run(100).kind, "hlt");
  assert.equal(vcpu.getRegs().rax, BigInt(info.bootParamsAddress));
  const zp = vm.readPhysical(info.bootParamsAddress, 0x1000);
  assert.equal(u32(zp, 0x218), 0, "no initrd");
  assert.equal(vm.readPhysical(u32(zp, 0x228), 1)[0], 0, "empty command line");
});

test("a relocatable kernel that does not fit at pref_address goes to the first aligned address above 1 MiB", () => {
  const { target } = machine(8 * MiB);
  assert.equal(loadLinux(target, fakeBzImage()).loadAddress, 0x200000);
  assert.throws(() => loadLinux(machine(8 * MiB).target, fakeBzImage({ relocatable: 0 })), /RAM ends at/);
  // A non-relocatable kernel is loaded at 1 MiB and needs init_size bytes at pref_address.
  assert.equal(loadLinux(machine().target, fakeBzImage({ relocatable: 0 })).loadAddress, 0x100000);
  // setup_sects 0 means 4.
  assert.equal(parseLinuxHeader(fakeBzImage({ setupSects: 0 })).kernelOffset, 5 * 512);
});

test("malformed kernels and impossible requests are refused with a LoaderError", () => {
  const good = fakeBzImage();
  const patched = (at: number, bytes: number[]) => {
    const copy = good.slice();
    copy.set(bytes, at);
    return copy;
  };
  const cases: [string, () => unknown, RegExp][] = [
    ["too short", () => parseLinuxHeader(good.subarray(0, 0x100)), /too short/],
    ["bad boot_flag", () => parseLinuxHeader(patched(0x1fe, [0, 0])), /boot_flag/],
    ["no HdrS", () => parseLinuxHeader(patched(0x202, [0x48, 0x64, 0x72, 0x54])), /HdrS/],
    ["protocol 2.05", () => parseLinuxHeader(fakeBzImage({ version: 0x205 })), /2\.05 is too old/],
    ["zImage", () => parseLinuxHeader(fakeBzImage({ loadflags: 0 })), /zImage/],
    ["truncated kernel", () => parseLinuxHeader(fakeBzImage({ syssizeExtra: 1 })), /truncated/],
    ["truncated header", () => parseLinuxHeader(good.subarray(0, 0x240)), /truncated/],
    ["no kernel after setup", () => parseLinuxHeader(good.subarray(0, 1024)), /truncated/],
    [
      "no 64-bit entry",
      () => loadLinux(machine().target, fakeBzImage({ xloadflags: 0 }), { entry: "64" }),
      /XLF_KERNEL_64/,
    ],
    [
      "command line too long",
      () => loadLinux(machine().target, good, { commandLine: "x".repeat(256) }),
      /cmdline_size/,
    ],
    [
      "non-ASCII command line",
      () => loadLinux(machine().target, good, { commandLine: "root=/dev/vda \u00e9" }),
      /ASCII/,
    ],
    [
      "initrd too big",
      () => loadLinux(machine().target, good, { initrd: new Uint8Array(16 * MiB) }),
      /initrd/,
    ],
    [
      "initrd_addr_max below the kernel",
      () =>
        loadLinux(machine().target, fakeBzImage({ initrdAddrMax: 0xfffff }), { initrd: new Uint8Array(10) }),
      /initrd/,
    ],
    [
      "RSDP with protocol 2.13",
      () => loadLinux(machine().target, fakeBzImage({ version: 0x20d }), { acpiRsdpAddress: 0xe0000 }),
      /2\.14/,
    ],
  ];
  for (const [name, run, message] of cases) {
    assert.throws(run, (e: unknown) => e instanceof LoaderError && message.test(e.message), name);
  }
  // Without XLF_KERNEL_64 the default entry is the 32-bit one.
  assert.equal(loadLinux(machine().target, fakeBzImage({ xloadflags: 0 })).mode, "32");
});

const bootDir = "/boot";
const vmlinuz = existsSync(bootDir)
  ? readdirSync(bootDir)
      .filter((f) => f.startsWith("vmlinuz-"))
      .sort()
      .at(-1)
  : undefined;

test(
  "the installed Debian kernel's setup header",
  { skip: vmlinuz ? false : "no /boot/vmlinuz-* (apt-get install linux-image-amd64 to run this test)" },
  () => {
    const image = new Uint8Array(readFileSync(`${bootDir}/${vmlinuz}`));
    const h = parseLinuxHeader(image);
    assert.ok(h.version >= 0x20c, `protocol 2.${(h.version & 0xff).toString(16)}`);
    assert.ok(h.xloadflags & 1, "XLF_KERNEL_64");
    assert.ok(h.loadflags & 1, "LOADED_HIGH");
    assert.ok(h.relocatable);
    const release = vmlinuz!.slice("vmlinuz-".length);
    assert.ok(
      h.kernelVersion?.startsWith(release),
      `kernel_version string "${h.kernelVersion}" names ${release}`,
    );
    assert.ok(h.kernelAlignment >= 4096 && (h.kernelAlignment & (h.kernelAlignment - 1)) === 0);
    assert.equal(h.prefAddress % h.kernelAlignment, 0);
    assert.ok(h.initSize > image.length - h.kernelOffset, "init_size covers the decompression");
    assert.ok(h.cmdlineSize >= 255);
  },
);

test(
  "the installed Debian kernel starts at startup_64 without faulting",
  { skip: vmlinuz ? false : "no /boot/vmlinuz-* (apt-get install linux-image-amd64 to run this test)" },
  () => {
    const image = new Uint8Array(readFileSync(`${bootDir}/${vmlinuz}`));
    const { vcpu, target } = machine(256 * MiB);
    const info = loadLinux(target, image, { commandLine: "console=ttyS0 earlyprintk=serial" });
    assert.equal(info.entry, info.loadAddress + 0x200);
    const exit = vcpu.run(2_000_000);
    assert.notEqual(exit.kind, "shutdown", JSON.stringify(exit));
  },
);

test("Linux boot_params e820 lists the RAM at 4 GiB", () => {
  const vm = new Hypervisor().createVm({ memoryBytes: 5 * GiB, lowMemoryBytes: 3 * GiB });
  const vcpu = vm.createVcpu(0);
  const image = fakeBzImage({ xloadflags: 0x3 });
  const info = loadLinux(bootTargetOf(vm, vcpu), image, { commandLine: "" });
  const zp = vm.readPhysical(info.bootParamsAddress, 0x1000);
  const view = new DataView(zp.buffer);
  const expected = pcE820Map({ belowFourGiB: 3 * GiB, aboveFourGiB: 2 * GiB });
  assert.equal(zp[0x1e8], expected.length);
  const last = expected.length - 1;
  assert.equal(view.getBigUint64(0x2d0 + 20 * last, true), BigInt(G4));
  assert.equal(view.getBigUint64(0x2d0 + 20 * last + 8, true), BigInt(2 * GiB));
  assert.equal(view.getUint32(0x2d0 + 20 * last + 16, true), E820Type.Ram);
});
