/**
 * Restartable exits (hooks.ts InstructionExit): a hook or MMIO handler that throws one makes
 * Cpu.run() return "exit" with the instruction abandoned — RIP on it, not counted as
 * retired, no architectural effect — and the next run() executes it again. Checked in the
 * interpreter (with block chaining), in compiled blocks and regions (jit/), for an inline
 * MMIO load in compiled code, for a partly done REP INSB (keeps its progress, as after a
 * fault: SDM Vol.2 REP), under the STI interrupt shadow, and while a fault or NMI is being
 * delivered (an IDT behind MMIO). Every exiting run, once resumed, must end in exactly the
 * state (instruction count included) of a run without the exit.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../helpers/asm.js";
import {
  createMachine,
  enterLong64,
  enterProtected32,
  LAYOUT,
  type TestMachine,
} from "../helpers/machine.js";
import { InstructionExit } from "../../src/cpu/hooks.js";
import { saveCpuState } from "../../src/cpu/state.js";
import { compiledBlocks } from "../../src/cpu/jit/compile.js";
import { assertFault, faultMachine, lastFault } from "../helpers/faults.js";

/** An IN loop: 2000 iterations summing the port values, with a branch inside (3 blocks). */
const IN_LOOP = `
  xor ebx, ebx
  mov ecx, 2000
1:
  in al, 0x80
  movzx edx, al
  add ebx, edx
  test ecx, 1
  jz 2f
  add ebx, 3
2:
  dec ecx
  jnz 1b
  hlt`;
/** Offset of the IN instruction in IN_LOOP (XOR r32 2 bytes, MOV r32, imm32 5 bytes). */
const IN_OFFSET = 7;

type Tier = "interpreter" | "jit";

/** A machine in `bits` mode running `source` at LAYOUT.code, with blocks compiled or not. */
function machine(bits: 32 | 64, tier: Tier, source: string): TestMachine {
  const m = createMachine();
  if (bits === 64) enterLong64(m);
  else enterProtected32(m);
  m.cpu.jitThreshold = tier === "jit" ? 1 : Infinity;
  m.mem.load(LAYOUT.code, assemble(source, bits, LAYOUT.code));
  m.cpu.rip = LAYOUT.code;
  return m;
}

/**
 * Port 80H returns 1, 2, 3, ... (one value per completed read); attempt number `exitAt`
 * throws an InstructionExit instead (once). Returns the attempt counter.
 */
function countingPort(m: TestMachine, exitAt: number): { attempts: number } {
  const st = { attempts: 0, reads: 0 };
  m.hooks.ioRead = () => {
    st.attempts++;
    if (st.attempts === exitAt) throw new InstructionExit("port 80h");
    st.reads++;
    return st.reads & 0xff;
  };
  return st;
}

/** Instructions IN_LOOP retires before the IN of iteration `n` (1-based). */
function retiredBeforeIteration(n: number): number {
  let count = 2;
  for (let k = 1; k < n; k++) count += (2000 - k + 1) % 2 === 1 ? 8 : 7;
  return count;
}

for (const [bits, tier] of [
  [64, "interpreter"],
  [64, "jit"],
  [32, "interpreter"],
  [32, "jit"],
] as const) {
  test(`an IN that exits on its 1000th execution restarts exactly (${bits}-bit, ${tier})`, () => {
    const ref = machine(bits, tier, IN_LOOP);
    countingPort(ref, -1);
    assert.equal(ref.cpu.run(1e6), "halt");

    const m = machine(bits, tier, IN_LOOP);
    const port = countingPort(m, 1000);
    const compiledBefore = compiledBlocks;
    assert.equal(m.cpu.run(1e6), "exit");
    if (tier === "jit") assert.ok(compiledBlocks > compiledBefore, "the loop was compiled");
    assert.equal(port.attempts, 1000);
    assert.equal(m.cpu.rip, LAYOUT.code + IN_OFFSET);
    assert.equal(m.mem.read8(m.cpu.rip), 0xe4); // IN AL, imm8
    assert.equal(m.cpu.instructionRip, BigInt(LAYOUT.code + IN_OFFSET));
    assert.equal(m.cpu.lo[1], 2000 - 999); // 999 iterations done
    assert.equal(m.cpu.icount, retiredBeforeIteration(1000));
    assert.ok(m.cpu.lastExit instanceof InstructionExit);
    assert.equal(m.cpu.lastExit.reason, "port 80h");
    assert.equal(m.cpu.run(1e6), "halt");
    assert.equal(m.cpu.lastExit, null);
    assert.deepEqual(saveCpuState(m.cpu), saveCpuState(ref.cpu));
  });
}

