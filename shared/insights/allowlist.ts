/**
 * The IpInsight allowlist (docs/design.md §3.9; ours — ActionTrail has no API for it): IPs and
 * CIDR blocks, IPv4 and IPv6, whose calls never open an IpInsight. Pure: parsing, the canonical
 * form (the network address, lowercase IPv6 without zero compression), and matching.
 */
import { z } from 'zod';

/** Most entries an account's allowlist holds. */
export const MAX_INSIGHT_IP_ALLOWLIST = 100;
/** Shortest prefixes accepted: a wider block would switch IpInsight off (DisableInsight does that). */
export const MIN_IPV4_PREFIX = 8;
export const MIN_IPV6_PREFIX = 32;
/** Longest entry text accepted (a full IPv6 address with a prefix is 43 characters). */
export const MAX_ALLOWLIST_ENTRY_LENGTH = 64;

type Family = 4 | 6;
export interface Cidr {
  family: Family;
  /** The network address as an integer (host bits zero). */
  network: bigint;
  prefix: number;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseIpv4(text: string): bigint | undefined {
  const m = IPV4.exec(text);
  if (!m) return undefined;
  let value = 0n;
  for (const octet of m.slice(1, 5)) {
    if (octet.length > 1 && octet.startsWith('0')) return undefined;
    const n = Number(octet);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.split('::').length > 2) return undefined;
  const [head = '', tail] = text.split('::') as [string, string | undefined];
  const groups = (part: string): string[] | undefined => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  if (!left || !right) return undefined;
  const words: number[] = [];
  const push = (list: string[], allowV4Last: boolean): boolean => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i] as string;
      if (allowV4Last && i === list.length - 1 && g.includes('.')) {
        const v4 = parseIpv4(g);
        if (v4 === undefined) return false;
        words.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      words.push(parseInt(g, 16));
    }
    return true;
  };
  if (!push(left, tail === undefined)) return undefined;
  const leftCount = words.length;
  if (tail !== undefined && !push(right, true)) return undefined;
  const rightWords = words.splice(leftCount);
  const missing = 8 - words.length - rightWords.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const all = [...words, ...Array<number>(tail === undefined ? 0 : missing).fill(0), ...rightWords];
  return all.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
}

/** An address as family and integer, or undefined when it is no IP (a service's name). */
export function parseIp(text: string): { family: Family; value: bigint } | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  if (!text.includes(':')) return undefined;
  const v6 = parseIpv6(text);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

const maskOf = (family: Family, prefix: number): bigint => {
  const bits = BigInt(BITS[family]);
  return ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefix))) - 1n);
};

/** An IP (a /32 or /128) or a CIDR block, its host bits cleared; undefined when invalid or too wide. */
export function parseCidr(text: string): Cidr | undefined {
  if (text.length === 0 || text.length > MAX_ALLOWLIST_ENTRY_LENGTH) return undefined;
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return undefined;
  const bits = BITS[ip.family];
  let prefix = bits;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
  }
  if (prefix > bits || prefix < (ip.family === 4 ? MIN_IPV4_PREFIX : MIN_IPV6_PREFIX)) return undefined;
  return { family: ip.family, network: ip.value & maskOf(ip.family, prefix), prefix };
}

/** The canonical text of a block: `a.b.c.d/p`, or eight lowercase IPv6 groups `/p`. */
export function formatCidr(c: Cidr): string {
  if (c.family === 4) {
    const octets = [24n, 16n, 8n, 0n].map((s) => String((c.network >> s) & 0xffn));
    return `${octets.join('.')}/${c.prefix}`;
  }
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((c.network >> s) & 0xffffn).toString(16));
  return `${groups.join(':')}/${c.prefix}`;
}

export function cidrContains(c: Cidr, ip: string): boolean {
  const parsed = parseIp(ip);
  if (!parsed || parsed.family !== c.family) return false;
  return (parsed.value & maskOf(c.family, c.prefix)) === c.network;
}

/** PutInsightIpAllowlist's entries: IPs or CIDR blocks, at most MAX_INSIGHT_IP_ALLOWLIST, canonical, sorted, each once. */
export const IpAllowlistSchema = z
  .array(
    z
      .string()
      .max(MAX_ALLOWLIST_ENTRY_LENGTH)
      .refine((s) => parseCidr(s) !== undefined, {
        error: `each entry must be an IP or a CIDR block (IPv4 /${MIN_IPV4_PREFIX}–/32, IPv6 /${MIN_IPV6_PREFIX}–/128)`,
      }),
  )
  .max(MAX_INSIGHT_IP_ALLOWLIST, { error: `at most ${MAX_INSIGHT_IP_ALLOWLIST} entries` })
  .transform((entries) => [...new Set(entries.map((e) => formatCidr(parseCidr(e) as Cidr)))].sort());

/** A matcher over stored entries (entries that do not parse are ignored). */
export function allowlistMatcher(entries: readonly string[]): (ip: string) => boolean {
  const blocks = entries.flatMap((e) => {
    const c = parseCidr(e);
    return c ? [c] : [];
  });
  return (ip) => blocks.some((c) => cidrContains(c, ip));
}
