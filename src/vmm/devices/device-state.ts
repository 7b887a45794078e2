/**
 * Saved-state validation shared by the VMM's devices. Every device's `load(state)` takes an
 * `unknown` (a snapshot read back from disk is untrusted), checks every field with these
 * helpers first, and only then changes its registers, so a bad snapshot leaves the device
 * exactly as it was and the caller gets one `DeviceStateError` naming the device and field.
 */

/** A saved device state was refused: wrong version, missing field or value out of range. */
export class DeviceStateError extends Error {
  /** The device that refused the state (e.g. "i8259"). */
  readonly device: string;

  /** Creates the error for `device` with a message saying what is wrong. */
  constructor(device: string, message: string) {
    super(`${device}: bad saved state: ${message}`);
    this.name = "DeviceStateError";
    this.device = device;
  }
}

/** A field reader over one saved-state object; every getter throws DeviceStateError. */
export class StateReader {
  private readonly record: Record<string, unknown>;

  /**
   * Checks that `state` is an object whose `version` equals `version` (no check when
   * `version` is undefined: a nested object), and prepares to read its fields for `device`.
   */
  constructor(
    readonly device: string,
    state: unknown,
    version?: number,
    readonly path = "",
  ) {
    if (typeof state !== "object" || state === null || Array.isArray(state)) {
      throw new DeviceStateError(device, `${path || "state"} is not an object`);
    }
    this.record = state as Record<string, unknown>;
    if (version !== undefined && this.record.version !== version) {
      throw new DeviceStateError(device, `version ${String(this.record.version)} is not ${version}`);
    }
  }

  /** A reader for the nested object in field `name`. */
  sub(name: string): StateReader {
    return new StateReader(this.device, this.record[name], undefined, `${this.path}${name}.`);
  }

  /** The raw value of field `name` (for a caller that checks it itself). */
  raw(name: string): unknown {
    return this.record[name];
  }

  /** An integer field in min..max. */
  int(name: string, min: number, max: number): number {
    return checkInt(this.device, this.path + name, this.record[name], min, max);
  }

  /** A boolean field. */
  bool(name: string): boolean {
    const v = this.record[name];
    if (typeof v !== "boolean")
      throw new DeviceStateError(this.device, `${this.path}${name} must be a boolean`);
    return v;
  }

  /** An array of integers in min..max, of exactly `length.exact` or at most `length.max` entries. */
  ints(name: string, min: number, max: number, length: { exact?: number; max?: number }): number[] {
    const v = this.record[name];
    const path = this.path + name;
    if (!Array.isArray(v)) throw new DeviceStateError(this.device, `${path} must be an array`);
    if (length.exact !== undefined && v.length !== length.exact) {
      throw new DeviceStateError(this.device, `${path} must hold ${length.exact} entries`);
    }
    if (length.max !== undefined && v.length > length.max) {
      throw new DeviceStateError(this.device, `${path} holds more than ${length.max} entries`);
    }
    return v.map((x, n) => checkInt(this.device, `${path}[${n}]`, x, min, max));
  }
}

/** Checks that `value` is an integer in min..max, else throws DeviceStateError for `device`. */
export function checkInt(device: string, name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new DeviceStateError(device, `${name} must be an integer in ${min}..${max}`);
  }
  return value;
}

/** Checks that `value` is a boolean, else throws DeviceStateError for `device`. */
export function checkBool(device: string, name: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw new DeviceStateError(device, `${name} must be a boolean`);
  return value;
}
