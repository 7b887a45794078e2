/**
 * Tests of the ACPI PM registers (ACPI 6.5 4.8): the PM timer at 3.579545 MHz from a fake
 * clock, its 24-bit wrap and TMR_STS on each toggle of bit 23, write-1-to-clear status, the
 * SCI gated by enable bits and SCI_EN, SLP_EN with S5 powering off, save/load.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PortIoBus } from "../../src/vmm/port-io-bus.js";
import { IrqLevel } from "../../src/vmm/devices/irq.js";
import { DeviceStateError } from "../../src/vmm/devices/device-state.js";
import { AcpiPm, acpiPmBlocks, pmTimerTicks } from "../../src/vmm/devices/acpi-pm.js";
import { buildAcpiTables } from "../../src/vmm/firmware/acpi-tables.js";

function setup(options: { timer32Bit?: boolean; s5SleepType?: number } = {}) {
  const clock = {
    t: 0,
    now() {
      return this.t;
    },
  };
  const sci = new IrqLevel();
  const events: string[] = [];
  const pm = new AcpiPm({
    clock,
    sci,
    onPowerOff: () => events.push("off"),
    onSleep: (type) => events.push(`sleep ${type}`),
    ...options,
  });
  const bus = new PortIoBus();
  bus.register("acpi-pm", 0x600, 12, pm);
  return { clock, sci, events, pm, bus };
}

test("blocks for the FADT: event 600H, control 604H, timer 608H", () => {
  assert.deepEqual(acpiPmBlocks(), {
    eventBlock: 0x600,
    controlBlock: 0x604,
    timerBlock: 0x608,
    timer32Bit: false,
  });
});

test("timer counts 3579545 ticks per second", () => {
  const { clock, bus } = setup();
  assert.equal(bus.read(0x608, 4), 0);
  clock.t = 1_000_000_000;
  assert.equal(bus.read(0x608, 4), 3_579_545 % 2 ** 24);
  clock.t = 1_000; // 1 us = 3.58 ticks
  assert.equal(pmTimerTicks(1_000), 3);
  assert.equal(pmTimerTicks(3_600_000_000_000), 3_579_545 * 3600, "exact after an hour");
});

test("24-bit timer wraps; TMR_STS sets on each bit-23 toggle and clears by writing 1", () => {
  const { clock, bus, sci } = setup();
  const ticksToNs = (ticks: number) => Math.ceil((ticks * 1e9) / 3_579_545);
  clock.t = ticksToNs(0x7fffff) - 1;
  assert.equal(bus.read(0x600, 2) & 1, 0);
  clock.t = ticksToNs(0x800000);
  assert.equal(bus.read(0x600, 2) & 1, 1, "bit 23 went 0->1");
  bus.write(0x600, 2, 1);
  assert.equal(bus.read(0x600, 2) & 1, 0, "cleared");
  clock.t = ticksToNs(0x1000000) + 1000;
  assert.ok(bus.read(0x608, 4) < 0x1000, "wrapped");
  assert.equal(bus.read(0x608, 4) >>> 24, 0, "24 bits");
  assert.equal(bus.read(0x600, 2) & 1, 1, "bit 23 went 1->0");
  assert.equal(sci.level, false, "TMR_EN clear: no SCI");
});

test("SCI follows TMR_STS & TMR_EN while SCI_EN is set; nextDeadline says when", () => {
  const { clock, bus, sci, pm } = setup();
  assert.equal(bus.read(0x604, 2) & 1, 1, "SCI_EN set at reset (no SMI_CMD)");
  assert.equal(pm.nextDeadline(), null, "nothing enabled");
  bus.write(0x602, 2, 1); // TMR_EN
  const due = pm.nextDeadline()!;
  assert.ok(Math.abs(due - (0x800000 / 3_579_545) * 1e9) < 3);
  clock.t = due - 10;
  pm.poll();
  assert.equal(sci.level, false);
  clock.t = due;
  pm.poll();
  assert.equal(sci.level, true);
  assert.equal(pm.nextDeadline(), null, "status pending");
  bus.write(0x600, 2, 1);
  assert.equal(sci.level, false, "cleared status drops the SCI");
  // With SCI_EN cleared, a pending enabled status does not assert the SCI.
  pm.pressPowerButton();
  bus.write(0x602, 2, 1 << 8);
  assert.equal(sci.level, true, "PWRBTN_STS & PWRBTN_EN");
  bus.write(0x604, 2, 0);
  assert.equal(sci.level, false);
});

test("32-bit timer: bits above 23 count, TMR_STS on bit 31", () => {
  const { clock, bus } = setup({ timer32Bit: true });
  clock.t = Math.ceil((0x1000000 * 1e9) / 3_579_545);
  assert.equal(bus.read(0x608, 4), 0x1000000);
  assert.equal(bus.read(0x600, 2) & 1, 0, "bit 31 has not toggled");
});

test("SLP_EN with SLP_TYP = S5 powers off; other types are sleep requests; SLP_EN reads 0", () => {
  const { bus, events } = setup({ s5SleepType: 5 });
  bus.write(0x604, 2, (5 << 10) | (1 << 13) | 1);
  assert.deepEqual(events, ["off"]);
  assert.equal(bus.read(0x604, 2), (5 << 10) | 1, "SLP_TYP kept, SLP_EN write-only");
  bus.write(0x605, 1, (1 << 2) | (1 << 5)); // high byte: SLP_TYP=1, SLP_EN
  assert.deepEqual(events, ["off", "sleep 1"]);
  bus.write(0x604, 2, 5 << 10);
  assert.deepEqual(events, ["off", "sleep 1"], "no SLP_EN, no request");
});

test("reserved status/enable bits are not writable", () => {
  const { bus } = setup();
  bus.write(0x602, 2, 0xffff);
  assert.equal(bus.read(0x602, 2), 0x4721);
});

test("save/load restores registers and the timer count; bad states refused without change", () => {
  const { clock, bus, pm } = setup();
  bus.write(0x602, 2, 0x0121);
  clock.t = 5_000_000;
  const saved = pm.save();
  const other = setup();
  other.clock.t = 77_000_000;
  other.pm.load(saved);
  assert.equal(other.bus.read(0x602, 2), 0x0121);
  assert.equal(other.bus.read(0x608, 4), pmTimerTicks(5_000_000));
  assert.throws(() => other.pm.load({ ...saved, version: 9 }), DeviceStateError);
  assert.throws(() => other.pm.load({ ...saved, status: 0x2 }), DeviceStateError);
  assert.throws(() => other.pm.load({ ...saved, timer: 2 ** 24 }), DeviceStateError);
  assert.throws(() => other.pm.load({ ...saved, control: 1 << 13 }), DeviceStateError);
  assert.equal(other.bus.read(0x602, 2), 0x0121, "unchanged");
  other.pm.reset();
  assert.equal(other.bus.read(0x602, 2), 0);
});

test("OSPM power-off through the tables: FADT PM1a_CNT_BLK and the DSDT's \\_S5 turn the machine off", () => {
  const { bus, events } = setup({ s5SleepType: 5 });
  const tables = buildAcpiTables({ apicIds: [0], pm: acpiPmBlocks(), s5SleepType: 5 });
  const block = tables.tables;
  const at = (address: number) => address - block.address;
  const view = new DataView(block.bytes.buffer);
  // RSDP -> XSDT -> first entry is the FADT; FADT -> DSDT (ACPI 6.5 5.2.5.3, 5.2.8, 5.2.9).
  const xsdt = Number(new DataView(tables.rsdp.bytes.buffer).getBigUint64(24, true));
  const fadt = Number(view.getBigUint64(at(xsdt) + 36, true));
  const pm1aControl = view.getUint32(at(fadt) + 64, true);
  const dsdt = view.getUint32(at(fadt) + 40, true);
  // The \_S5 package: NameOp "_S5_" PackageOp PkgLength NumElements then SLP_TYPa.
  const aml = block.bytes.subarray(at(dsdt) + 36);
  assert.equal(String.fromCharCode(...aml.subarray(1, 5)), "_S5_");
  const slpTypA = aml[8] === 0x0a ? aml[9] : aml[8];
  bus.write(pm1aControl, 2, (slpTypA << 10) | (1 << 13));
  assert.deepEqual(events, ["off"]);
});
