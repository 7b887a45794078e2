/**
 * The PC's port-I/O address space (0x0000-0xFFFF): devices claim port ranges, and the bus
 * dispatches IN/OUT to them. Ports nobody claims read as all-ones (an ISA bus with nothing
 * driving it) and swallow writes. Devices whose registers are one byte wide ask for wide
 * accesses to be split into byte accesses at consecutive ports, as the ISA bus does.
 */

/** A device's port-I/O interface; `offset` is relative to the start of its range. */
export interface PortDevice {
  /** IN of `size` bytes (1, 2 or 4) at `offset`. */
  read(offset: number, size: number): number;
  /** OUT of `size` bytes at `offset`. */
  write(offset: number, size: number, value: number): void;
}

/** One registered range. */
interface Mapping {
  name: string;
  start: number;
  length: number;
  device: PortDevice;
  byteWide: boolean;
}

/** All-ones value for an access of `size` bytes. */
export function openBus(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffff_ffff;
}

/** The port-I/O bus. */
export class PortIoBus {
  /** Mapping index + 1 per port, 0 when unassigned. */
  private readonly owner = new Uint16Array(0x10000);
  private readonly mappings: Mapping[] = [];

  /**
   * Called for an access to a port no device claims (the first port of the access), before
   * the bus answers it with open bus; the VMM's --trace sets it. `value` is undefined for IN.
   */
  onUnclaimed: ((port: number, size: number, value: number | undefined) => void) | null = null;

  /**
   * Claims ports start..start+length-1 for `device`. With `byteWide`, accesses wider than a
   * byte reach the device as consecutive byte accesses. Throws if a port is already taken.
   */
  register(name: string, start: number, length: number, device: PortDevice, byteWide = false): void {
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(length) ||
      start < 0 ||
      length < 1 ||
      start + length > 0x10000
    ) {
      throw new RangeError(`${name}: bad port range 0x${start.toString(16)} + ${length}`);
    }
    for (let p = start; p < start + length; p++) {
      if (this.owner[p] !== 0) {
        const other = this.mappings[this.owner[p] - 1];
        throw new RangeError(`${name}: port 0x${p.toString(16)} already belongs to ${other.name}`);
      }
    }
    this.mappings.push({ name, start, length, device, byteWide });
    this.owner.fill(this.mappings.length, start, start + length);
  }

  /** Name of the device owning `port`, or undefined. */
  ownerOf(port: number): string | undefined {
    const m = this.owner[port & 0xffff];
    return m === 0 ? undefined : this.mappings[m - 1].name;
  }

  /** IN of `size` bytes from `port`. */
  read(port: number, size: number): number {
    if (this.onUnclaimed !== null && this.owner[port & 0xffff] === 0) this.onUnclaimed(port, size, undefined);
    const m = this.mappingFor(port, size);
    if (m !== undefined) return m.device.read(port - m.start, size);
    if (size === 1) return this.owner[port & 0xffff] === 0 ? 0xff : this.readByte(port);
    let v = 0;
    for (let n = 0; n < size; n++) v |= this.readByte(port + n) << (8 * n);
    return v >>> 0;
  }

  /** OUT of `size` bytes to `port`. */
  write(port: number, size: number, value: number): void {
    if (this.onUnclaimed !== null && this.owner[port & 0xffff] === 0) this.onUnclaimed(port, size, value);
    const m = this.mappingFor(port, size);
    if (m !== undefined) {
      m.device.write(port - m.start, size, value);
      return;
    }
    for (let n = 0; n < size; n++) this.writeByte(port + n, (value >>> (8 * n)) & 0xff);
  }

  /** The mapping that takes the whole access at once, if there is one. */
  private mappingFor(port: number, size: number): Mapping | undefined {
    const index = this.owner[port & 0xffff];
    if (index === 0) return undefined;
    const m = this.mappings[index - 1];
    if (size > 1 && (m.byteWide || port + size > m.start + m.length)) return undefined;
    return m;
  }

  private readByte(port: number): number {
    const p = port & 0xffff;
    const index = this.owner[p];
    if (index === 0) return 0xff;
    const m = this.mappings[index - 1];
    return m.device.read(p - m.start, 1) & 0xff;
  }

  private writeByte(port: number, value: number): void {
    const p = port & 0xffff;
    const index = this.owner[p];
    if (index === 0) return;
    const m = this.mappings[index - 1];
    m.device.write(p - m.start, 1, value);
  }
}
