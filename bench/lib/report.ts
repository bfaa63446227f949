/** Small helpers shared by the benchmarks: percentiles and a Markdown table. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function printTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  const line = (cells: readonly (string | number)[]) => `| ${cells.join(' | ')} |`;
  process.stdout.write(`${line(header)}\n${line(header.map(() => '---'))}\n${rows.map(line).join('\n')}\n`);
}
