/**
 * Test helper for the hypervisor API: creates VMs, puts a vCPU in flat 32-bit protected mode
 * through the host set-APIs (as a VMM loader would), assembles guest code into guest RAM,
 * and builds a 32-bit IDT whose handlers record the vector and error code.
 */
import { Hypervisor, type Segment, type Vcpu, type Vm, type VmOptions } from "../../src/hv/index.js";
import { assemble } from "./asm.js";

/** A flat 4-GiB segment (base 0, limit FFFFFFFFH, G=1). */
export function flatSegment(selector: number, type: number, s = 1): Segment {
  return { selector, base: 0n, limit: 0xffffffff, type, s, dpl: 0, present: 1, avl: 0, l: 0, db: 1, g: 1 };
}

/** Where the helper puts things in guest RAM. */
export const GUEST = {
  /** GDT: null, 08H flat 32-bit code, 10H flat data. */
  gdt: 0x1000,
  /** IDT (256 8-byte gates). */
  idt: 0x2000,
  /** Fault record: [vector, error code, count] as dwords. */
  faultRecord: 0x2800,
  /** Exception stubs, 16 bytes each. */
  stubs: 0x3000,
  /** Guest code. */
  code: 0x10000,
  /** Top of the stack. */
  stack: 0x9000,
} as const;

/** A VM with `memoryBytes` of RAM (default 2 MiB) and vCPU 0. */
export function newVm(options: Partial<VmOptions> = {}): { vm: Vm; vcpu: Vcpu } {
  const vm = new Hypervisor().createVm({ memoryBytes: 2 << 20, ...options });
  return { vm, vcpu: vm.createVcpu(0) };
}

/** Flat GDT entries: null, 08H code (CF9AH), 10H data (CF92H). */
const GDT_BYTES = new Uint8Array([
  0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0,
]);

/**
 * Puts `vcpu` in flat 32-bit protected mode, paging off, CPL 0, ESP at GUEST.stack, with a
 * GDT at GUEST.gdt (written into guest RAM) so that interrupt gates can load CS.
 */
export function enterFlat32(vcpu: Vcpu, rip: number = GUEST.code, vm?: Vm): void {
  const data = flatSegment(0x10, 3);
  vm?.writePhysical(GUEST.gdt, GDT_BYTES);
  vcpu.setSregs({
    gdt: { base: BigInt(GUEST.gdt), limit: GDT_BYTES.length - 1 },
    cs: flatSegment(0x08, 11),
    ds: data,
    es: data,
    fs: data,
    gs: data,
    ss: data,
    cr0: 0x11n,
    idt: { base: BigInt(GUEST.idt), limit: 256 * 8 - 1 },
  });
  vcpu.setRegs({ rip: BigInt(rip), rsp: BigInt(GUEST.stack), rflags: 2n });
}

/** Assembles 32-bit `source` at `address` and copies it into guest RAM. */
export function load32(vm: Vm, source: string, address: number = GUEST.code): void {
  vm.writePhysical(address, assemble(source, 32, address));
}

/** Assembles 16-bit `source` at `address` and copies it into guest RAM. */
export function load16(vm: Vm, source: string, address: number): void {
  vm.writePhysical(address, assemble(source, 16, address));
}

/**
 * Fills the IDT with 32-bit interrupt gates (selector 08H) whose stubs record the vector,
 * the error code (for vectors that push one) and a count at GUEST.faultRecord, then skip the
 * faulting instruction by `skip` bytes (0 = return to it) and IRET.
 */
export function installRecordingIdt(vm: Vm, skip = 0): void {
  vm.writePhysical(GUEST.gdt, GDT_BYTES);
  const withError = new Set([8, 10, 11, 12, 13, 14, 17]);
  for (let v = 0; v < 256; v++) {
    const stub = GUEST.stubs + v * 32;
    const err = withError.has(v);
    const src = [
      `mov dword ptr [${GUEST.faultRecord}], ${v}`,
      err
        ? `pop dword ptr [${GUEST.faultRecord + 4}]`
        : `mov dword ptr [${GUEST.faultRecord + 4}], 0xffffffff`,
      `inc dword ptr [${GUEST.faultRecord + 8}]`,
      skip ? `add dword ptr [esp], ${skip}` : "nop",
      "iretd",
    ].join("\n");
    load32(vm, src, stub);
    const gate = new Uint8Array(8);
    const dv = new DataView(gate.buffer);
    dv.setUint16(0, stub & 0xffff, true);
    dv.setUint16(2, 0x08, true);
    dv.setUint8(5, 0x8e);
    dv.setUint16(6, stub >>> 16, true);
    vm.writePhysical(GUEST.idt + v * 8, gate);
  }
}

/** The fault record: last vector, last error code (or -1), number of events. */
export function faultRecord(vm: Vm): { vector: number; errorCode: number; count: number } {
  const b = vm.readPhysical(GUEST.faultRecord, 12);
  const dv = new DataView(b.buffer, b.byteOffset);
  return { vector: dv.getUint32(0, true), errorCode: dv.getInt32(4, true), count: dv.getUint32(8, true) };
}

/** Reads a little-endian dword of guest RAM. */
export function read32(vm: Vm, address: number): number {
  const b = vm.readPhysical(address, 4);
  return new DataView(b.buffer, b.byteOffset).getUint32(0, true);
}
