/**
 * Tests of the 8259A pair against the Intel 8259A datasheet: the ICW1-4 sequence as the PC
 * BIOS and Linux program it, IMR, INTA vectors, priority and ISR blocking, non-specific and
 * specific EOI, rotation, automatic EOI, edge versus level (ELCR) sensing, spurious IRQ7 and
 * IRQ15, the poll command, special mask mode, and save/load.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { I8259Pair } from "../../src/vmm/devices/i8259-pic.js";
import { IrqLevel } from "../../src/vmm/devices/irq.js";
import { DeviceStateError } from "../../src/vmm/devices/device-state.js";

/** Programs the pair as Linux's init_8259A does: vectors 0x20/0x28, cascade on IR2. */
function programmed(icw4 = 0x01): { pic: I8259Pair; intr: IrqLevel } {
  const intr = new IrqLevel();
  const pic = new I8259Pair(intr);
  const m = pic.masterPorts;
  const s = pic.slavePorts;
  m.write(0, 1, 0x11); // ICW1: edge, cascade, ICW4 needed
  m.write(1, 1, 0x20); // ICW2: vector base
  m.write(1, 1, 0x04); // ICW3: slave on IR2
  m.write(1, 1, icw4); // ICW4: 8086 mode
  s.write(0, 1, 0x11);
  s.write(1, 1, 0x28);
  s.write(1, 1, 0x02);
  s.write(1, 1, icw4);
  return { pic, intr };
}

test("8259: ICW1 leaves IMR clear; OCW1 sets and reads IMR", () => {
  const { pic } = programmed();
  assert.equal(pic.masterPorts.read(1, 1), 0x00);
  pic.masterPorts.write(1, 1, 0xfb);
  assert.equal(pic.masterPorts.read(1, 1), 0xfb);
  pic.slavePorts.write(1, 1, 0xff);
  assert.equal(pic.slavePorts.read(1, 1), 0xff);
});

test("8259: an edge on IRQ0 raises INT; INTA returns base+0, sets ISR, EOI clears it", () => {
  const { pic, intr } = programmed();
  pic.setIrq(0, true);
  assert.equal(intr.level, true);
  assert.equal(pic.masterPorts.read(0, 1), 0x01, "IRR (default read) holds IR0");
  assert.equal(pic.acknowledge(), 0x20);
  assert.equal(intr.level, false);
  pic.masterPorts.write(0, 1, 0x0b); // OCW3: read ISR
  assert.equal(pic.masterPorts.read(0, 1), 0x01);
  pic.masterPorts.write(0, 1, 0x20); // non-specific EOI
  assert.equal(pic.masterPorts.read(0, 1), 0x00);
  // The line is still high: an edge input does not re-request until it goes low then high.
  assert.equal(intr.level, false);
  pic.setIrq(0, false);
  pic.setIrq(0, true);
  assert.equal(intr.level, true);
});

test("8259: a masked request stays in IRR and does not raise INT", () => {
  const { pic, intr } = programmed();
  pic.masterPorts.write(1, 1, 0x02);
  pic.setIrq(1, true);
  assert.equal(intr.level, false);
  assert.equal(pic.masterPorts.read(0, 1), 0x02);
  pic.masterPorts.write(1, 1, 0x00);
  assert.equal(intr.level, true);
  assert.equal(pic.acknowledge(), 0x21);
});

test("8259: fully nested priority — IR0 beats IR3; a lower request waits for the EOI", () => {
  const { pic, intr } = programmed();
  pic.setIrq(3, true);
  pic.setIrq(0, true);
  assert.equal(pic.acknowledge(), 0x20);
  assert.equal(intr.level, false, "IR3 is blocked by IR0 in service");
  pic.masterPorts.write(0, 1, 0x20);
  assert.equal(intr.level, true);
  assert.equal(pic.acknowledge(), 0x23);
  // IR1 (higher than IR3 in service) interrupts at once: nesting.
  pic.setIrq(1, true);
  assert.equal(intr.level, true);
  assert.equal(pic.acknowledge(), 0x21);
  pic.masterPorts.write(0, 1, 0x0b);
  assert.equal(pic.masterPorts.read(0, 1), 0x0a);
  pic.masterPorts.write(0, 1, 0x20); // clears the highest: IR1
  assert.equal(pic.masterPorts.read(0, 1), 0x08);
});

test("8259: specific EOI clears the named level only", () => {
  const { pic } = programmed();
  pic.setIrq(4, true);
  pic.acknowledge();
  pic.setIrq(1, true);
  pic.acknowledge();
  pic.masterPorts.write(0, 1, 0x0b);
  assert.equal(pic.masterPorts.read(0, 1), 0x12);
  pic.masterPorts.write(0, 1, 0x64); // specific EOI, level 4
  assert.equal(pic.masterPorts.read(0, 1), 0x02);
});

