import { createHash } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from './sha256.ts';

const reference = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('sha256Hex', () => {
  it('gives the FIPS 180-4 test vectors', () => {
    const utf8 = (s: string) => new TextEncoder().encode(s);
    expect(sha256Hex(utf8(''))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex(utf8('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('every length around the block and padding edges equals node:crypto and @noble/hashes', () => {
    for (let n = 0; n <= 200; n++) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff);
      expect(sha256Hex(data), `length ${n}`).toBe(reference(data));
      expect(sha256Hex(data), `length ${n}`).toBe(bytesToHex(sha256(data)));
    }
  });

  it('any bytes: equals node:crypto', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (data) => sha256Hex(data) === reference(data)),
      { numRuns: 500 },
    );
  });
});