test("an MMIO read handler's exit restarts an inline load in compiled 64-bit code", () => {
  const source = `
  mov esi, 0x30000000
  xor ebx, ebx
  mov ecx, 1000
1:
  mov eax, [rsi]
  add ebx, eax
  dec ecx
  jnz 1b
  hlt`;
  const run = (exitAt: number): TestMachine => {
    const m = machine(64, "jit", source);
    let attempts = 0;
    let reads = 0;
    m.mem.addMmio(0x30000000, 0x1000, {
      read: () => {
        attempts++;
        if (attempts === exitAt) throw new InstructionExit("mmio");
        return ++reads * 7;
      },
      write: () => {},
    });
    return m;
  };
  const ref = run(-1);
  assert.equal(ref.cpu.run(1e6), "halt");
  const m = run(500);
  assert.equal(m.cpu.run(1e6), "exit");
  assert.equal(m.cpu.rip, LAYOUT.code + 12); // MOV ESI 5, XOR 2, MOV ECX 5
  assert.equal(m.cpu.lo[1], 1000 - 499);
  assert.equal(m.cpu.icount, 3 + 499 * 4);
  assert.equal(m.cpu.run(1e6), "halt");
  assert.deepEqual(saveCpuState(m.cpu), saveCpuState(ref.cpu));
});

test("REP INSB interrupted by an exit keeps its completed iterations and restarts", () => {
  const source = `
  mov edi, 0x200000
  mov ecx, 100
  mov edx, 0x80
  rep insb
  hlt`;
  for (const tier of ["interpreter", "jit"] as const) {
    const ref = machine(64, tier, source);
    countingPort(ref, -1);
    assert.equal(ref.cpu.run(1e6), "halt");
    const m = machine(64, tier, source);
    countingPort(m, 50);
    assert.equal(m.cpu.run(1e6), "exit");
    assert.equal(m.cpu.rip, LAYOUT.code + 15);
    assert.equal(m.cpu.lo[1], 51); // 49 bytes stored
    assert.equal(m.cpu.lo[7], 0x200000 + 49);
    assert.equal(m.mem.read8(0x200000 + 48), 49);
    assert.equal(m.mem.read8(0x200000 + 49), 0);
    assert.equal(m.cpu.run(1e6), "halt");
    for (let n = 0; n < 100; n++) assert.equal(m.mem.read8(0x200000 + n), n + 1);
    assert.deepEqual(saveCpuState(m.cpu), saveCpuState(ref.cpu));
  }
});

test("an exit under the STI interrupt shadow keeps the shadow for the restarted instruction", () => {
  const m = machine(64, "interpreter", "sti\nin al, 0x80\nhlt");
  m.cpu.setEflags(0x2);
  countingPort(m, 1);
  assert.equal(m.cpu.run(100), "exit");
  assert.equal(m.cpu.rip, LAYOUT.code + 1);
  assert.equal(m.cpu.interruptShadow, true);
  assert.equal(m.cpu.icount, 1);
  assert.equal(m.cpu.run(100), "halt");
  assert.equal(m.cpu.interruptShadow, false);
  assert.equal(m.cpu.lo[0] & 0xff, 1);
  assert.equal(m.cpu.icount, 3);
});

