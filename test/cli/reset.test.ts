/**
 * Every guest reset source through the command, with a -bios image that pinvm runs from the
 * reset vector again after each reset (as a PC's firmware runs again): on its first boot the
 * image leaves a marker in CMOS (byte 40H), masks PIC IRQs (IMR 28H) and triggers the reset;
 * on the second boot it finds the marker and writes the master PIC's IMR to isa-debug-exit.
 * A system reset puts the 8259 in its reset state (IMR 0, as QEMU's pic_reset): status
 * (0 << 1) | 1 = 1. With --soft-reset init, the sources real chipsets make soft resets (CF9
 * with SYS_RST=0, the i8042 pulse, port 92h) send INIT# instead and the devices keep their
 * state: status (28H << 1) | 1 = 81. With -no-reboot every source ends pinvm with status 0
 * (as QEMU 7.2 does) and a message naming it. And --reset-style vmm and vcpu give the same guest output.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guest, missing, pinvm, realModeBios } from "./run-cli.js";
import { spawnSync } from "node:child_process";
import { qemuAvailable, QEMU_BINARY } from "../oracle/qemu.js";

/** The real-mode image with `trigger` on its first boot. */
function resetBios(trigger: string): Uint8Array {
  return realModeBios(
    `
  mov al, 0x40
  out 0x70, al
  in al, 0x71
  cmp al, 0x5a
  je second
  mov al, 0x40
  out 0x70, al
  mov al, 0x5a
  out 0x71, al
  mov al, 0x28
  out 0x21, al
  ${trigger}`,
    `
second:
  in al, 0x21
  out 0xf4, al
  jmp 1b`,
  );
}

/** [name, trigger code, -no-reboot message, soft under --soft-reset init]. */
const SOURCES: [string, string, RegExp, boolean][] = [
  ["CF9 soft reset (04H)", "mov dx, 0xcf9\nmov al, 4\nout dx, al", /guest reset \(cf9-soft\)/, true],
  ["CF9 hard reset (06H)", "mov dx, 0xcf9\nmov al, 6\nout dx, al", /guest reset \(cf9-hard\)/, false],
  ["CF9 full reset (0EH)", "mov dx, 0xcf9\nmov al, 0x0e\nout dx, al", /guest reset \(cf9-full\)/, false],
  ["i8042 pulse (FEH to 64H)", "mov al, 0xfe\nout 0x64, al", /guest reset \(i8042\)/, true],
  ["port 92h bit 0", "in al, 0x92\nor al, 1\nout 0x92, al", /guest reset \(port92\)/, true],
  // Real mode: an IVT limit of 0 makes INT3 #GP, then #DF, then shutdown (SDM Vol.3 6.15).
  [
    "triple fault",
    "push 0\npush 0\npush 0\nmov bp, sp\nlidt [bp]\nint3",
    /guest triple fault \(.*\) at rip=/,
    false,
  ],
];

test(
  "every reset source through the command: reboot, -no-reboot, --soft-reset init",
  { skip: missing() },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "pinvm-reset-"));
    try {
      for (const [name, trigger, message, soft] of SOURCES) {
        const bios = join(dir, "reset.rom");
        writeFileSync(bios, resetBios(trigger));
        const flags = ["-bios", bios, "-device", "isa-debug-exit", "-nodefaults"];
        const reboot = pinvm([...flags, "--trace"]);
        assert.equal(reboot.status, (0 << 1) | 1, `${name}: rebooted, IMR reset\n${reboot.stderr}`);
        assert.match(reboot.stderr, /system reset/, name);

        const stop = pinvm([...flags, "-no-reboot"]);
        assert.equal(stop.status, 0, `${name} -no-reboot\n${stop.stderr}`);
        assert.match(stop.stderr, message, name);
        assert.match(stop.stderr, /-no-reboot given, exiting/, name);

        const init = pinvm([...flags, "--soft-reset", "init"]);
        assert.equal(
          init.status,
          soft ? (0x28 << 1) | 1 : (0 << 1) | 1,
          `${name} --soft-reset init\n${init.stderr}`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("--soft-reset: a bad value is an error naming the flag", { skip: missing() }, () => {
  const r = pinvm(["--soft-reset", "warm"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^pinvm: --soft-reset warm/);
});

test(
  "--reset-style vmm and vcpu: reset_init.elf (which checks its vCPUs' state after a 0xCF9 reset) prints the same",
  { skip: missing("tests/reset_init.elf") },
  () => {
    const run = (style: string) =>
      pinvm([
        "-kernel",
        guest("tests/reset_init.elf"),
        "-device",
        "isa-debug-exit",
        "-smp",
        "2",
        "--cr-pin",
        "jun2020",
        "--reset-style",
        style,
      ]);
    const byVcpu = run("vcpu");
    const byVmm = run("vmm");
    assert.equal(byVcpu.status, 1, byVcpu.stdout + byVcpu.stderr);
    assert.equal(byVmm.status, byVcpu.status);
    assert.equal(byVmm.stdout, byVcpu.stdout);
    assert.match(byVcpu.stdout, /SUMMARY pass=\d+ fail=0 /);
  },
);

test(
  "QEMU oracle: each source's reboot and -no-reboot exit statuses are QEMU's (qemu-system-x86_64 -accel tcg)",
  { skip: missing() ?? (qemuAvailable() ? undefined : `${QEMU_BINARY} not found`) },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "pinvm-reset-qemu-"));
    try {
      for (const [name, trigger] of SOURCES) {
        // QEMU wants a firmware image of a multiple of 64 KiB; it maps it below 1 MiB's end as
        // pinvm maps its 4 KiB, so the image's last 4 KiB are at the same addresses.
        const image = resetBios(trigger);
        const padded = new Uint8Array(0x10000);
        padded.set(image, padded.length - image.length);
        const bios = join(dir, "reset.rom");
        writeFileSync(bios, padded);
        for (const noReboot of [false, true]) {
          const extra = noReboot ? ["-no-reboot"] : [];
          const q = spawnSync(
            QEMU_BINARY,
            ["-accel", "tcg", "-bios", bios, "-display", "none", "-serial", "null", "-nodefaults"].concat(
              ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"],
              extra,
            ),
            { timeout: 30_000 },
          );
          const p = pinvm(["-bios", bios, "-device", "isa-debug-exit", "-nodefaults", ...extra]);
          assert.equal(p.status, q.status, `${name} ${extra.join(" ")}: pinvm ${p.status}, QEMU ${q.status}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
