/** Event types become subjects (`events.<type>`): dot-separated tokens without spaces or wildcards. */
export const SUBJECT_TOKENS = /^[\x21-\x7e]+$/;

export const SubjectFilterMessage = 'a NATS subject: dot-separated tokens, "*" for one token, ">" for the rest';

/** A NATS subject filter: tokens of printable ASCII, `*` for one token, `>` only last. */
export function isSubjectFilter(subject: string): boolean {
  const tokens = subject.split('.');
  return tokens.every(
    (t, i) =>
      t !== '' &&
      SUBJECT_TOKENS.test(t) &&
      (t === '*' || t === '>' || !/[*>]/.test(t)) &&
      (t !== '>' || i === tokens.length - 1),
  );
}