test("exits from other hooks: WRMSR, CPUID, a vetoing controlWrite replaced by an exit", () => {
  const m = machine(
    64,
    "interpreter",
    "mov ecx, 0x1234\nxor eax, eax\nxor edx, edx\nwrmsr\ncpuid\nmov rax, cr4\nmov cr4, rax\nhlt",
  );
  let wrmsrs = 0;
  m.hooks.wrmsr = () => {
    if (++wrmsrs === 1) throw new InstructionExit("wrmsr");
    return true;
  };
  let cpuids = 0;
  m.hooks.cpuid = (_l, _s, native) => {
    if (++cpuids === 1) throw new InstructionExit("cpuid");
    return native;
  };
  let cr4s = 0;
  m.hooks.controlWrite = () => {
    if (++cr4s === 1) throw new InstructionExit("cr4");
    return true;
  };
  const stops: [string, number][] = [];
  for (let n = 0; n < 3; n++) {
    assert.equal(m.cpu.run(100), "exit");
    stops.push([m.cpu.lastExit!.reason, m.cpu.rip - LAYOUT.code]);
  }
  assert.equal(m.cpu.run(100), "halt");
  assert.deepEqual(stops, [
    ["wrmsr", 9],
    ["cpuid", 11],
    ["cr4", 16],
  ]);
  assert.equal(m.cpu.icount, 8);
});

/** Move the IDT of a fault machine behind an MMIO window whose first read (once) exits. */
function idtBehindMmio(m: TestMachine): { exits: number } {
  const window = 0x30000000;
  const st = { exits: 0 };
  m.mem.addMmio(window, 0x1000, {
    read: (addr, size) => {
      if (st.exits === 0) {
        st.exits++;
        throw new InstructionExit("idt");
      }
      const ram = LAYOUT.idt + (addr - window);
      return size === 1 ? m.mem.read8(ram) : size === 2 ? m.mem.read16(ram) : m.mem.read32(ram);
    },
    write: () => {},
  });
  m.cpu.idtrBase = window;
  return st;
}

test("an exit while a fault or an NMI is delivered rolls the delivery back and restarts it", () => {
  // #UD from UD2: the delivery reads the IDT through MMIO and exits; RIP stays on UD2.
  const m = faultMachine(64);
  m.mem.load(LAYOUT.code, assemble("ud2", 64, LAYOUT.code));
  m.cpu.rip = LAYOUT.code;
  const st = idtBehindMmio(m);
  const rsp = m.cpu.lo[4];
  assert.equal(m.cpu.run(100), "exit");
  assert.equal(m.cpu.lastExit?.reason, "idt");
  assert.equal(m.cpu.rip, LAYOUT.code);
  assert.equal(m.cpu.icount, 0);
  assert.equal(m.cpu.lo[4], rsp);
  assert.equal(m.cpu.run(100), "halt");
  assert.equal(st.exits, 1);
  assertFault(lastFault(m), 6);

  // NMI: stays pending and unblocked across the exit, then is delivered.
  const n = faultMachine(64);
  n.mem.load(LAYOUT.code, assemble("nop\nhlt", 64, LAYOUT.code));
  n.cpu.rip = LAYOUT.code;
  idtBehindMmio(n);
  n.cpu.nmiPending = true;
  assert.equal(n.cpu.run(100), "exit");
  assert.deepEqual([n.cpu.nmiPending, n.cpu.nmiBlocked, n.cpu.rip], [true, false, LAYOUT.code]);
  assert.equal(n.cpu.run(100), "halt");
  assertFault(lastFault(n), 2);
  assert.equal(n.cpu.nmiBlocked, true);

  // INTR: the vector is acknowledged before the IDT read, so the exit is a host error.
  const i = faultMachine(64);
  i.mem.load(LAYOUT.code, assemble("nop\nhlt", 64, LAYOUT.code));
  i.cpu.rip = LAYOUT.code;
  idtBehindMmio(i);
  i.cpu.setEflags(0x202);
  i.cpu.intrPending = true;
  i.cpu.acknowledgeInterrupt = () => 0x20;
  assert.throws(() => i.cpu.run(100), /acknowledged/);
});
