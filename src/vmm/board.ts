/**
 * The PC board: every device of pinvm's "pc" machine, created and wired the way a PIIX-era PC
 * (and QEMU's pc machine) wires them. Ports: PIC 20H/A0H (+ELCR 4D0H), PIT 40H-43H, port
 * 61H, i8042 60H/64H, RTC/CMOS 70H/71H, port 92H, COM1-4 3F8H/2F8H/3E8H/2E8H (IRQ 4/3/4/3),
 * PCI configuration 0CF8H/0CFCH with the reset control register at 0CF9H, ACPI PM at 600H,
 * APM control 0B2H (raises an SMI on the BSP), fw_cfg 510H/511H, and the optional isa-debug-exit, isa-debugcon and pc-testdev. MMIO: the
 * I/O APIC at FEC00000H. ISA IRQ n goes to the 8259 pair and to I/O APIC pin n (IRQ0 to pin
 * 2, the usual interrupt source override, which the MADT announces). The 8259's INTR drives
 * the BSP's LINT0 (ExtINT); I/O APIC messages go to the local APICs through the hypervisor.
 *
 * Devices know nothing of each other: the board passes them IRQ lines, the VM clock and the
 * callbacks (reset requests, power-off) that the Machine turns into actions.
 */
import type { Vm } from "../hv/index.js";
import { PortIoBus } from "./port-io-bus.js";
import { Apm, APM_CONTROL_PORT } from "./devices/apm.js";
import { AcpiPm, ACPI_PM_DEFAULT_BASE, ACPI_PM_PORT_COUNT, acpiPmBlocks } from "./devices/acpi-pm.js";
import { DebugExit, type DebugExitConfig } from "./devices/debug-exit.js";
import { Debugcon } from "./devices/debugcon.js";
import { I8042 } from "./devices/i8042.js";
import { I8254Pit, PIT_PORT } from "./devices/i8254-pit.js";
import { I8259Pair, PIC_ELCR, PIC_MASTER_COMMAND, PIC_SLAVE_COMMAND } from "./devices/i8259-pic.js";
import { IoApic, IOAPIC_BASE, IOAPIC_SIZE, type IoApicMessage } from "./devices/ioapic.js";
import { fanOutIrq, type IrqLine, type VirtualClock } from "./devices/irq.js";
import { Mc146818Rtc, RTC_INDEX_PORT } from "./devices/mc146818-rtc.js";
import {
  PcTestdev,
  PC_TESTDEV_IOMEM_BASE,
  PC_TESTDEV_IOMEM_SIZE,
  PC_TESTDEV_IRQ_COUNT,
  PC_TESTDEV_IRQ_PORT,
} from "./devices/pc-testdev.js";
import { PciConfigPortDecoder, PciHost, PCI_CONFIG_DATA_PORT } from "./devices/pci-host.js";
import { Port61, PORT61 } from "./devices/port61.js";
import { Port92, PORT92 } from "./devices/port92.js";
import { ResetControl, type ResetKind } from "./devices/reset-control.js";
import { Serial16550 } from "./devices/serial16550.js";
import { FW_CFG_PORT_SELECTOR } from "./firmware/fw-cfg.js";
import type { FwCfg } from "./firmware/fw-cfg.js";

/** I/O bases of COM1..COM4 and their ISA IRQs. */
export const COM_PORTS = [
  { base: 0x3f8, irq: 4 },
  { base: 0x2f8, irq: 3 },
  { base: 0x3e8, irq: 4 },
  { base: 0x2e8, irq: 3 },
] as const;

/** Where a reset request came from (the Machine decides what it does). */
export type ResetSource =
  "cf9-soft" | "cf9-hard" | "cf9-full" | "i8042" | "port92" | "triple-fault" | "monitor";

