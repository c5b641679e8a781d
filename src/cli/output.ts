/** Printing results: JSON, YAML, CSV or a plain table for people. */
import { stringify } from 'yaml';
import { CliError, ExitCode } from './errors.js';

export type Format = 'table' | 'json' | 'yaml' | 'csv';

export function parseFormat(value: string | undefined, allowed: readonly Format[]): Format {
  const format = (value ?? 'table') as Format;
  if (!allowed.includes(format)) throw new CliError(`unknown output format "${value}"; use one of ${allowed.filter((f) => f !== 'table').join(', ')} (or leave -o out for a table)`, ExitCode.Usage);
  return format;
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function structured(value: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? JSON.stringify(value, null, 2) : stringify(value);
}

/** Aligned columns with a header row; empty cells print as "-". */
export function table(headers: string[], rows: (string | number | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === undefined || c === '' ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]!))).join('   ')).join('\n');
}

/** RFC 4180 CSV: fields with commas, quotes or newlines are quoted. */
export function csv(headers: string[], rows: (string | number | undefined)[][]): string {
  const field = (v: string | number | undefined) => {
    const s = v === undefined ? '' : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [headers, ...rows].map((r) => r.map(field).join(',')).join('\n');
}

/** "key: value" lines, aligned, for one object shown to a person. */
export function details(entries: [string, string | number | undefined][]): string {
  const width = Math.max(...entries.map(([k]) => k.length)) + 1;
  return entries.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v === undefined || v === '' ? '-' : v}`).join('\n');
}
