/**
 * The AccessKey audit's actions on lookup-http (docs/design.md §3.10), pure use cases over the
 * audit store: ActionTrail 2020-07-06's GetAccessKeyLastUsedInfo, GetAccessKeyLastUsedProducts,
 * GetAccessKeyLastUsedEvents, GetAccessKeyLastUsedIps and GetAccessKeyLastUsedResources, and
 * our own ListAccessKeyLastUsed (ActionTrail has no such action).
 *
 * Isolation: every read is of the caller's account only. A key with no recorded use in the
 * caller's account — never used, unknown, or another account's — gets the same answer,
 * AccessKeyNotFound, so nothing tells whether another account has such a key.
 *
 * Paging (Events, Ips, Resources): entries newest first (UsedTimestamp, then identity); a
 * NextToken (shared/lookup/next-token.ts, under this audit's own binding: action, caller,
 * AccessKey, ServiceName) carries the last entry returned. An entry used again between pages
 * moves to the front and is not shown again on later pages, as a cursor over live data does.
 */
import { z } from 'zod';
import type { AccessKeySummary } from '../accounts/accounts.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { issueToken, readToken, type TokenBinding } from '../lookup/next-token.ts';
import {
  ACCESS_KEY_AUDIT_RETENTION_DAYS,
  ACCESS_KEY_ID_MAX_CHARS,
  ACCESS_KEY_USE_SOURCE,
  compareEntries,
  type AccessKeyAuditReader,
  type AuditEntry,
  type AuditList,
  type LastUse,
} from './accesskey-audit.ts';

export const ACCESS_KEY_PAGE_SIZE_DEFAULT = 20;
export const ACCESS_KEY_PAGE_SIZE_MAX = 100;
/** ListAccessKeyLastUsed flags a key never used, or not used for this many days. */
export const ACCESS_KEY_UNUSED_DAYS = 90;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Longest ServiceName accepted as a filter. */
const SERVICE_NAME_MAX_CHARS = 128;
/** The identity type of an account's own (root) AccessKey. */
export const ROOT_IDENTITY_TYPE = 'root-account';

export interface AccessKeyAuditPorts {
  audit: AccessKeyAuditReader;
  /** The AccessKeys of an account (the account store; secrets never read). */
  keysOf(accountId: string): Promise<AccessKeySummary[]>;
  /** The server secret NextTokens are signed with (≥ 16 bytes). */
  tokenKey(): Promise<Buffer>;
  now(): number;
}

export type AccessKeyAuditAction = (params: Record<string, string>, caller: { accountId: string }, ports: AccessKeyAuditPorts) => Promise<Record<string, unknown>>;

function field<T>(schema: z.ZodType<T>, value: string | undefined, name: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  if (value === undefined || value === '') throw new ValidationError('MissingParameter', `the parameter ${name} is required`, name);
  throw new ValidationError('InvalidParameter', `the parameter ${name} is invalid: ${r.error.issues[0]?.message ?? 'bad value'}`, name);
}

const accessKeySchema = z
  .string()
  .min(1)
  .max(ACCESS_KEY_ID_MAX_CHARS, { error: `at most ${ACCESS_KEY_ID_MAX_CHARS} characters` })
  .regex(/^[\x21-\x7e]+$/, { error: 'printable ASCII only' });
const serviceNameSchema = z.string().max(SERVICE_NAME_MAX_CHARS, { error: `at most ${SERVICE_NAME_MAX_CHARS} characters` }).optional();
const pageSizeSchema = z
  .string()
  .regex(/^\d{1,3}$/, { error: 'must be an integer' })
  .transform(Number)
  .pipe(z.number().int().min(1, { error: `must be 1–${ACCESS_KEY_PAGE_SIZE_MAX}` }).max(ACCESS_KEY_PAGE_SIZE_MAX, { error: `must be 1–${ACCESS_KEY_PAGE_SIZE_MAX}` }));
const nextTokenSchema = z.string().min(1).optional();

const present = (params: Record<string, string>, name: string): string | undefined => (Object.hasOwn(params, name) && params[name] !== '' ? params[name] : undefined);

function notFound(): NotFoundError {
  return new NotFoundError('AccessKeyNotFound', `The specified AccessKey has no recorded use in this account within ${ACCESS_KEY_AUDIT_RETENTION_DAYS} days.`);
}

/** The key's last use in the caller's account, or the one not-found answer. */
async function lastUseOrNotFound(accessKey: string, caller: { accountId: string }, ports: AccessKeyAuditPorts, nowMs: number): Promise<LastUse> {
  const last = await ports.audit.lastUse(caller.accountId, accessKey, nowMs);
  if (!last) throw notFound();
  return last;
}

/** GetAccessKeyLastUsedInfo's UserName: `root` for the account's own key, else the RAM user's name. */
function userNameOf(last: LastUse): string {
  return last.identityType === ROOT_IDENTITY_TYPE ? 'root' : last.userName;
}

export const getAccessKeyLastUsedInfo: AccessKeyAuditAction = async (params, caller, ports) => {
  const accessKey = field(accessKeySchema, present(params, 'AccessKey'), 'AccessKey');
  const last = await lastUseOrNotFound(accessKey, caller, ports, ports.now());
  return {
    AccessKeyId: accessKey,
    AccountId: last.accountId,
    AccountType: last.identityType,
    OwnerId: last.principalId || last.accountId,
    UserName: userNameOf(last),
    ServiceName: last.serviceName,
    Source: ACCESS_KEY_USE_SOURCE,
    UsedTimestamp: last.usedMs,
    Detail: last.detail,
  };
};

