/**
 * Where alert webhooks may go (docs/design.md §3.12, SSRF): pure checks of a URL and of the
 * addresses its host resolves to. Never: link-local addresses (169.254.0.0/16 — the cloud
 * metadata service among them —, fe80::/10), Alibaba Cloud's metadata address 100.100.100.200,
 * "this network" (0.0.0.0/8, ::), multicast and reserved ranges. Private and loopback ranges
 * (10/8, 172.16/12, 192.168/16, 100.64/10, 127/8, ::1, fc00::/7) only when the deployment allows
 * private networks (TK_ALERTS_ALLOW_PRIVATE_NETWORKS=true: the local stack and the tests).
 */
import { parseIp } from '../insights/allowlist.ts';

export const WEBHOOK_URL_MAX_CHARS = 2048;

interface Block {
  family: 4 | 6;
  network: bigint;
  prefix: number;
}

function block(text: string): Block {
  const [ip, prefix] = text.split('/') as [string, string];
  const parsed = parseIp(ip);
  if (!parsed) throw new Error(`bad block ${text}`);
  return { family: parsed.family, network: parsed.value, prefix: Number(prefix) };
}

const ALWAYS_BLOCKED = [
  '0.0.0.0/8',
  '169.254.0.0/16',
  '100.100.100.200/32',
  '192.0.0.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  'fe80::/10',
  'ff00::/8',
].map(block);
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8', '::1/128', 'fc00::/7'].map(block);

function inBlock(b: Block, family: 4 | 6, value: bigint): boolean {
  if (b.family !== family) return false;
  const bits = family === 4 ? 32 : 128;
  const shift = BigInt(bits - b.prefix);
  return value >> shift === b.network >> shift;
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it is. */
function unmapped(family: 4 | 6, value: bigint): { family: 4 | 6; value: bigint } {
  if (family === 6 && value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
  return { family, value };
}

/** Why a resolved address may not be called, or undefined when it may. */
export function blockedAddress(address: string, allowPrivate: boolean): string | undefined {
  const parsed = parseIp(address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  if (!parsed) return 'the address is not an IP address';
  const { family, value } = unmapped(parsed.family, parsed.value);
  if (ALWAYS_BLOCKED.some((b) => inBlock(b, family, value))) return 'the host resolves to a link-local, metadata or reserved address';
  if (!allowPrivate && PRIVATE.some((b) => inBlock(b, family, value))) return 'the host resolves to a private or loopback address (private networks are not allowed)';
  return undefined;
}

/** Why a webhook URL is refused before any lookup, or undefined: http(s), a host, no credentials, bounded. */
export function webhookUrlProblem(text: string): string | undefined {
  if (text.length > WEBHOOK_URL_MAX_CHARS) return `must be at most ${WEBHOOK_URL_MAX_CHARS} characters`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http or https URL';
  if (url.username !== '' || url.password !== '') return 'must not carry a user name or password';
  if (url.hostname === '') return 'must name a host';
  return undefined;
}

/** What an answer may show of a webhook URL: its scheme, host and port, never its path or query (which carry tokens). */
export function maskedUrlOf(text: string): string {
  const url = new URL(text);
  return `${url.protocol}//${url.host}/…`;
}
