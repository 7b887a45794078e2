/**
 * The KVM paravirtual CPUID leaves (Documentation/virt/kvm/x86/cpuid.rst): 40000000H gives
 * the highest leaf and the signature "KVMKVMKVM\0\0\0" in EBX:ECX:EDX; 40000001H.EAX holds
 * KVM_FEATURE_CR_PIN at bit 14 (Dec 2019) or bit 15 (Jun 2020); Heki has no CPUID bit.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { VmPinning, type PinProfile } from "../../src/hv/paravirt/index.js";

function leaves(profile: PinProfile) {
  return new VmPinning({ profile }).kvmCpuidLeaves();
}

/** The register values as the guest would store them: EBX, ECX, EDX little-endian bytes. */
function signature(ebx: number, ecx: number, edx: number): string {
  const bytes = Buffer.alloc(12);
  bytes.writeUInt32LE(ebx, 0);
  bytes.writeUInt32LE(ecx, 4);
  bytes.writeUInt32LE(edx, 8);
  return bytes.toString("latin1");
}

test("40000000H: max leaf 40000001H and the KVMKVMKVM signature, in every profile", () => {
  for (const profile of ["off", "rfc2019", "jun2020", "heki2024"] as const) {
    const [sig] = leaves(profile);
    assert.equal(sig.leaf, 0x40000000);
    assert.equal(sig.eax, 0x40000001);
    assert.equal(signature(sig.ebx, sig.ecx, sig.edx), "KVMKVMKVM\0\0\0");
    assert.deepEqual([sig.ebx, sig.ecx, sig.edx], [0x4b4d564b, 0x564b4d56, 0x4d]);
  }
});

test("40000001H.EAX: CR-pin bit 14 for rfc2019, 15 for jun2020, none for heki2024 and off", () => {
  const eax = (profile: PinProfile) => leaves(profile)[1];
  assert.deepEqual(eax("rfc2019"), { leaf: 0x40000001, eax: 0x4000, ebx: 0, ecx: 0, edx: 0 });
  assert.deepEqual(eax("jun2020"), { leaf: 0x40000001, eax: 0x8000, ebx: 0, ecx: 0, edx: 0 });
  assert.equal(eax("heki2024").eax, 0);
  assert.equal(eax("off").eax, 0);
});
