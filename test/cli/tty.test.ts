/**
 * The console in a real terminal, through the command: pinvm runs in a pseudo-terminal
 * (Python's pty module drives it; the test is skipped without python3). A -bios guest
 * prints "ready", then echoes every byte it receives on COM1 in upper case. In raw mode the
 * keys reach the guest one by one without Enter and the terminal does not echo them itself;
 * Ctrl-A x ends pinvm with status 0 (as QEMU's stdio multiplexer); afterwards the terminal
 * is back in canonical mode with echo (`stty -a`). From a pipe, a whole line arrives at once
 * and reaches the guest byte by byte as it reads them (no overrun of the UART's one-byte
 * holding register with FIFOs off), as QEMU delivers it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assemble } from "../helpers/asm.js";
import { CLI, missing, pinvm } from "./run-cli.js";

/**
 * Real mode from the reset vector (SDM Vol.3 9.1.4): a 4 KiB image ending at 1 MiB, CS base F0000H.
 * Polls COM1 with FIFOs off, echoes a-z in upper case, and writes 'q' (71H) to isa-debug-exit.
 */
const ECHO_BIOS = `
start:
  mov dx, 0x3f8
  mov si, offset msg
1:
  cs lodsb
  test al, al
  jz 2f
  out dx, al
  jmp 1b
2:
  mov dx, 0x3fd
  in al, dx
  test al, 1
  jz 2b
  mov dx, 0x3f8
  in al, dx
  cmp al, 0x71
  jne 4f
  out 0xf4, al
4:
  cmp al, 0x61
  jb 3f
  cmp al, 0x7a
  ja 3f
  xor al, 0x20
3:
  out dx, al
  jmp 2b
msg:
  .ascii "ready\\r\\n"
  .byte 0
.org 0xff0
  jmp start
.org 0x1000
`;

const DRIVER = `
import os, pty, sys, select, signal
signal.alarm(60)
pid, fd = pty.fork()
if pid == 0:
    os.execvp("sh", ["sh", "-c", sys.argv[1]])
out = b""
def read_until(token):
    global out
    while token not in out:
        r, _, _ = select.select([fd], [], [], 30)
        if not r:
            raise SystemExit("timed out waiting for %r, got %r" % (token, out))
        try:
            data = os.read(fd, 4096)
        except OSError:
            raise SystemExit("pty closed waiting for %r, got %r" % (token, out))
        if not data:
            raise SystemExit("eof waiting for %r" % token)
        out += data
read_until(b"ready")
os.write(fd, b"abc")
read_until(b"ABC")
os.write(fd, b"\\x01x")
read_until(b"END-OF-STTY")
os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
`;

const python = spawnSync("python3", ["-c", "import pty"]);
const noPython = python.status === 0 ? undefined : "python3 with the pty module is not available";

test(
  "terminal: raw mode (keys reach the guest without Enter, no echo), Ctrl-A x quits with status 0, the terminal is restored",
  { skip: missing() ?? noPython },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "pinvm-tty-"));
    try {
      const image = assemble(ECHO_BIOS, 16, 0xf000);
      assert.equal(image.length, 0x1000);
      const bios = join(dir, "echo.rom");
      writeFileSync(bios, image);
      const command =
        `stty sane; '${process.execPath}' '${CLI}' -bios '${bios}' -nographic; echo "status=$?"; ` +
        `stty -a; echo END-OF-STTY`;
      const r = spawnSync("python3", ["-c", DRIVER, command], { encoding: "latin1", timeout: 90_000 });
      assert.equal(r.status, 0, `driver: ${r.stderr}\n${r.stdout}`);
      const out = r.stdout;
      assert.match(out, /ready\r*\n/);
      assert.match(out, /ABC/, "each key reached the guest before any Enter");
      assert.doesNotMatch(out, /abc/, "the terminal did not echo the keys (raw mode)");
      assert.match(out, /status=0\r\n/, "Ctrl-A x: status 0");
      const stty = out.slice(out.indexOf("status=0"));
      assert.match(stty, /(^|\s)icanon(\s|$)/m, "canonical mode restored");
      assert.match(stty, /(^|\s)echo(\s|$)/m, "echo restored");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "pipe: a line written at once reaches a polling guest whole, with FIFOs off (no overrun)",
  { skip: missing() },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "pinvm-tty-"));
    try {
      const bios = join(dir, "echo.rom");
      writeFileSync(bios, assemble(ECHO_BIOS, 16, 0xf000));
      const r = pinvm(["-bios", bios, "-device", "isa-debug-exit"], { input: "hello, world\nq" });
      assert.equal(r.status, (0x71 << 1) | 1, r.stderr);
      assert.equal(r.stdout, "ready\r\nHELLO, WORLD\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