test("8259: rotate on non-specific EOI makes the serviced level lowest priority", () => {
  const { pic } = programmed();
  pic.setIrq(0, true);
  assert.equal(pic.acknowledge(), 0x20);
  pic.masterPorts.write(0, 1, 0xa0); // rotate on non-specific EOI: IR0 now lowest, IR1 highest
  pic.setIrq(0, false);
  pic.setIrq(0, true);
  pic.setIrq(5, true);
  assert.equal(pic.acknowledge(), 0x25, "IR5 outranks IR0 after rotation");
});

test("8259: set priority command (OCW2 110) makes level L lowest", () => {
  const { pic } = programmed();
  pic.masterPorts.write(0, 1, 0xc4); // IR4 lowest, IR5 highest
  pic.setIrq(4, true);
  pic.setIrq(6, true);
  pic.setIrq(5, true);
  assert.equal(pic.acknowledge(), 0x25);
  pic.masterPorts.write(0, 1, 0x20);
  assert.equal(pic.acknowledge(), 0x26);
  pic.masterPorts.write(0, 1, 0x20);
  assert.equal(pic.acknowledge(), 0x24);
});

test("8259: automatic EOI (ICW4 AEOI) leaves ISR clear", () => {
  const { pic, intr } = programmed(0x03);
  pic.setIrq(1, true);
  assert.equal(pic.acknowledge(), 0x21);
  pic.masterPorts.write(0, 1, 0x0b);
  assert.equal(pic.masterPorts.read(0, 1), 0x00);
  pic.setIrq(3, true);
  assert.equal(intr.level, true, "nothing in service blocks IR3");
});

test("8259: rotate in automatic EOI mode (OCW2 80h) rotates on each INTA; 00h stops it", () => {
  const { pic } = programmed(0x03);
  pic.masterPorts.write(0, 1, 0x80);
  pic.setIrq(0, true);
  assert.equal(pic.acknowledge(), 0x20);
  pic.setIrq(0, false);
  pic.setIrq(0, true);
  pic.setIrq(5, true);
  assert.equal(pic.acknowledge(), 0x25, "IR0 became lowest priority at its INTA");
  pic.masterPorts.write(0, 1, 0x00); // clear rotate in AEOI; IR5 is lowest now
  pic.setIrq(5, false);
  pic.setIrq(5, true);
  assert.equal(pic.acknowledge(), 0x20);
  pic.setIrq(0, false);
  pic.setIrq(0, true);
  assert.equal(pic.acknowledge(), 0x20, "no rotation any more: IR0 still ranks above IR5");
});

test("8259: slave IRQ goes through the cascade: vector base+n, IS2 on master", () => {
  const { pic, intr } = programmed();
  pic.setIrq(12, true);
  assert.equal(intr.level, true);
  assert.equal(pic.acknowledge(), 0x2c);
  pic.masterPorts.write(0, 1, 0x0b);
  pic.slavePorts.write(0, 1, 0x0b);
  assert.equal(pic.masterPorts.read(0, 1), 0x04);
  assert.equal(pic.slavePorts.read(0, 1), 0x10);
  pic.slavePorts.write(0, 1, 0x20);
  pic.masterPorts.write(0, 1, 0x20);
  assert.equal(pic.masterPorts.read(0, 1), 0x00);
  assert.equal(pic.slavePorts.read(0, 1), 0x00);
});

test("8259: level-triggered (ELCR) IRR follows the line; dropping it before INTA gives IRQ7", () => {
  const { pic, intr } = programmed();
  pic.elcrPorts.write(0, 1, 0xff);
  assert.equal(pic.elcrPorts.read(0, 1), 0xf8, "IRQ0-2 cannot be level on the PC");
  pic.setIrq(5, true);
  assert.equal(intr.level, true);
  pic.setIrq(5, false);
  assert.equal(pic.masterPorts.read(0, 1) & 0x20, 0, "IRR bit follows the line");
  assert.equal(intr.level, false);
  // Spurious: INT was seen, the request vanished before INTA -> IR7, no ISR bit.
  pic.setIrq(5, true);
  assert.equal(intr.level, true);
  pic.setIrq(5, false);
  assert.equal(pic.acknowledge(), 0x27);
  pic.masterPorts.write(0, 1, 0x0b);
  assert.equal(pic.masterPorts.read(0, 1), 0x00, "spurious IR7 sets no ISR bit");
  // Still high after EOI: the level input requests again.
  pic.setIrq(5, true);
  assert.equal(pic.acknowledge(), 0x25);
  pic.masterPorts.write(0, 1, 0x20);
  assert.equal(intr.level, true);
});

