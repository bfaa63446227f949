/**
 * The compliance report as CSV (RFC 4180), built in the browser for "Export CSV": one row per
 * control — group, id, title, source, status, evidence and fixing calls (one per line in the
 * cell). Every cell is quoted when it holds a comma, quote or line break — or a semicolon or tab,
 * the separators spreadsheets use in many locales, which would split `x;=cmd…` into a formula
 * cell; a cell that a
 * spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) is
 * prefixed with an apostrophe, so evidence such as a user name `=HYPERLINK(…)` stays text.
 */

export interface CsvControl {
  group: string;
  id: string;
  title: string;
  source: string;
  status: string;
  evidence: readonly string[];
  remediation: readonly string[];
}

export const CSV_HEADER = ['Group', 'Control', 'Title', 'Source', 'Status', 'Evidence', 'Remediation'] as const;
const FORMULA_START = /^[=+\-@\t\r]/;
/** A cell holding any of these is quoted: RFC 4180's comma, quote and line breaks, and `;` and tab, list separators of other locales. */
const NEEDS_QUOTES = /[",;\t\r\n]/;

/** One CSV cell: formula-guarded, then quoted when it must be. */
export function csvCell(value: string): string {
  const guarded = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(guarded) ? `"${guarded.replace(/"/g, '""')}"` : guarded;
}

/** The whole report: a header row, then one row per control, CRLF line ends. */
export function complianceCsv(controls: readonly CsvControl[]): string {
  const rows = [CSV_HEADER.map(csvCell), ...controls.map((c) => [c.group, c.id, c.title, c.source, c.status, c.evidence.join('\n'), c.remediation.join('\n')].map(csvCell))];
  return `${rows.map((r) => r.join(',')).join('\r\n')}\r\n`;
}
