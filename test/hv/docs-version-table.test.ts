/**
 * docs/cr-pinning.md section 11 maps every row of the spec's version table (cr-pinning-spec.md
 * §0, plus the Heki row of §5) to the tests that cover it, quoting test names as
 * `file: "name"` with "…" for left-out text. This test keeps that map honest: every row has
 * at least one quoted test, and every quote names a test that exists in `test/hv/<file>.test.ts`
 * (its fragments appear in the name in order). Test names built from template literals are
 * expanded with the string literals of their file (`${profile}` → "rfc2019", "jun2020", …;
 * `${c ? "kept" : "cleared"}` → both).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../oracle/qemu.js";

const ROOT = repoRoot();
const TEST_DIR = join(ROOT, "test", "hv");

/** The spec rows the table must have, by a phrase of their first cell. */
const SPEC_ROWS = [
  "RFC 0/2, 19 Dec 2019",
  "RFC v2, 18 Feb 2020",
  "PATCH 0/4, 17 Jun 2020",
  "kvm-unit-tests",
  "PATCH v2..v6",
  "Heki RFC v3",
];

/** Every concrete test name a file can produce. */
function testNames(file: string): string[] {
  const src = readFileSync(join(TEST_DIR, `${file}.test.ts`), "utf8");
  const literals = [...new Set([...src.matchAll(/"([^"\s]{1,30})"/g)].map((m) => m[1]))];
  const names: string[] = [];
  for (const m of src.matchAll(/\btest\(\s*(?:"((?:[^"\\]|\\.)*)"|`((?:[^`\\]|\\.)*)`)/g)) {
    if (m[1] !== undefined) {
      names.push(m[1].replace(/\\(.)/g, "$1"));
      continue;
    }
    // Template literal: each ${...} is a ternary of string literals or a variable.
    let variants = [""];
    for (const part of m[2].split(/(\$\{[^}]*\})/)) {
      let choices: string[];
      if (!part.startsWith("${")) choices = [part];
      else {
        const ternary = [...part.matchAll(/"([^"]*)"/g)].map((x) => x[1]);
        choices = ternary.length > 0 ? ternary : literals;
      }
      variants = variants.flatMap((v) => choices.map((c) => v + c));
      assert.ok(variants.length < 100_000, `${file}: too many expansions of a template name`);
    }
    names.push(...variants);
  }
  return names;
}

/** True when the fragments of `quote` (split at "…") occur in `name` in order. */
function matches(quote: string, name: string): boolean {
  let at = 0;
  for (const fragment of quote.split("…").filter((f) => f.trim() !== "")) {
    const i = name.indexOf(fragment, at);
    if (i < 0) return false;
    at = i + fragment.length;
  }
  return true;
}

test("docs/cr-pinning.md §11: every spec row is mapped, and every quoted test exists", () => {
  const doc = readFileSync(join(ROOT, "docs", "cr-pinning.md"), "utf8");
  const start = doc.indexOf("## 11. Version table");
  const end = doc.indexOf("## 11a.");
  assert.ok(start >= 0 && end > start, "section 11 present");
  const rows = doc
    .slice(start, end)
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| Spec row"));
  const files = new Set(readdirSync(TEST_DIR).map((f) => f.replace(/\.test\.ts$/, "")));
  const cache = new Map<string, string[]>();
  let quotes = 0;
  for (const phrase of SPEC_ROWS) {
    assert.ok(
      rows.some((r) => r.split("|")[1].includes(phrase)),
      `no row for spec row "${phrase}"`,
    );
  }
  for (const row of rows) {
    const [, first, covered] = row.split("|");
    let file: string | null = null;
    let inRow = 0;
    // Tokens: a file name followed by ":" or a space and a quote, or a quoted test name.
    for (const m of covered.matchAll(/([a-z][a-z0-9-]*)(?=:? ")|"([^"]*)"/g)) {
      if (m[1] !== undefined) {
        if (files.has(m[1])) file = m[1];
        continue;
      }
      const quote = m[2];
      if (file === null || quote === "clear") continue; // option values, not test names
      let names = cache.get(file);
      if (!names) {
        names = testNames(file);
        cache.set(file, names);
      }
      assert.ok(
        names.some((n) => matches(quote, n)),
        `${first.trim()}: no test in test/hv/${file}.test.ts matches "${quote}"`,
      );
      quotes++;
      inRow++;
    }
    if (!/not implemented/.test(covered) || inRow > 0) {
      assert.ok(inRow > 0 || /every test/.test(covered), `${first.trim()}: no test quoted`);
    }
  }
  assert.ok(quotes >= 40, `only ${quotes} quoted tests found: the table format changed?`);
});
