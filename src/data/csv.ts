/**
 * Numeric CSV parsing. Browser-safe: no Node imports.
 *
 * Contract of `parseCsv(text, opts)`:
 * - Lines are split on \n, \r\n or \r; a leading BOM is ignored. Each line is trimmed; blank
 *   lines and lines whose first non-blank character is '#' are skipped.
 * - Cells are split on `delimiter` (default ','); a whitespace delimiter (' ' or '\t') splits on
 *   runs of spaces/tabs. Cells are trimmed and one pair of surrounding double quotes is removed.
 *   Quoted delimiters are NOT supported (this is a reader for numeric matrices, not general CSV).
 * - `header`: true = the first kept line holds column names; false = every line is data;
 *   'auto' (default) = the first kept line is a header when none of its cells is a number.
 * - `columns`: 0-based indices (of the full row) to keep, in the given order; cells of other
 *   columns are not parsed (but every row must still have the same number of cells).
 * - A cell is numeric when it is a decimal literal (`-1`, `.5`, `3e-2`, ...) or one of
 *   NaN / Infinity / inf (any case, optional sign), so that `checkFinite` can report them.
 * - Errors: non-numeric or empty cell → `FormatError` naming the 1-based line and column;
 *   a row whose width differs from the first row → `FormatError` naming the line;
 *   a bad `columns` / `delimiter` option → `ConfigError`; no data rows → `DataError`.
 * - Result: row-major Float32Array `data` of `rows` × `cols`, plus `header` when one was read.
 */
import { ConfigError, DataError, FormatError } from '../errors.js';
import { describe } from '../options.js';

export interface CsvOptions {
  /** Cell separator; default ','. ' ' or '\t' split on any run of spaces and tabs. */
  delimiter?: string;
  /** Whether the first non-comment line holds column names; default 'auto'. */
  header?: boolean | 'auto';
  /** 0-based column indices to keep (in this order); default all columns. */
  columns?: number[];
}

export interface CsvMatrix {
  data: Float32Array;
  rows: number;
  cols: number;
  /** Column names (restricted to `columns` when given), present only when a header was read. */
  header?: string[];
}

// one way to match each string (no nested quantifiers over the same digits): linear time on any cell
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL = /^([+-]?)(nan|inf|infinity)$/i;

/** Parse a cell as a number, or return undefined when it is not numeric. */
function parseNumber(cell: string): number | undefined {
  if (DECIMAL.test(cell)) return Number(cell);
  const m = SPECIAL.exec(cell);
  if (m === null) return undefined;
  if (m[2]!.toLowerCase() === 'nan') return NaN;
  return m[1] === '-' ? -Infinity : Infinity;
}

function unquote(cell: string): string {
  const c = cell.trim();
  return c.length >= 2 && c.startsWith('"') && c.endsWith('"') ? c.slice(1, -1).trim() : c;
}

/** Parse numeric CSV text into a row-major Float32Array matrix. See the file header for the contract. */
export function parseCsv(text: string, opts: CsvOptions = {}): CsvMatrix {
  if (typeof text !== 'string') throw new ConfigError('parseCsv: text must be a string');
  if (opts === null || typeof opts !== 'object') throw new ConfigError('parseCsv: options must be an object');
  const delimiter = opts.delimiter ?? ',';
  if (typeof delimiter !== 'string' || delimiter.length === 0) {
    throw new ConfigError('parseCsv: delimiter must be a non-empty string');
  }
  const headerOpt = opts.header ?? 'auto';
  if (headerOpt !== true && headerOpt !== false && headerOpt !== 'auto') {
    throw new ConfigError(`parseCsv: header must be true, false or 'auto', got ${describe(headerOpt)}`);
  }
  const columns = opts.columns;
  if (columns !== undefined) {
    if (!Array.isArray(columns) || columns.length === 0) {
      throw new ConfigError('parseCsv: columns must be a non-empty array of column indices');
    }
    for (const c of columns) {
      if (!Number.isInteger(c) || c < 0) {
        throw new ConfigError(`parseCsv: columns must be non-negative integers, got ${describe(c)}`);
      }
    }
  }
  const split: (line: string) => string[] =
    delimiter.trim() === '' ? (line) => line.split(/[ \t]+/) : (line) => line.split(delimiter);

  const lines = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split(/\r\n|\n|\r/);
  const values: number[] = [];
  let width = -1; // cells per row in the file (before column selection)
  let widthLine = 0;
  let rows = 0;
  let header: string[] | undefined;
  let first = true;

  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const lineNo = li + 1;
    const cells = split(line).map(unquote);

    if (first) {
      first = false;
      const isHeader =
        headerOpt === true || (headerOpt === 'auto' && cells.every((c) => parseNumber(c) === undefined));
      width = cells.length;
      widthLine = lineNo;
      if (columns !== undefined) {
        const bad = columns.find((c) => c >= width);
        if (bad !== undefined) {
          throw new ConfigError(
            `parseCsv: column index ${bad} is out of range: line ${lineNo} has ${width} columns`,
          );
        }
      }
      if (isHeader) {
        header = columns === undefined ? cells : columns.map((c) => cells[c]!);
        continue;
      }
    }

    if (cells.length !== width) {
      throw new FormatError(
        `CSV line ${lineNo}: ragged row: has ${cells.length} columns but line ${widthLine} has ${width}`,
      );
    }
    const pick = columns ?? null;
    const n = pick === null ? width : pick.length;
    for (let j = 0; j < n; j++) {
      const col = pick === null ? j : pick[j]!;
      const cell = cells[col]!;
      const v = parseNumber(cell);
      if (v === undefined) {
        throw new FormatError(
          cell === ''
            ? `CSV line ${lineNo}, column ${col + 1}: empty cell`
            : `CSV line ${lineNo}, column ${col + 1}: non-numeric value ${JSON.stringify(cell)}`,
        );
      }
      values.push(v);
    }
    rows++;
  }

  if (rows === 0) {
    throw new DataError(
      header === undefined ? 'CSV: no data rows (input is empty)' : 'CSV: no data rows after the header',
    );
  }
  const cols = columns === undefined ? width : columns.length;
  const out: CsvMatrix = { data: Float32Array.from(values), rows, cols };
  if (header !== undefined) out.header = header;
  return out;
}