/** Callbacks from the board to the Machine. */
export interface BoardEvents {
  /** A device asked for a reset. */
  reset(source: ResetSource): void;
  /** ACPI S5. */
  powerOff(): void;
  /** isa-debug-exit written with `value`. */
  debugExit(value: number): void;
}

/** Options for the board's optional devices. */
export interface BoardOptions {
  /** Output of COM1..COM4; null = the UART is absent. */
  serial: (((byte: number) => void) | null)[];
  /** isa-debug-exit placement, or null. */
  debugExit: DebugExitConfig | null;
  /** isa-debugcon ports and outputs. */
  debugcons: { iobase: number; output: (byte: number) => void }[];
  /** Attach QEMU's pc-testdev. */
  pcTestdev: boolean;
  /** Wall-clock time the RTC shows at power-on (ms since the epoch). */
  rtcStartMs: number;
}

/** A device with saved state, for snapshots and reset. */
export interface BoardDevice {
  name: string;
  /**
   * Snapshot files written before this device's state was saved (pinvm before fw-cfg and
   * debug-exit were) have no section for it: the restored device keeps its power-on state.
   */
  sectionMayBeAbsent?: boolean;
  reset?: () => void;
  save: () => unknown;
  load: (state: unknown) => void;
}

/** The PC's devices. */
export class PcBoard {
  readonly io = new PortIoBus();
  readonly pic: I8259Pair;
  readonly ioapic: IoApic;
  readonly pit: I8254Pit;
  readonly port61: Port61;
  readonly rtc: Mc146818Rtc;
  readonly kbc: I8042;
  readonly port92: Port92;
  readonly resetControl: ResetControl;
  readonly pci: PciHost;
  readonly pm: AcpiPm;
  readonly apm: Apm;
  readonly uarts: (Serial16550 | null)[];
  readonly debugExit: DebugExit | null;
  readonly testdev: PcTestdev | null;
  /** Current fw_cfg contents (rebuilt at every boot by the Machine). */
  fwCfg: FwCfg | null = null;
  /** Every device with state, in a fixed order. */
  readonly devices: BoardDevice[] = [];
  private readonly isaIrq: IrqLine[] = [];

