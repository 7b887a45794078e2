/**
 * Tests of the PC's reset ports: Reset Control at CF9h (ICH RST_CNT: SYS_RST, RST_CPU 0-to-1,
 * FULL_RST -> soft/hard/full) and System Control Port A at 92h (fast reset edge, A20 bit), with
 * save/load.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ResetControl, type ResetKind } from "../../src/vmm/devices/reset-control.js";
import { Port92 } from "../../src/vmm/devices/port92.js";
import { DeviceStateError } from "../../src/vmm/devices/device-state.js";

test("CF9: RST_CPU 0->1 requests soft (SYS_RST=0), hard (06h) or full (0Eh) reset", () => {
  const kinds: ResetKind[] = [];
  const rc = new ResetControl((k) => kinds.push(k));
  rc.write(0, 1, 0x04);
  assert.deepEqual(kinds, ["soft"]);
  rc.reset();
  rc.write(0, 1, 0x02); // Linux: SYS_RST first ...
  assert.deepEqual(kinds, ["soft"], "no reset without RST_CPU");
  assert.equal(rc.read(0, 1), 0x02);
  rc.write(0, 1, 0x06); // ... then RST_CPU
  assert.deepEqual(kinds, ["soft", "hard"]);
  rc.reset();
  rc.write(0, 1, 0x0e);
  assert.deepEqual(kinds, ["soft", "hard", "full"]);
});

test("CF9: no request while RST_CPU stays 1; reads return bits 1-3", () => {
  const kinds: ResetKind[] = [];
  const rc = new ResetControl((k) => kinds.push(k));
  rc.write(0, 1, 0x06);
  rc.write(0, 1, 0x06);
  assert.equal(kinds.length, 1);
  rc.write(0, 1, 0xff);
  assert.equal(rc.read(0, 1), 0x0e);
  rc.write(0, 1, 0x00);
  rc.write(0, 1, 0x0c);
  assert.deepEqual(kinds, ["hard", "full"]);
});

test("CF9: save/load round trip; bad state refused", () => {
  const rc = new ResetControl();
  rc.write(0, 1, 0x0a);
  const copy = new ResetControl();
  copy.load(rc.save());
  assert.equal(copy.read(0, 1), 0x0a);
  assert.throws(() => copy.load({ version: 1, value: 0x10 }), DeviceStateError);
  assert.throws(() => copy.load({ version: 2, value: 0 }), DeviceStateError);
  assert.throws(() => copy.load(null), DeviceStateError);
  assert.equal(copy.read(0, 1), 0x0a);
});

test("port 92h: bit 0 0->1 requests reset once; bit 1 is the A20 gate", () => {
  let resets = 0;
  const a20: boolean[] = [];
  const p = new Port92({ onReset: () => resets++, onA20: (e) => a20.push(e) });
  assert.equal(p.read(0, 1), 0);
  p.write(0, 1, 0x02);
  assert.equal(p.a20Enabled, true);
  assert.deepEqual(a20, [true]);
  assert.equal(p.read(0, 1), 0x02);
  assert.equal(resets, 0);
  p.write(0, 1, 0x03);
  assert.equal(resets, 1);
  p.write(0, 1, 0x03);
  assert.equal(resets, 1, "no edge, no reset");
  p.write(0, 1, 0x00);
  assert.deepEqual(a20, [true, false]);
  p.write(0, 1, 0x01);
  assert.equal(resets, 2);
  p.reset();
  assert.equal(p.read(0, 1), 0);
});

test("port 92h: save/load round trip; bad state refused", () => {
  const p = new Port92();
  p.write(0, 1, 0x02);
  const copy = new Port92();
  copy.load(JSON.parse(JSON.stringify(p.save())));
  assert.equal(copy.a20Enabled, true);
  assert.throws(() => copy.load({ version: 1, value: 300 }), DeviceStateError);
  assert.throws(() => copy.load({ version: 1 }), DeviceStateError);
  assert.equal(copy.read(0, 1), 0x02);
});
