/**
 * RAM above 4 GiB end to end: guests/highmem.c booted with 5 GiB of RAM on the pc and q35
 * machines reads the Multiboot memory map and the CMOS memory-size bytes, then writes and
 * reads the first and last pages of the RAM at 4 GiB through 4-level paging. Under pinvm the
 * map must be QEMU's split (pc: 3 GiB + 2 GiB, q35: 2 GiB + 3 GiB) and every check must pass.
 * Under QEMU (the oracle, when installed) the same image must report the same RAM at 4 GiB,
 * the same CMOS bytes and the same checks. QEMU's map differs below 4 GiB and above the RAM
 * because SeaBIOS reserves its own areas (the top 128 KiB of low RAM, the BIOS ROM at
 * FFFC0000H, on q35 the MMCONFIG window and the chipset's RCRB) and QEMU 7.1+ reserves the
 * AMD HyperTransport window at FD_0000_0000H; pinvm has no BIOS in RAM and models none of
 * those, so only the RAM entries at and above 4 GiB are compared.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PcMachine } from "../../src/vmm/machine.js";
import { loadMultiboot } from "../../src/vmm/loaders/load-multiboot.js";
import { DEBUG_EXIT_PORT, qemuAvailable, repoRoot, runUnderQemu } from "../oracle/qemu.js";

const ELF = join(repoRoot(), "guests", "build", "highmem.elf");
const skip = existsSync(ELF) ? undefined : "guests/build/highmem.elf not built (make -C guests)";
const qemuSkip = skip ?? (qemuAvailable() ? undefined : "qemu-system-x86_64 not installed");
const GiB = 2 ** 30;

function runPinvm(machineType: "pc" | "q35"): string[] {
  let serial = "";
  const machine = new PcMachine({
    memoryBytes: 5 * GiB,
    machineType,
    serial: (b) => (serial += String.fromCharCode(b)),
    debugExit: { iobase: DEBUG_EXIT_PORT, iosize: 4 },
    noReboot: true,
    rtcStartMs: 0,
  });
  loadMultiboot(machine, readFileSync(ELF), { commandLine: ELF });
  const result = machine.run({ maxInstructions: 50_000_000 });
  assert.equal(result.kind, "debug-exit", JSON.stringify(result));
  return serial.split("\n").filter((l) => l !== "");
}

/** The lines both sides must agree on: RAM at 4 GiB and up, CMOS, the checks. */
function comparable(lines: string[]): string[] {
  return lines.filter(
    (l) =>
      (/^mmap /.test(l) && l.endsWith(" 1") && parseInt(l.split(" ")[1], 16) >= 2 ** 32) ||
      /^(cmos-|ok |FAIL|SUMMARY)/.test(l),
  );
}

for (const [machineType, below, above] of [
  ["pc", 3, 2],
  ["q35", 2, 3],
] as const) {
  test(
    `-M ${machineType} -m 5G: the guest sees ${below} GiB + ${above} GiB and uses RAM at 4 GiB`,
    { skip },
    () => {
      const lines = runPinvm(machineType);
      const hex = (n: number) => n.toString(16);
      assert.ok(lines.includes(`mem 27f ${hex((below * GiB - 2 ** 20) / 1024)} 0`), lines.join("\n"));
      assert.ok(lines.includes(`mmap 100000 ${hex(below * GiB - 2 ** 20)} 1`), lines.join("\n"));
      assert.ok(lines.includes(`mmap 100000000 ${hex(above * GiB)} 1`), lines.join("\n"));
      assert.ok(lines.includes(`cmos-16m-4g ${hex((below * GiB - 16 * 2 ** 20) / 65536)} 0 0`));
      assert.ok(lines.includes(`cmos-above-4g ${hex((above * GiB) / 65536)} 0 0`));
      assert.ok(lines.includes("SUMMARY pass=4 fail=0 skip=0"), lines.join("\n"));
    },
  );

  test(
    `-M ${machineType} -m 5G: RAM at 4 GiB, CMOS and checks as under QEMU`,
    { skip: qemuSkip },
    async () => {
      const q = await runUnderQemu(ELF, {
        memMiB: 5 * 1024,
        timeoutMs: 120_000,
        extraArgs: ["-M", machineType],
      });
      assert.equal(q.timedOut, false, q.stderr);
      const qemuLines = q.serial.split("\n").filter((l) => l !== "");
      assert.deepEqual(comparable(runPinvm(machineType)), comparable(qemuLines), q.serial);
    },
  );
}
