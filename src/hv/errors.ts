/**
 * The error the hypervisor API throws when its caller misuses it: an unknown register name,
 * a value out of range, an MSR index pinvm does not know, a second vCPU with the same id.
 * These are bugs in the VMM (the caller), never guest behaviour: a guest's mistakes become
 * architectural faults or exits, not exceptions.
 */

/** What kind of misuse an HvError reports. */
export type HvErrorCode =
  "bad-register" | "bad-value" | "bad-msr" | "bad-state" | "bad-vcpu" | "bad-memory" | "bad-argument";

/** API misuse of src/hv; the message names the field and what was wrong with it. */
export class HvError extends Error {
  /** Machine-readable category. */
  readonly code: HvErrorCode;
  /** Creates an error of category `code`. */
  constructor(code: HvErrorCode, message: string) {
    super(message);
    this.name = "HvError";
    this.code = code;
  }
}
