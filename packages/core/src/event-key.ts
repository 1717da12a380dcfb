// The CloudEvents identity of an event. A module of its own, without zod: workflow code uses it
// (through workflow-ids.ts), and Temporal evaluates workflow code's modules once per execution
// (hence its own SHA-256, which, unlike @noble/hashes' sha2 module, costs nothing to load).
import { sha256Hex } from './sha256.ts';

/**
 * The CloudEvents identity of an event as a 64-char hex SHA-256 of `(source, id)`.
 * Two deliveries of the same event have the same key, whatever their transport form.
 *
 * @example eventKey({ source: 'urn:shop', id: 'order-1', ... }) // 'a3f1…'
 */
export function eventKey(envelope: { readonly source: string; readonly id: string }): string {
  // JSON encoding keeps the pair unambiguous whatever characters either part holds.
  return sha256Hex(new TextEncoder().encode(JSON.stringify([envelope.source, envelope.id])));
}
