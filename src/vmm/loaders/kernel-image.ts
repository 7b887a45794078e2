/**
 * QEMU's `-kernel`, `-initrd`, `-append` and `-bios` as one boot description: tells a kernel
 * image's format by its content and hands it to the right loader.
 *
 * - A Multiboot v1 header (magic 1BADB002H, 4-byte aligned) in the first 8 KiB: the Multiboot
 *   loader (spec section 3.1.1); the command line is "FILE APPEND" and every -initrd entry is
 *   a module whose string is the entry's text, as QEMU's Multiboot loader does.
 * - "HdrS" at offset 202H: a Linux bzImage (Linux boot protocol, the setup header); the
 *   command line is APPEND and at most one -initrd entry is its initial ramdisk.
 * - An ELF executable (7F 'E' 'L' 'F'): loaded by its program headers and entered in 32-bit
 *   protected mode or 64-bit mode; it takes no command line and no modules.
 * - `-bios`: a flat image run from the reset vector (flat.ts).
 *
 * Anything else is a LoaderError naming the file and what was expected. `bootFunction`
 * returns the callback PcMachine.setBoot runs at power-on and after every reset.
 */
import type { PcMachine } from "../machine.js";
import { bootTargetOf, LoaderError } from "./common.js";
import { loadElf } from "./elf.js";
import { loadFlatBios } from "./flat.js";
import { loadLinux } from "./linux.js";
import { loadMultiboot } from "./load-multiboot.js";
import { MULTIBOOT_HEADER_MAGIC, MULTIBOOT_SEARCH_LIMIT } from "./multiboot.js";
import { DEFAULT_RSDP_ADDRESS } from "../firmware/acpi-tables.js";

/** One -initrd entry with its contents. */
export interface BootModule {
  /** Its text as given: the file name, then optional arguments. */
  commandLine: string;
  /** The file's bytes. */
  data: Uint8Array;
}

/** What a machine boots. The bytes are held, so a reboot does not read the files again. */
export type BootImage =
  /** A kernel loaded directly (-kernel), with -append and -initrd. */
  | { kind: "kernel"; name: string; image: Uint8Array; append?: string; modules: BootModule[] }
  /** A flat firmware image (-bios). */
  | { kind: "bios"; name: string; image: Uint8Array };

/** The formats -kernel takes. */
export type KernelFormat = "multiboot" | "linux" | "elf";

/** Offset of the "HdrS" magic in a bzImage's setup header. */
const LINUX_HDRS_OFFSET = 0x202;

/** Tells the format of a kernel image by its content, or null when it is none of them. */
export function kernelFormatOf(image: Uint8Array): KernelFormat | null {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const limit = Math.min(MULTIBOOT_SEARCH_LIMIT, image.byteLength);
  for (let offset = 0; offset + 4 <= limit; offset += 4) {
    if (view.getUint32(offset, true) === MULTIBOOT_HEADER_MAGIC) return "multiboot";
  }
  if (image.byteLength >= LINUX_HDRS_OFFSET + 4 && view.getUint32(LINUX_HDRS_OFFSET, false) === 0x48647253) {
    return "linux";
  }
  if (image.byteLength >= 4 && view.getUint32(0, false) === 0x7f454c46) return "elf";
  return null;
}

/**
 * Loads `boot` into `machine` and readies the boot vCPU. Throws LoaderError, whose message
 * names the file, for an image that is malformed, of no known format, or does not fit.
 */
export function loadBootImage(machine: PcMachine, boot: BootImage): void {
  const target = bootTargetOf(machine.vm, machine.vcpu);
  try {
    if (boot.kind === "bios") {
      loadFlatBios(target, boot.image);
      return;
    }
    const format = kernelFormatOf(boot.image);
    switch (format) {
      case "multiboot":
        loadMultiboot(machine, boot.image, {
          commandLine: boot.append ? `${boot.name} ${boot.append}` : boot.name,
          modules: boot.modules.map((m) => ({ data: m.data, string: m.commandLine })),
        });
        return;
      case "linux":
        if (boot.modules.length > 1) {
          throw new LoaderError(`a Linux kernel takes one -initrd file, not ${boot.modules.length}`);
        }
        loadLinux(target, boot.image, {
          commandLine: boot.append ?? "",
          initrd: boot.modules[0]?.data,
          // The Machine writes the RSDP at its default place (machine.ts installFirmware).
          acpiRsdpAddress: DEFAULT_RSDP_ADDRESS,
        });
        return;
      case "elf":
        if (boot.modules.length > 0)
          throw new LoaderError("-initrd needs a Multiboot or Linux kernel, not a plain ELF");
        if (boot.append !== undefined) {
          throw new LoaderError(
            "-append needs a Multiboot or Linux kernel: a plain ELF gets no command line",
          );
        }
        loadElf(target, boot.image);
        return;
      case null:
        throw new LoaderError(
          "not a kernel pinvm can boot: expected a Multiboot v1 image (header magic 0x1badb002 in the " +
            "first 8 KiB), a Linux bzImage ('HdrS' at offset 0x202) or an ELF executable",
        );
    }
  } catch (e) {
    if (e instanceof LoaderError)
      throw new LoaderError(`${boot.kind === "bios" ? "-bios" : "-kernel"} '${boot.name}': ${e.message}`);
    throw e;
  }
}

/** The callback for PcMachine.setBoot: loads `boot` at power-on and again after each reset. */
export function bootFunction(boot: BootImage): (machine: PcMachine) => void {
  return (machine) => loadBootImage(machine, boot);
}

/** What bootMachine booted, per machine (for snapshots, which store it). */
const booted = new WeakMap<PcMachine, BootImage>();

/**
 * Boots `machine` from `boot` now and after every reset (PcMachine.setBoot), and remembers
 * what it booted for bootImageOf. Throws LoaderError as loadBootImage.
 */
export function bootMachine(machine: PcMachine, boot: BootImage): void {
  machine.setBoot(bootFunction(boot));
  booted.set(machine, boot);
}

/** What bootMachine booted on `machine`, or undefined. */
export function bootImageOf(machine: PcMachine): BootImage | undefined {
  return booted.get(machine);
}
