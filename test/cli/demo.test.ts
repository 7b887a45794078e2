/**
 * `pinvm demo`: the demo guest twice, with CR pinning (jun2020 by default) and without, each
 * on two vCPUs. Pinned, the `mov cr4` gadget faults and the attack is stopped, and pinvm's
 * report lists the refused write; unpinned, the shellcode runs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { missing, pinvm } from "./run-cli.js";

/** CR4.SMEP, bit 20 (SDM Vol.3 2.5). */
const CR4_SMEP = 1 << 20;

test("pinvm demo: the attack is stopped with pinning and succeeds without", { skip: missing() }, () => {
  const r = pinvm(["demo"]);
  assert.equal(r.status, 0, r.stderr);
  const [pinned, unpinned] = r.stdout.split(/^=== pinvm demo, run 2 of 2: /m);
  assert.ok(unpinned, r.stdout);
  assert.match(pinned, /^=== pinvm demo, run 1 of 2: --cr-pin jun2020 -smp 2 /);
  assert.match(pinned, /the gadget faulted: vector 13 \(#GP\)/);
  assert.match(pinned, /attack stopped: the shellcode never ran/);
  assert.doesNotMatch(pinned, /pwned/);
  assert.match(pinned, /the AP came back/, "-smp 2: the INIT-SIPI part ran");
  assert.match(pinned, /second boot, after the reset through port 0xCF9/);
  // After the CF9 reset the pin MSRs read 0 (RESET clears them); INIT kept IA32_STAR (SDM
  // Vol.3 Table 10-1: INIT leaves MSRs unchanged) and, with jun2020, cleared the AP's pin.
  assert.match(pinned, /CR0_PINNED_HIGH=0x0 CR4_PINNED_HIGH=0x0 CR4_PINNED_LOW=0x0/);
  assert.match(pinned, /IA32_STAR=0x23001000000000 \(kept by INIT\)/);
  assert.match(pinned, /CR4_PINNED_LOW reads 0x0: the pin was cleared by INIT/);
  const report =
    /--- pinvm report \(--cr-pin jun2020\) ---\n(\d+) CR write\(s\) refused by the pins:\n((?: {2}.*\n)+)/.exec(
      pinned,
    );
  assert.ok(report, pinned);
  assert.ok(Number(report[1]) >= 1);
  const v =
    /vcpu 0 rip=0x[0-9a-f]+ CR4 \(mov\) old=0x([0-9a-f]+) attempted=0x([0-9a-f]+) pinned-high=0x([0-9a-f]+)/.exec(
      report[2],
    );
  assert.ok(v, report[2]);
  const [old, attempted, high] = v.slice(1).map((h) => parseInt(h, 16));
  assert.equal(old ^ attempted, CR4_SMEP, "the gadget's write differs from CR4 only in SMEP");
  assert.ok(high & CR4_SMEP);

  assert.match(unpinned, /^--cr-pin off -smp 2 \(no CR pinning\)/);
  assert.match(unpinned, /the gadget worked/);
  assert.match(unpinned, /\[shellcode\] pwned: user-page code running in ring 0/);
  assert.match(unpinned, /attack succeeded/);
  assert.match(unpinned, /CR pinning off: the hypervisor refused no CR write/);
});

test("pinvm demo --cr-pin heki2024 uses that profile for the pinned run", { skip: missing() }, () => {
  const r = pinvm(["demo", "--cr-pin", "heki2024"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /run 1 of 2: --cr-pin heki2024 -smp 2/);
  assert.match(r.stdout, /attack stopped/);
  assert.match(r.stdout, /profile=heki2024: refused with #GP\(0\)/);
});