export const getAccessKeyLastUsedProducts: AccessKeyAuditAction = async (params, caller, ports) => {
  const accessKey = field(accessKeySchema, present(params, 'AccessKey'), 'AccessKey');
  const nowMs = ports.now();
  await lastUseOrNotFound(accessKey, caller, ports, nowMs);
  const entries = await ports.audit.entries(caller.accountId, accessKey, 'products', nowMs);
  return {
    Products: entries.map((e) => ({ ServiceName: e.parts[0] ?? '', Source: ACCESS_KEY_USE_SOURCE, UsedTimestamp: e.usedMs, Detail: e.detail })),
  };
};

/** A paged list action: Events, Ips or Resources, optionally of one ServiceName. */
function pagedListAction(action: string, list: AuditList, answerField: string, shape: (e: AuditEntry) => Record<string, unknown>): AccessKeyAuditAction {
  return async (params, caller, ports) => {
    const accessKey = field(accessKeySchema, present(params, 'AccessKey'), 'AccessKey');
    const serviceName = field(serviceNameSchema, present(params, 'ServiceName'), 'ServiceName');
    const pageSizeText = present(params, 'PageSize');
    const pageSize = pageSizeText === undefined ? ACCESS_KEY_PAGE_SIZE_DEFAULT : field(pageSizeSchema, pageSizeText, 'PageSize');
    const nextToken = field(nextTokenSchema, present(params, 'NextToken'), 'NextToken');
    const binding: TokenBinding = {
      // this audit's own domain: a token of another action, key, filter or account does not read back
      callerAccountId: JSON.stringify(['AccessKeyAudit', action, caller.accountId, accessKey, serviceName ?? null]),
      accountIds: [caller.accountId],
      direction: 'BACKWARD',
      conditions: [],
    };
    let key: Buffer | undefined;
    let after: { usedMs: number; member: string } | undefined;
    if (nextToken !== undefined) {
      key = await ports.tokenKey();
      const state = readToken(nextToken, binding, key);
      after = { usedMs: state.cursor.timeMs, member: state.cursor.eventId };
    }
    const nowMs = ports.now();
    await lastUseOrNotFound(accessKey, caller, ports, nowMs);
    const wanted = serviceName?.toLowerCase();
    const all = (await ports.audit.entries(caller.accountId, accessKey, list, nowMs)).filter(
      (e) => (wanted === undefined || (e.parts[0] ?? '').toLowerCase() === wanted) && (!after || compareEntries(e, after) > 0),
    );
    const page = all.slice(0, pageSize);
    const answer: Record<string, unknown> = {
      [answerField]: page.map((e) => ({ ...shape(e), ServiceName: e.parts[0] ?? '', Source: ACCESS_KEY_USE_SOURCE, UsedTimestamp: e.usedMs, Detail: e.detail })),
    };
    const lastShown = page.at(-1);
    if (all.length > page.length && lastShown) {
      key ??= await ports.tokenKey();
      answer.NextToken = issueToken({ cursor: { timeMs: lastShown.usedMs, eventId: lastShown.member }, startMs: 0, endMs: 0 }, binding, key);
    }
    return answer;
  };
}

export const getAccessKeyLastUsedEvents = pagedListAction('GetAccessKeyLastUsedEvents', 'events', 'Events', (e) => ({ EventName: e.parts[1] ?? '' }));
export const getAccessKeyLastUsedIps = pagedListAction('GetAccessKeyLastUsedIps', 'ips', 'Ips', (e) => ({ Ip: e.parts[1] ?? '' }));
export const getAccessKeyLastUsedResources = pagedListAction('GetAccessKeyLastUsedResources', 'resources', 'Resources', (e) => ({
  ResourceType: e.parts[1] ?? '',
  ResourceName: e.parts[2] ?? '',
}));

/**
 * Ours (ActionTrail has no such action): the caller account's AccessKeys with their last use,
 * `UnusedFor90Days` for a key never used or not used for 90 days or more, and `RootAccessKey`
 * for a key whose recorded identity type is `root-account`.
 */
export const listAccessKeyLastUsed: AccessKeyAuditAction = async (_params, caller, ports) => {
  const nowMs = ports.now();
  const keys = await ports.keysOf(caller.accountId);
  const uses = await ports.audit.lastUses(
    caller.accountId,
    keys.map((k) => k.accessKeyId),
    nowMs,
  );
  return {
    AccessKeys: keys.map((k) => {
      const last = uses.get(k.accessKeyId);
      return {
        AccessKeyId: k.accessKeyId,
        Status: k.status,
        CreateTime: k.createdAt,
        ...(last
          ? {
              Source: ACCESS_KEY_USE_SOURCE,
              UsedTimestamp: last.usedMs,
              ServiceName: last.serviceName,
              AccountType: last.identityType,
              UserName: userNameOf(last),
            }
          : {}),
        UnusedFor90Days: !last || last.usedMs <= nowMs - ACCESS_KEY_UNUSED_DAYS * DAY_MS,
        RootAccessKey: last?.identityType === ROOT_IDENTITY_TYPE,
      };
    }),
  };
};

/** The actions by name, as lookup-http serves them. */
export const ACCESS_KEY_AUDIT_ACTIONS: Readonly<Record<string, AccessKeyAuditAction>> = {
  GetAccessKeyLastUsedInfo: getAccessKeyLastUsedInfo,
  GetAccessKeyLastUsedProducts: getAccessKeyLastUsedProducts,
  GetAccessKeyLastUsedEvents: getAccessKeyLastUsedEvents,
  GetAccessKeyLastUsedIps: getAccessKeyLastUsedIps,
  GetAccessKeyLastUsedResources: getAccessKeyLastUsedResources,
  ListAccessKeyLastUsed: listAccessKeyLastUsed,
};
