/**
 * The query language's value rules as DuckDB macros (docs/design.md §3.13; the reference is
 * shared/query/evaluate.ts). The engine defines them once per instance (adapters/duckdb/engine.ts)
 * and compiled statements (compile.ts) call them. Constant SQL: no user text.
 *
 *  - a value is ABSENT when missing, JSON null or the empty string;
 *  - the TEXTS of a value: a string itself, a number or boolean as its JSON text, an array the
 *    texts of its scalar elements, an object none;
 *  - a NUMBER: a JSON number, or a string that is a decimal number (NUMBER_PATTERN, spaces around allowed);
 *  - a TIME: a string `YYYY-MM-DD[(T| )hh:mm[:ss[.f]]][Z|±hh:mm]` (UTC without an offset), in
 *    epoch milliseconds (fraction cut to milliseconds); an impossible date is no time;
 *  - a KEY (group key, plain column): absent → NULL, else the value's JSON text (decoded by the
 *    executor: strings, numbers and booleans keep their type; arrays and objects stay JSON text);
 *  - SORT order of keys and min/max: numbers, then booleans, then strings (arrays and objects as
 *    their JSON text), as a struct `{r: rank, n: number, s: string}` DuckDB compares field by field.
 */

/** The evaluator's numeric text (shared/query/evaluate.ts NUMERIC), in RE2 syntax. */
export const NUMBER_PATTERN = '\\s*-?(?:\\d+(?:\\.\\d+)?|\\.\\d+)(?:[eE][-+]?\\d+)?\\s*';
/** The query language's time literal (shared/query/parser.ts parseTimeLiteral), in RE2 syntax. */
export const TIME_PATTERN = '(\\d{4})-(\\d{2})-(\\d{2})(?:[T ](\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d{1,9}))?)?(Z|[+-]\\d{2}:\\d{2})?)?';

const sqlString = (text: string) => `'${text.replaceAll("'", "''")}'`;
const SCALAR_TYPES = `('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN')`;
const NUMBER_TYPES = `('BIGINT', 'UBIGINT', 'DOUBLE')`;

/** `CREATE MACRO` statements, run once per engine instance, in order. */
export const QUERY_MACROS: readonly string[] = [
  // VARCHAR → DOUBLE, or NULL when the text is no number.
  `CREATE OR REPLACE MACRO tk_num(t) AS CASE WHEN regexp_full_match(t, ${sqlString(NUMBER_PATTERN)}) THEN try_cast(trim(t) AS DOUBLE) END`,
  // VARCHAR → epoch ms, or NULL when the text is no time.
  `CREATE OR REPLACE MACRO tk_time_parts(t) AS regexp_extract(t, ${sqlString(`^${TIME_PATTERN}$`)}, ['y', 'mo', 'd', 'h', 'mi', 's', 'f', 'z'])`,
  `CREATE OR REPLACE MACRO tk_time_of(p) AS CASE WHEN p.y <> '' AND CAST(coalesce(nullif(p.h, ''), '0') AS INTEGER) <= 23 AND CAST(coalesce(nullif(p.mi, ''), '0') AS INTEGER) <= 59 AND CAST(coalesce(nullif(p.s, ''), '0') AS INTEGER) <= 59 THEN
     epoch_ms(try(make_date(CAST(p.y AS INTEGER), CAST(p.mo AS INTEGER), CAST(p.d AS INTEGER)))::TIMESTAMP)
     + CAST(coalesce(nullif(p.h, ''), '0') AS BIGINT) * 3600000 + CAST(coalesce(nullif(p.mi, ''), '0') AS BIGINT) * 60000 + CAST(coalesce(nullif(p.s, ''), '0') AS BIGINT) * 1000
     + CAST(left(p.f || '000', 3) AS BIGINT)
     - CASE WHEN p.z IN ('', 'Z') THEN 0 ELSE (CASE WHEN left(p.z, 1) = '-' THEN -1 ELSE 1 END) * (CAST(substr(p.z, 2, 2) AS BIGINT) * 60 + CAST(substr(p.z, 5, 2) AS BIGINT)) * 60000 END
   END`,
  `CREATE OR REPLACE MACRO tk_time_ms(t) AS tk_time_of(tk_time_parts(t))`,
  // JSON value → DOUBLE (JSON numbers, numeric strings).
  `CREATE OR REPLACE MACRO tk_json_num(x) AS CASE WHEN json_type(x) IN ${NUMBER_TYPES} THEN CAST(x AS DOUBLE) WHEN json_type(x) = 'VARCHAR' THEN tk_num(x ->> '$') END`,
  // JSON value → epoch ms (strings that are times).
  `CREATE OR REPLACE MACRO tk_json_time_ms(x) AS CASE WHEN json_type(x) = 'VARCHAR' THEN tk_time_ms(x ->> '$') END`,
  // JSON value → the values a comparison looks at: an array's elements, else the value itself.
  `CREATE OR REPLACE MACRO tk_values(j) AS CASE WHEN j IS NULL THEN [] WHEN json_type(j) = 'ARRAY' THEN json_extract(j, '$[*]') ELSE [j] END`,
  // JSON value → its texts.
  `CREATE OR REPLACE MACRO tk_texts(j) AS list_transform(list_filter(tk_values(j), lambda x: json_type(x) IN ${SCALAR_TYPES}), lambda x: x ->> '$')`,
  `CREATE OR REPLACE MACRO tk_absent(j) AS j IS NULL OR json_type(j) = 'NULL' OR CAST(j AS VARCHAR) = '""'`,
  // JSON value → key (its JSON text), NULL when absent.
  `CREATE OR REPLACE MACRO tk_key(j) AS CASE WHEN tk_absent(j) THEN NULL ELSE CAST(j AS VARCHAR) END`,
  // JSON value → sort struct (see the header); NULL when absent.
  `CREATE OR REPLACE MACRO tk_sort_json(j) AS CASE WHEN tk_absent(j) THEN NULL
     WHEN json_type(j) IN ${NUMBER_TYPES} THEN {'r': 0, 'n': CAST(j AS DOUBLE), 's': NULL::VARCHAR}
     WHEN json_type(j) = 'BOOLEAN' THEN {'r': 1, 'n': CASE WHEN CAST(j AS BOOLEAN) THEN 1.0 ELSE 0.0 END, 's': NULL::VARCHAR}
     WHEN json_type(j) = 'VARCHAR' THEN {'r': 2, 'n': NULL::DOUBLE, 's': j ->> '$'}
     ELSE {'r': 2, 'n': NULL::DOUBLE, 's': CAST(j AS VARCHAR)} END`,
  // A string (never absent-checked here) → sort struct.
  `CREATE OR REPLACE MACRO tk_sort_text(t) AS CASE WHEN t IS NULL THEN NULL ELSE {'r': 2, 'n': NULL::DOUBLE, 's': t} END`,
  `CREATE OR REPLACE MACRO tk_sort_num(n) AS CASE WHEN n IS NULL THEN NULL ELSE {'r': 0, 'n': CAST(n AS DOUBLE), 's': NULL::VARCHAR} END`,
];
