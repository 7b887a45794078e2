/**
 * Parser for the guest report protocol (guests/README.md): `ok <name>`,
 * `FAIL <name> got=<hex> want=<hex>`, differential `<name> <hex>...` lines and a final
 * `done`. Pure; shared by the QEMU oracle tests and the pinvm guest tests.
 */

/** One failed check. */
export interface ReportFailure {
  /** The check's name, or the whole line when it did not follow the FAIL format. */
  name: string;
  /** The rest of the line after the name (e.g. "got=1 want=0"). */
  detail: string;
}

/** A guest's serial output, taken apart. */
export interface GuestReport {
  /** Names of the checks that passed, in order. */
  passed: string[];
  /** Checks that failed, in order. */
  failed: ReportFailure[];
  /** Differential lines: name -> the hex tokens that followed it, in order of appearance. */
  values: Map<string, string[]>;
  /** True when a `done` line was seen. */
  done: boolean;
  /** Lines that fit none of the forms above (free text such as a greeting). */
  other: string[];
}

const HEX_TOKEN = /^[0-9a-f]+$/;

/** Splits serial output into the protocol's line kinds. Ignores CR and blank lines. */
export function parseReport(serial: string): GuestReport {
  const report: GuestReport = { passed: [], failed: [], values: new Map(), done: false, other: [] };
  for (const rawLine of serial.split("\n")) {
    const line = rawLine.replace(/\r$/, "").trim();
    if (line === "") continue;
    if (line === "done") {
      report.done = true;
      continue;
    }
    const words = line.split(/\s+/);
    if (words[0] === "ok" && words.length === 2) {
      report.passed.push(words[1]);
    } else if (words[0] === "FAIL" && words.length >= 2) {
      report.failed.push({ name: words[1], detail: words.slice(2).join(" ") });
    } else if (
      words.length >= 2 &&
      words.slice(1).every((word) => HEX_TOKEN.test(word) || word === "fault")
    ) {
      report.values.set(words[0], words.slice(1));
    } else {
      report.other.push(line);
    }
  }
  return report;
}
