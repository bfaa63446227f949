/**
 * The stable encoding of SummaryDimensions used as a window's field name: the JSON array of the
 * dimension values in DIMENSION_ORDER. Equal dimensions give byte-equal keys; the key decodes
 * back to the dimensions. Pure.
 */
import type { SummaryDimensions } from './summary-row.ts';

/** The fixed order of the values in a key. Append only: reordering changes stored keys. */
export const DIMENSION_ORDER = [
  'userName',
  'identityType',
  'accountId',
  'accessKeyId',
  'serviceName',
  'eventName',
  'apiVersion',
  'eventRW',
  'resourceType',
  'resourceName',
  'acsRegion',
  'sourceIpAddress',
] as const satisfies readonly (keyof SummaryDimensions)[];

export function dimensionKeyOf(d: SummaryDimensions): string {
  return JSON.stringify(DIMENSION_ORDER.map((name) => (typeof d[name] === 'string' ? d[name] : '')));
}

/** The dimensions of a key, or undefined when it is not one of ours. */
export function dimensionsOfKey(key: string): SummaryDimensions | undefined {
  let values: unknown;
  try {
    values = JSON.parse(key);
  } catch {
    return undefined;
  }
  if (!Array.isArray(values) || values.length !== DIMENSION_ORDER.length) return undefined;
  const out: Record<string, string> = {};
  for (const [i, name] of DIMENSION_ORDER.entries()) {
    const v: unknown = values[i];
    if (typeof v !== 'string') return undefined;
    out[name] = v;
  }
  return out as unknown as SummaryDimensions;
}