test("8259: spurious on the slave answers IRQ15 with IS2 set on the master", () => {
  const { pic } = programmed();
  pic.elcrPorts.write(1, 1, 0x02); // IRQ9 level
  pic.setIrq(9, true); // the slave's INT edge is latched in the master's IR2
  assert.equal(pic.masterPorts.read(0, 1) & 0x04, 0x04);
  pic.setIrq(9, false); // the request goes away before the INTA cycle
  assert.equal(pic.slavePorts.read(0, 1), 0x00);
  assert.equal(pic.acknowledge(), 0x2f);
  pic.masterPorts.write(0, 1, 0x0b);
  pic.slavePorts.write(0, 1, 0x0b);
  assert.equal(pic.masterPorts.read(0, 1), 0x04, "master IS2 set");
  assert.equal(pic.slavePorts.read(0, 1), 0x00, "slave ISR clear");
});

test("8259: poll command returns 0x80|level and acknowledges; 0 with nothing pending", () => {
  const { pic, intr } = programmed();
  pic.masterPorts.write(0, 1, 0x0c);
  assert.equal(pic.masterPorts.read(0, 1), 0x00);
  pic.setIrq(6, true);
  pic.masterPorts.write(0, 1, 0x0c);
  assert.equal(pic.masterPorts.read(0, 1), 0x86);
  assert.equal(intr.level, false);
  pic.masterPorts.write(0, 1, 0x0b);
  assert.equal(pic.masterPorts.read(0, 1), 0x40);
});

test("8259: special mask mode lets lower levels in while a masked level is in service", () => {
  const { pic, intr } = programmed();
  pic.setIrq(1, true);
  assert.equal(pic.acknowledge(), 0x21);
  pic.setIrq(4, true);
  assert.equal(intr.level, false);
  pic.masterPorts.write(1, 1, 0x02); // mask IR1
  pic.masterPorts.write(0, 1, 0x68); // OCW3: ESMM|SMM
  assert.equal(intr.level, true);
  assert.equal(pic.acknowledge(), 0x24);
  pic.masterPorts.write(0, 1, 0x48); // reset special mask
  pic.masterPorts.write(0, 1, 0x0b);
  assert.equal(pic.masterPorts.read(0, 1), 0x12);
});

test("8259: special fully nested mode lets a higher slave request through IS2, not IR3", () => {
  const { pic, intr } = programmed(0x11); // ICW4: SFNM | 8086 mode on both
  pic.setIrq(12, true);
  assert.equal(pic.acknowledge(), 0x2c);
  pic.setIrq(3, true);
  assert.equal(intr.level, false, "IR3 ranks below IS2");
  pic.setIrq(9, true);
  assert.equal(intr.level, true, "IRQ9 outranks IRQ12 on the slave and passes IS2 under SFNM");
  assert.equal(pic.acknowledge(), 0x29);
  // Without SFNM the same request waits for the master's EOI.
  const plain = programmed();
  plain.pic.setIrq(12, true);
  plain.pic.acknowledge();
  plain.pic.setIrq(9, true);
  assert.equal(plain.intr.level, false);
});

test("8259: single-mode ICW1 without ICW4 skips ICW3 and ICW4", () => {
  const pic = new I8259Pair();
  pic.masterPorts.write(0, 1, 0x12); // SNGL, no IC4
  pic.masterPorts.write(1, 1, 0x08);
  pic.masterPorts.write(1, 1, 0x5a); // now OCW1
  assert.equal(pic.masterPorts.read(1, 1), 0x5a);
  pic.setIrq(0, true);
  pic.masterPorts.write(1, 1, 0);
  assert.equal(pic.acknowledge(), 0x08);
});

test("8259: save/load round trip; corrupt state refused and device unchanged", () => {
  const { pic } = programmed();
  pic.setIrq(3, true);
  pic.masterPorts.write(1, 1, 0x80);
  const saved = pic.save();
  const copy = new I8259Pair();
  copy.load(JSON.parse(JSON.stringify(saved)));
  assert.deepEqual(copy.save(), saved);
  assert.equal(copy.acknowledge(), 0x23);
  const before = copy.save();
  assert.throws(() => copy.load({ ...saved, version: 2 }), DeviceStateError);
  assert.throws(() => copy.load({ ...saved, slave: { ...saved.slave, imr: 256 } }), DeviceStateError);
  assert.throws(
    () => copy.load({ ...saved, master: { ...saved.master, lowestPriority: 8 } }),
    /lowestPriority/,
  );
  assert.throws(() => copy.load({ ...saved, master: null }), DeviceStateError);
  assert.throws(() => copy.load("x"), DeviceStateError);
  assert.deepEqual(copy.save(), before);
});
