import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The core runs inside Temporal workflow code: no Node built-ins, no IO libraries, no
// ambient clock or randomness. Test files are exempt.
const FORBIDDEN_PACKAGES = [
  /^node:/,
  /^(fs|path|os|net|http|https|crypto|child_process|worker_threads|stream|dns|tls|zlib|url|util|events|process)(\/|$)/,
  /^(pg|kysely|nats|@nats-io\/|@temporalio\/|undici|axios|node-fetch|ioredis|@aws-sdk\/)/,
];
const ALLOWED_PACKAGES = new Set([
  'zod',
  'luxon',
  '@marcbachmann/cel-js',
  're2js',
  '@noble/hashes/sha2.js',
  '@noble/hashes/utils.js',
]);
const FORBIDDEN_CALLS = [
  /\bDate\.now\(/,
  /\bMath\.random\(/,
  /\bnew Date\(\)/,
  /\bprocess\./,
  /\bfetch\(/,
  /\bsetTimeout\(/,
  /\brequire\(/,
];

const srcDir = dirname(fileURLToPath(import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('packages/core purity', () => {
  const files = sources(srcDir);

  it('finds the sources', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it.each(files.map((f) => [f.slice(srcDir.length + 1), f]))('%s imports nothing that does IO', (_name, file) => {
    const text = readFileSync(file, 'utf8');
    const specifiers = [
      ...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]/g),
      ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((m) => m[1] as string);
    for (const specifier of specifiers) {
      if (specifier.startsWith('./')) {
        expect(specifier, `${file}: relative imports use .ts`).toMatch(/\.ts$/);
        continue;
      }
      expect(
        FORBIDDEN_PACKAGES.some((re) => re.test(specifier)),
        `${file} imports ${specifier}`,
      ).toBe(false);
      expect(ALLOWED_PACKAGES.has(specifier), `${file} imports ${specifier}, which is not on the allow-list`).toBe(
        true,
      );
    }
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    for (const call of FORBIDDEN_CALLS) expect(call.test(code), `${file} uses ${call}`).toBe(false);
  });
});