  /** Creates and wires the devices of `vm`. */
  constructor(vm: Vm, options: BoardOptions, events: BoardEvents) {
    const clock: VirtualClock = { now: () => vm.now() };
    const io = this.io;
    const bsp = () => vm.getVcpu(0);
    this.pic = new I8259Pair({
      set: (level) => bsp()?.setExtInt(level, () => this.pic.acknowledge()),
    });
    this.ioapic = new IoApic((m) => vm.deliverInterrupt(toInterruptMessage(m)));
    vm.setEoiListener((vector) => this.ioapic.onEoi(vector));
    vm.addMmio(IOAPIC_BASE, IOAPIC_SIZE, this.ioapic.mmioHandler(IOAPIC_BASE));
    for (let irq = 0; irq < 16; irq++) {
      this.isaIrq.push(fanOutIrq(this.pic.irqLine(irq), this.ioapic.irqLine(irq === 0 ? 2 : irq)));
    }
    io.register("i8259 master", PIC_MASTER_COMMAND, 2, this.pic.masterPorts, true);
    io.register("i8259 slave", PIC_SLAVE_COMMAND, 2, this.pic.slavePorts, true);
    io.register("i8259 ELCR", PIC_ELCR, 2, this.pic.elcrPorts, true);

    this.pit = new I8254Pit(clock, this.isaIrq[0]);
    io.register("i8254 PIT", PIT_PORT, 4, this.pit, true);
    this.port61 = new Port61(this.pit, clock);
    io.register("port 61h", PORT61, 1, this.port61, true);

    this.rtc = new Mc146818Rtc({ startTime: options.rtcStartMs, clock, irq: this.isaIrq[8] });
    this.rtc.fillMemorySize(vm.memoryBytes, vm.lowMemoryBytes);
    io.register("mc146818 RTC", RTC_INDEX_PORT, 2, this.rtc, true);

    this.kbc = new I8042({
      irq1: this.isaIrq[1],
      irq12: this.isaIrq[12],
      onReset: () => events.reset("i8042"),
    });
    io.register("i8042 data", 0x60, 1, this.kbc.dataPort, true);
    io.register("i8042 command", 0x64, 1, this.kbc.commandPort, true);

    this.port92 = new Port92({ onReset: () => events.reset("port92") });
    io.register("port 92h", PORT92, 1, this.port92, true);

    this.resetControl = new ResetControl((kind: ResetKind) => events.reset(`cf9-${kind}`));
    this.pci = new PciHost();
    // 0CF8H-0CFBH: a dword at 0CF8H is CONFIG_ADDRESS, bytes go to the reset control at 0CF9H.
    io.register(
      "PCI config address / reset control",
      0xcf8,
      4,
      new PciConfigPortDecoder(this.pci, {
        read: (offset, size) => (offset === 1 ? this.resetControl.read(0, size) : 0xff),
        write: (offset, size, value) => {
          if (offset === 1) this.resetControl.write(0, size, value);
        },
      }),
    );
    io.register("PCI config data", PCI_CONFIG_DATA_PORT, 4, this.pci.dataPort);

    this.pm = new AcpiPm({ clock, sci: this.isaIrq[9], onPowerOff: () => events.powerOff() });
    io.register("ACPI PM", ACPI_PM_DEFAULT_BASE, ACPI_PM_PORT_COUNT, this.pm);

    // APM control port: an OUT raises an SMI on the BSP, as PIIX4 does (QEMU's pc machine).
    this.apm = new Apm(() => bsp()?.injectSmi());
    io.register("APM control/status", APM_CONTROL_PORT, 2, this.apm, true);

    io.register("fw_cfg", FW_CFG_PORT_SELECTOR, 2, {
      read: (offset, size) => (this.fwCfg ? this.fwCfg.read(offset, size) : 0xff),
      write: (offset, size, value) => this.fwCfg?.write(offset, size, value),
    });

    this.uarts = COM_PORTS.map(({ base, irq }, n) => {
      const out = options.serial[n];
      if (out === null || out === undefined) return null;
      const line = this.isaIrq[irq];
      // The PC gates the UART's INTR with MCR.OUT2 (irqLine); the clock drives the FIFO timeout.
      const uart = new Serial16550({ onByte: out, irqLine: line, clock });
      io.register(`serial16550 COM${n + 1}`, base, 8, uart, true);
      return uart;
    });

    this.debugExit = options.debugExit
      ? new DebugExit(options.debugExit, (value) => events.debugExit(value))
      : null;
    if (this.debugExit && options.debugExit) {
      io.register("isa-debug-exit", options.debugExit.iobase, options.debugExit.iosize, this.debugExit);
    }
    options.debugcons.forEach((d, n) => {
      const con = new Debugcon(d.output, { iobase: d.iobase });
      io.register(`isa-debugcon ${n}`, d.iobase, 1, con, true);
      this.devices.push({ name: `debugcon${n}`, save: () => con.save(), load: (s) => con.load(s) });
    });

    this.testdev = options.pcTestdev
      ? new PcTestdev({
          flushPage: () => {
            for (const v of vm.allVcpus) v.cpu.flushTlb(true);
          },
          setIrq: (irq, level) => this.isaIrq[irq]?.set(level),
        })
      : null;
    if (this.testdev) {
      io.register("pc-testdev data", 0xe0, 4, this.testdev.dataPort);
      io.register("pc-testdev flush", 0xe4, 4, this.testdev.flushPagePort);
      // The byte window E8H-EBH, except a port an isa-debugcon already has (QEMU's E9H, with
      // -debugcon): the debug console keeps it, the other three bytes stay reachable.
      const bytePort = this.testdev.dataBytePort;
      for (let n = 0; n < 4; n++) {
        if (io.ownerOf(0xe8 + n) !== undefined) continue;
        io.register(`pc-testdev data byte ${n}`, 0xe8 + n, 1, {
          read: (_offset, size) => bytePort.read(n, size),
          write: (_offset, size, value) => bytePort.write(n, size, value),
        });
      }
      io.register("pc-testdev irq", PC_TESTDEV_IRQ_PORT, PC_TESTDEV_IRQ_COUNT, this.testdev.irqPorts, true);
      const iomem = this.testdev.iomem;
      vm.addMmio(PC_TESTDEV_IOMEM_BASE, PC_TESTDEV_IOMEM_SIZE, {
        read: (address, size) => iomem.readMmio(address - PC_TESTDEV_IOMEM_BASE, size),
        write: (address, size, value) => iomem.writeMmio(address - PC_TESTDEV_IOMEM_BASE, size, value),
      });
    }

    const add = (name: string, d: { reset?: () => void; save: () => unknown; load: (s: unknown) => void }) =>
      this.devices.push({ name, reset: d.reset?.bind(d), save: () => d.save(), load: (s) => d.load(s) });
    add("pic", this.pic);
    add("ioapic", this.ioapic);
    add("pit", this.pit);
    add("port61", this.port61);
    add("rtc", this.rtc);
    add("i8042", this.kbc);
    add("port92", this.port92);
    add("reset-control", this.resetControl);
    add("pci", this.pci);
    add("acpi-pm", this.pm);
    add("apm", this.apm);
    this.uarts.forEach((u, n) => {
      if (u)
        this.devices.push({
          name: `com${n + 1}`,
          save: () => u.saveState(),
          load: (s) => u.loadState(s as never),
        });
    });
    if (this.testdev) add("pc-testdev", this.testdev);
    if (this.debugExit) {
      add("debug-exit", this.debugExit);
      this.devices[this.devices.length - 1].sectionMayBeAbsent = true;
    }
    // fw_cfg's contents are configuration (rebuilt by the Machine at every boot); its state is
    // the selector, the read offset into the selected item and the DMA address's high half.
    this.devices.push({
      name: "fw-cfg",
      sectionMayBeAbsent: true,
      reset: () => this.fwCfg?.reset(),
      save: () => (this.fwCfg ? this.fwCfg.save() : null),
      load: (s) => {
        if (this.fwCfg) this.fwCfg.load(s);
        else if (s !== null) throw new Error("fw_cfg: saved state for a machine without fw_cfg");
      },
    });
  }

