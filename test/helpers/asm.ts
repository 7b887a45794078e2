/**
 * Test helper: assemble GNU-as source into flat machine code with binutils (as + objcopy),
 * cached by content so each snippet is assembled once per run.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const cache = new Map<string, Uint8Array>();
let dir: string | undefined;

/**
 * Assemble `source` (Intel syntax, no prefix) for `bits` = 16, 32 or 64 at origin `org`
 * and return the raw bytes.
 */
export function assemble(source: string, bits: 16 | 32 | 64 = 64, org = 0): Uint8Array {
  const key = `${bits}:${org}:${source}`;
  const hit = cache.get(key);
  if (hit) return hit;
  dir ??= mkdtempSync(join(tmpdir(), "pinvm-asm-"));
  const n = cache.size;
  const src = join(dir, `t${n}.s`);
  const obj = join(dir, `t${n}.o`);
  const bin = join(dir, `t${n}.bin`);
  writeFileSync(src, `.intel_syntax noprefix\n.code${bits}\n.org 0\n${source}\n`);
  execFileSync("as", [bits === 64 ? "--64" : "--32", "-o", obj, src]);
  execFileSync("ld", [
    "-m",
    bits === 64 ? "elf_x86_64" : "elf_i386",
    "-Ttext",
    `0x${org.toString(16)}`,
    "--oformat",
    "binary",
    "-e",
    "0",
    "-o",
    bin,
    obj,
  ]);
  const bytes = new Uint8Array(readFileSync(bin));
  cache.set(key, bytes);
  return bytes;
}
