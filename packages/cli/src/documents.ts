import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { type Document, LineCounter, parseAllDocuments } from 'yaml';
import { CliError, ExitCode } from './errors.ts';
import { definitionSchema } from './schema.ts';

/** One definition document read from a file: the `n`th of its file (1-based). */
export interface SourceDocument {
  readonly file: string;
  readonly n: number;
  readonly value: unknown;
  /** Line (1-based) of a field path such as `trigger.event.filter`, when known. */
  lineOf(path: string): number | undefined;
}

/** A problem in one document: which file, which document, which field, and what is wrong. */
export interface DocumentProblem {
  readonly file: string;
  readonly n: number;
  readonly path: string;
  readonly message: string;
  readonly line?: number | undefined;
}

export function formatProblem(p: DocumentProblem): string {
  const where = `${p.file} (document ${p.n}${p.line !== undefined ? `, line ${p.line}` : ''})`;
  return `${where}: ${p.path || '(document)'}: ${p.message}`;
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** The files named: each file as given, each directory's YAML and JSON files (recursively, sorted). */
export function definitionFiles(paths: readonly string[], cwd = process.cwd()): string[] {
  const out: string[] = [];
  const visit = (path: string, explicit: boolean): void => {
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(path);
    } catch {
      throw new CliError(`${relative(cwd, path) || path}: no such file or directory`, ExitCode.invalid);
    }
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path).sort()) {
        if (!entry.startsWith('.')) visit(join(path, entry), false);
      }
    } else if (explicit || EXTENSIONS.has(extname(path).toLowerCase())) {
      out.push(path);
    }
  };
  for (const path of paths) visit(path, true);
  if (out.length === 0) throw new CliError(`no .yaml, .yml or .json files in ${paths.join(', ')}`, ExitCode.invalid);
  return out;
}

function pathSegments(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g))
    out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  return out;
}

/**
 * Reads every document of every file (YAML, multi-document with `---`; JSON is YAML too).
 * Syntax errors of all files are collected before anything is reported.
 */
export function readDocuments(
  files: readonly string[],
  cwd = process.cwd(),
): {
  documents: SourceDocument[];
  problems: DocumentProblem[];
} {
  const documents: SourceDocument[] = [];
  const problems: DocumentProblem[] = [];
  for (const path of files) {
    const file = relative(cwd, path) || path;
    const text = readFileSync(path, 'utf8');
    const lineCounter = new LineCounter();
    const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
    const docs: Document[] = Array.isArray(parsed) ? parsed : [];
    let n = 0;
    for (const doc of docs) {
      if (doc.contents === null && doc.errors.length === 0) continue;
      n++;
      if (doc.errors.length > 0) {
        for (const error of doc.errors) {
          problems.push({
            file,
            n,
            path: '',
            message: `invalid YAML: ${(error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`,
            line: error.linePos?.[0].line,
          });
        }
        continue;
      }
      documents.push({
        file,
        n,
        value: doc.toJS({ maxAliasCount: 100 }),
        lineOf(fieldPath) {
          const segments = pathSegments(fieldPath);
          for (let i = segments.length; i >= 0; i--) {
            const node = i === 0 ? doc.contents : doc.getIn(segments.slice(0, i), true);
            const range = (node as { range?: [number, number, number] } | null)?.range;
            if (range) return lineCounter.linePos(range[0]).line;
          }
          return undefined;
        },
      });
    }
    if (n === 0) problems.push({ file, n: 1, path: '', message: 'the file holds no document' });
  }
  return { documents, problems };
}

type Validator = ReturnType<Ajv2020['compile']>;
let compiled: Validator | undefined;
/** Compiled on first use: only the commands that read definition files need it. */
function schemaValidator(): Validator {
  compiled ??= new Ajv2020({ allErrors: true, strict: false }).compile(definitionSchema);
  return compiled;
}

function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc === '' ? s : `${acc}.${s}`), '');
}

/**
 * The schema's errors, readable: an unknown field is named as such, and for a union (the
 * trigger, the context sources) only the errors of the branch its `kind` selects are kept.
 */
function describeErrors(errors: readonly ErrorObject[]): Array<{ path: string; message: string }> {
  // Branches whose `kind` does not match the document are not the document's problem.
  const wrongBranches = new Set<string>();
  for (const e of errors) {
    const m = /^(.*\/(?:oneOf|anyOf)\/\d+)\/properties\/kind\/const$/.exec(e.schemaPath);
    if (e.keyword === 'const' && m) wrongBranches.add(m[1] as string);
  }
  const out: Array<{ path: string; message: string }> = [];
  for (const e of errors) {
    const branch = [...wrongBranches].find((b) => e.schemaPath.startsWith(`${b}/`));
    if (branch) continue;
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf') {
      // Kept only when no branch fits the kind at all; the kind is then what to fix.
      const branches = errors.filter((x) => x.schemaPath.startsWith(`${e.schemaPath}/`));
      const kinds = branches
        .filter((x) => x.keyword === 'const' && x.schemaPath.endsWith('/properties/kind/const'))
        .map((x) => String((x.params as { allowedValue?: unknown }).allowedValue));
      const unselected = branches.every((x) => [...wrongBranches].some((b) => x.schemaPath.startsWith(`${b}/`)));
      if (unselected && kinds.length > 0) {
        out.push({ path: fieldPath(`${e.instancePath}/kind`), message: `expected one of ${kinds.join(', ')}` });
      }
      continue;
    }
    const path = fieldPath(e.instancePath);
    if (e.keyword === 'additionalProperties') {
      const name = (e.params as { additionalProperty: string }).additionalProperty;
      out.push({ path: path === '' ? name : `${path}.${name}`, message: 'unknown field' });
    } else if (e.keyword === 'required') {
      const name = (e.params as { missingProperty: string }).missingProperty;
      out.push({ path: path === '' ? name : `${path}.${name}`, message: 'required field is missing' });
    } else {
      out.push({ path, message: e.message ?? 'invalid value' });
    }
  }
  const seen = new Set<string>();
  return out.filter((p) => {
    const k = `${p.path}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Checks a document against the committed JSON Schema; [] when it conforms. */
export function schemaProblems(doc: SourceDocument): DocumentProblem[] {
  const validate = schemaValidator();
  if (validate(doc.value)) return [];
  return describeErrors(validate.errors ?? []).map((e) => ({
    file: doc.file,
    n: doc.n,
    path: e.path,
    message: e.message,
    line: doc.lineOf(e.path),
  }));
}

/**
 * Reads and checks definition files: YAML syntax, then the JSON Schema, for every document of
 * every file. Throws one CliError (exit 3) listing every problem, so nothing is applied when any
 * document is wrong.
 */
export function loadDefinitions(paths: readonly string[], cwd = process.cwd()): SourceDocument[] {
  const { documents, problems } = readDocuments(definitionFiles(paths, cwd), cwd);
  for (const doc of documents) problems.push(...schemaProblems(doc));
  if (problems.length > 0) {
    throw new CliError(
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in the definition files; nothing was applied`,
      ExitCode.invalid,
      problems.map(formatProblem),
    );
  }
  return documents;
}