  /** The earliest time (ns) a device timer wants to fire, if any. */
  nextDeadline(): number | undefined {
    let best: number | undefined;
    const timers = [this.pit.nextDeadline(), this.rtc.nextDeadline(), this.pm.nextDeadline() ?? undefined];
    for (const u of this.uarts) if (u) timers.push(u.nextDeadline());
    for (const t of timers) {
      if (t !== undefined && (best === undefined || t < best)) best = t;
    }
    return best;
  }

  /** Fires whatever device timers are due at `now`. */
  advance(now: number): void {
    this.pit.advance(now);
    this.rtc.advance(now);
    this.pm.poll();
    for (const u of this.uarts) u?.advance(now);
  }

  /** Puts every device back in its power-on state, except the CMOS RAM (battery-backed). */
  resetDevices(): void {
    for (const d of this.devices) d.reset?.();
  }
}

/** An I/O APIC message in the hypervisor's shape. */
function toInterruptMessage(m: IoApicMessage) {
  const modes = ["fixed", "lowest-priority", "smi", "fixed", "nmi", "init", "fixed", "extint"] as const;
  return {
    vector: m.vector,
    deliveryMode: modes[m.deliveryMode & 7],
    destinationMode: m.destinationMode,
    destination: m.destination,
    trigger: m.trigger,
  };
}

export { ACPI_PM_DEFAULT_BASE, acpiPmBlocks };
