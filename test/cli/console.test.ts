/**
 * The stdio console's input side: in a terminal, keys go to the serial port and Ctrl-A is
 * the escape (x quits, Ctrl-A sends one Ctrl-A), as QEMU's stdio multiplexer; from a pipe,
 * every byte goes to the serial port as it is.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { StdinConsole } from "../../src/cli/console.js";

function consoleWith(isTTY: boolean) {
  const received: number[] = [];
  let quits = 0;
  const stdin = Object.assign(new PassThrough(), { isTTY }) as unknown as NodeJS.ReadStream;
  const stderr = Object.assign(new PassThrough(), {}) as unknown as NodeJS.WriteStream;
  const c = new StdinConsole(
    { receive: (b) => received.push(b), quit: () => quits++, wake: () => {} },
    stdin,
    stderr,
  );
  return { c, received, quits: () => quits };
}

test("terminal: keys go to the serial port; C-a C-a sends 01H; C-a x quits", () => {
  const { c, received, quits } = consoleWith(true);
  c.input(Uint8Array.from([0x68, 0x69, 0x0d, 0x01, 0x01, 0x41]));
  assert.deepEqual(received, [0x68, 0x69, 0x0d, 0x01, 0x41]);
  assert.equal(quits(), 0);
  c.input(Uint8Array.from([0x01]));
  c.input(Uint8Array.from([0x78])); // the escape spans two reads
  assert.equal(quits(), 1);
  assert.deepEqual(received, [0x68, 0x69, 0x0d, 0x01, 0x41], "neither C-a nor x reached the guest");
});

test("pipe: every byte goes to the serial port, Ctrl-A included", () => {
  const { c, received, quits } = consoleWith(false);
  c.input(Uint8Array.from([0x01, 0x78, 0x0a]));
  assert.deepEqual(received, [0x01, 0x78, 0x0a]);
  assert.equal(quits(), 0);
});
