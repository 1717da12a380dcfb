// The CloudEvents identity of an event. A module of its own, without zod: workflow code uses it
// (through workflow-ids.ts), and Temporal evaluates workflow code's modules once per execution.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/**
 * The CloudEvents identity of an event as a 64-char hex SHA-256 of `(source, id)`.
 * Two deliveries of the same event have the same key, whatever their transport form.
 *
 * @example eventKey({ source: 'urn:shop', id: 'order-1', ... }) // 'a3f1…'
 */
export function eventKey(envelope: { readonly source: string; readonly id: string }): string {
  // JSON encoding keeps the pair unambiguous whatever characters either part holds.
  return bytesToHex(sha256(utf8ToBytes(JSON.stringify([envelope.source, envelope.id]))));
}
