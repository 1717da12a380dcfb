import { styleText } from 'node:util';
import { assertNever } from '@activity-core/core';
import { stringify } from 'yaml';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Where a command writes; swapped in unit tests. */
export interface Io {
  readonly out: NodeJS.WritableStream & { isTTY?: boolean };
  readonly err: NodeJS.WritableStream & { isTTY?: boolean };
}

export const processIo: Io = { out: process.stdout, err: process.stderr };

type Style = Parameters<typeof styleText>[0];

/** Colour only for a terminal, and never with NO_COLOR set (styleText checks both for the stream). */
export function paint(io: Io, style: Style, text: string, stream: 'out' | 'err' = 'out'): string {
  return styleText(style, text, { stream: io[stream] });
}

/** A value as JSON or YAML, or the command's table. */
export function emit(io: Io, format: OutputFormat, value: unknown, table: () => string): void {
  switch (format) {
    case 'json':
      io.out.write(`${JSON.stringify(value, null, 2)}\n`);
      return;
    case 'yaml':
      io.out.write(stringify(value, { lineWidth: 0 }));
      return;
    case 'table': {
      const text = table();
      if (text !== '') io.out.write(text.endsWith('\n') ? text : `${text}\n`);
      return;
    }
    default:
      assertNever(format);
  }
}

function width(text: string): number {
  // Colour codes take no room on screen.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  if (rows.length === 0) return '';
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => width(r[i] ?? ''))));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - width(cell))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A value on one line, cut to `max` characters. */
export function brief(value: unknown, max = 80): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text === undefined) return '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `2026-12-01T09:00:00.000Z` → `2026-12-01 09:00:00Z`. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
