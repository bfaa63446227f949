/**
 * ActionTrail's advanced query templates and query history (2020-07-06, docs/design.md §3.13):
 *   CreateAdvancedQueryTemplate (TemplateName ≤ 64, TemplateSql, SimpleQuery → TemplateId)
 *   UpdateAdvancedQueryTemplate (TemplateId, TemplateName?, TemplateSql?, SimpleQuery?)
 *   GetAdvancedQueryTemplate (TemplateId) / DeleteAdvancedQueryTemplate (TemplateId)
 *   DescribeAdvancedQueryTemplate (→ QueryTemplates: the built-in ones first, then the account's)
 *   CreateAdvancedQueryHistory (QuerySql, SimpleQuery, DryRun → QueryId; DryRun checks only)
 *   DescribeAdvancedQueryHistory (→ QueryHistoryList, newest first) / DeleteAdvancedQueryHistory (QueryId)
 *
 * Per account, bounded: MAX_TEMPLATES templates, MAX_HISTORY_ENTRIES history entries (the oldest
 * dropped). A template's or entry's SQL must parse (InvalidQuery otherwise, with its position).
 * Built-in templates (BUILT_IN_TEMPLATES, ids `builtin-…`) are read-only. A caller reads and
 * changes only its own account's templates and history (ids of another account are NotFound).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors.ts';
import { parseQuery, QUERY_LIMITS } from './parser.ts';

export const MAX_TEMPLATES = 100;
export const MAX_HISTORY_ENTRIES = 100;
export const MAX_TEMPLATE_NAME = 64;

export interface QueryTemplate {
  id: string;
  name: string;
  sql: string;
  simpleQuery: boolean;
  createdMs: number;
  updatedMs: number;
}

export interface QueryHistoryEntry {
  id: string;
  sql: string;
  simpleQuery: boolean;
  createdMs: number;
}

export interface SavedQueryStore {
  listTemplates(accountId: string): Promise<QueryTemplate[]>;
  getTemplate(accountId: string, id: string): Promise<QueryTemplate | undefined>;
  /** Creates or replaces; false when creating would exceed `max` templates. */
  putTemplate(accountId: string, template: QueryTemplate, max: number): Promise<boolean>;
  deleteTemplate(accountId: string, id: string): Promise<boolean>;
  /** Adds an entry, keeping the newest `max`. */
  addHistory(accountId: string, entry: QueryHistoryEntry, max: number): Promise<void>;
  /** Newest first. */
  listHistory(accountId: string): Promise<QueryHistoryEntry[]>;
  deleteHistory(accountId: string, id: string): Promise<boolean>;
}

export interface SavedQueryPorts {
  store: SavedQueryStore;
  now(): number;
}

/**
 * Built-in templates: the worked queries of ActionTrail's advanced query use cases and the
 * questions of the alert templates (docs/design.md §3.12), as queries of this language.
 */
export const BUILT_IN_TEMPLATES: readonly QueryTemplate[] = [
  ['builtin-root-usage', 'Root account usage (count)', 'event.userIdentity.type: "root-account" | select count(1) as calls'],
  ['builtin-ram-user-creation', 'RAM user creation', '(event.serviceName: Ram or event.serviceName: Ims) and event.eventName: CreateUser'],
  ['builtin-root-logon', 'Root account console logons', 'event.eventType: ConsoleSignin and event.userIdentity.type: "root-account"'],
  ['builtin-logon-failures', 'Console logon failures by user', 'event.eventType: ConsoleSignin and event.errorCode: * | select event.userIdentity.userName, count(*) as failures group by 1 order by failures desc'],
  ['builtin-logon-without-mfa', 'Console logons without MFA', 'event.eventType: ConsoleSignin and (event.additionalEventData.mfaChecked: false or event.additionalEventData.isMFAChecked: false)'],
  ['builtin-unauthorized-calls', 'Unauthorized API calls by AccessKey', '(event.errorCode: Forbidden* or event.errorCode: NoPermission* or event.errorCode: InvalidAccessKeyId*) | select event.userIdentity.accessKeyId, count(*) as n group by 1 order by n desc'],
  ['builtin-forbidden-outside', 'Forbidden calls from outside 10.0.0.0/8, by AccessKey', 'event.errorCode: Forbidden* and not event.sourceIpAddress: 10.* | select event.userIdentity.accessKeyId, count(*) as n group by 1 order by n desc'],
  ['builtin-ram-policy-changes', 'Who changed RAM policies (by count)', 'event.serviceName: Ram and event.eventRW: Write and event.eventName: *Policy* | select event.userIdentity.userName, count(*) as changes group by 1 order by changes desc'],
  ['builtin-accesskey-calls', 'Calls made with an AccessKey', 'event.userIdentity.accessKeyId: *'],
  ['builtin-sensitive-actions', 'Sensitive actions per day', "event.eventAttributes.SensitiveAction: true | select date_trunc('day', event.eventTime) as day, count(*) as n group by day order by day"],
  ['builtin-calls-per-hour', 'Calls per hour', "* | select date_trunc('hour', event.eventTime) as hour, count(*) as calls group by hour order by hour"],
  ['builtin-top-events', 'Most frequent events', '* | select event.serviceName, event.eventName, count(*) as n group by 1, 2 order by n desc limit 20'],
].map(([id, name, sql]) => ({ id: id as string, name: name as string, sql: sql as string, simpleQuery: false, createdMs: 0, updatedMs: 0 }));

const BUILT_IN_PREFIX = 'builtin-';
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const booleanText = z.enum(['true', 'false'], { error: 'must be true or false' }).transform((v) => v === 'true');
const sqlText = z.string().min(1, { error: 'is required' }).max(QUERY_LIMITS.maxQueryLength, { error: `at most ${QUERY_LIMITS.maxQueryLength} characters` });

function param<T>(schema: z.ZodType<T>, params: Record<string, string>, name: string, required: boolean): T | undefined {
  const raw = params[name];
  if (raw === undefined || raw === '') {
    if (required) throw new ValidationError('MissingParameter', `${name} is required`, name);
    return undefined;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ValidationError('InvalidParameter', `${name}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, name);
  return parsed.data;
}

function templateName(params: Record<string, string>, required: boolean): string | undefined {
  const name = param(z.string().max(MAX_TEMPLATE_NAME, { error: `at most ${MAX_TEMPLATE_NAME} characters` }), params, 'TemplateName', required);
  if (name !== undefined && /[\u0000-\u001f]/.test(name)) throw new ValidationError('InvalidParameter', 'TemplateName: no control characters', 'TemplateName');
  return name;
}

/** The SQL, checked to parse (InvalidQuery with its position otherwise). */
function checkedSql(params: Record<string, string>, name: 'TemplateSql' | 'QuerySql', required: boolean): string | undefined {
  const sql = param(sqlText, params, name, required);
  if (sql !== undefined) parseQuery(sql);
  return sql;
}

function idParam(params: Record<string, string>, name: 'TemplateId' | 'QueryId'): string {
  const id = param(z.string(), params, name, true) ?? '';
  if (!ID_PATTERN.test(id)) throw new ValidationError('InvalidParameter', `${name}: letters, digits, - and _, at most 64`, name);
  return id;
}

const newId = (prefix: string): string => `${prefix}-${randomBytes(12).toString('base64url')}`;

function templateAnswer(t: QueryTemplate): Record<string, unknown> {
  const builtIn = t.id.startsWith(BUILT_IN_PREFIX);
  return {
    TemplateId: t.id,
    TemplateName: t.name,
    TemplateSql: t.sql,
    SimpleQuery: t.simpleQuery,
    TemplateType: builtIn ? 'BuiltIn' : 'Custom',
    ...(builtIn ? {} : { CreateTime: new Date(t.createdMs).toISOString().replace(/\.\d{3}Z$/, 'Z'), UpdateTime: new Date(t.updatedMs).toISOString().replace(/\.\d{3}Z$/, 'Z') }),
  };
}

function notFound(id: string): NotFoundError {
  return new NotFoundError('TemplateNotFound', `The advanced query template ${id} does not exist.`);
}

async function ownTemplate(accountId: string, id: string, ports: SavedQueryPorts): Promise<QueryTemplate> {
  if (id.startsWith(BUILT_IN_PREFIX)) {
    throw new ValidationError('TemplateReadOnly', `${id} is a built-in template: it cannot be changed or deleted (create your own from its TemplateSql)`, 'TemplateId');
  }
  const template = await ports.store.getTemplate(accountId, id);
  if (!template) throw notFound(id);
  return template;
}

export type SavedQueryAction = (params: Record<string, string>, caller: { accountId: string }, ports: SavedQueryPorts) => Promise<Record<string, unknown>>;

export const createAdvancedQueryTemplate: SavedQueryAction = async (params, caller, ports) => {
  const sql = checkedSql(params, 'TemplateSql', true) ?? '';
  const name = templateName(params, false) ?? '';
  const simpleQuery = param(booleanText, params, 'SimpleQuery', false) ?? false;
  const now = ports.now();
  const template: QueryTemplate = { id: newId('utpl'), name, sql, simpleQuery, createdMs: now, updatedMs: now };
  if (!(await ports.store.putTemplate(caller.accountId, template, MAX_TEMPLATES))) {
    throw new ValidationError('TemplateLimitExceeded', `An account holds at most ${MAX_TEMPLATES} advanced query templates: delete one first.`);
  }
  return { TemplateId: template.id };
};

export const updateAdvancedQueryTemplate: SavedQueryAction = async (params, caller, ports) => {
  const id = idParam(params, 'TemplateId');
  const sql = checkedSql(params, 'TemplateSql', false);
  const name = templateName(params, false);
  const simpleQuery = param(booleanText, params, 'SimpleQuery', false);
  const current = await ownTemplate(caller.accountId, id, ports);
  const updated: QueryTemplate = {
    ...current,
    ...(sql !== undefined ? { sql } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(simpleQuery !== undefined ? { simpleQuery } : {}),
    updatedMs: ports.now(),
  };
  await ports.store.putTemplate(caller.accountId, updated, MAX_TEMPLATES);
  return { TemplateId: id };
};

export const getAdvancedQueryTemplate: SavedQueryAction = async (params, caller, ports) => {
  const id = idParam(params, 'TemplateId');
  const builtIn = BUILT_IN_TEMPLATES.find((t) => t.id === id);
  const template = builtIn ?? (await ports.store.getTemplate(caller.accountId, id));
  if (!template) throw notFound(id);
  return templateAnswer(template);
};

export const deleteAdvancedQueryTemplate: SavedQueryAction = async (params, caller, ports) => {
  const id = idParam(params, 'TemplateId');
  await ownTemplate(caller.accountId, id, ports);
  await ports.store.deleteTemplate(caller.accountId, id);
  return {};
};

export const describeAdvancedQueryTemplate: SavedQueryAction = async (params, caller, ports) => {
  const nameFilter = templateName(params, false);
  const own = (await ports.store.listTemplates(caller.accountId)).sort((a, b) => b.updatedMs - a.updatedMs);
  const all = [...BUILT_IN_TEMPLATES, ...own].filter((t) => nameFilter === undefined || t.name.toLowerCase().includes(nameFilter.toLowerCase()));
  return { QueryTemplates: all.map(templateAnswer) };
};

export const createAdvancedQueryHistory: SavedQueryAction = async (params, caller, ports) => {
  const sql = checkedSql(params, 'QuerySql', true) ?? '';
  const simpleQuery = param(booleanText, params, 'SimpleQuery', false) ?? false;
  const dryRun = param(booleanText, params, 'DryRun', false) ?? false;
  if (dryRun) return { DryRun: true };
  const entry: QueryHistoryEntry = { id: newId('query'), sql, simpleQuery, createdMs: ports.now() };
  await ports.store.addHistory(caller.accountId, entry, MAX_HISTORY_ENTRIES);
  return { QueryId: entry.id };
};

export const describeAdvancedQueryHistory: SavedQueryAction = async (_params, caller, ports) => {
  const entries = await ports.store.listHistory(caller.accountId);
  return {
    QueryHistoryList: entries.map((e) => ({ QueryId: e.id, QuerySql: e.sql, SimpleQuery: e.simpleQuery, TimeStamp: String(e.createdMs) })),
  };
};

export const deleteAdvancedQueryHistory: SavedQueryAction = async (params, caller, ports) => {
  const id = idParam(params, 'QueryId');
  if (!(await ports.store.deleteHistory(caller.accountId, id))) {
    throw new NotFoundError('QueryNotFound', `The advanced query record ${id} does not exist.`);
  }
  return {};
};

export const SAVED_QUERY_ACTIONS: Readonly<Record<string, SavedQueryAction>> = {
  CreateAdvancedQueryTemplate: createAdvancedQueryTemplate,
  UpdateAdvancedQueryTemplate: updateAdvancedQueryTemplate,
  GetAdvancedQueryTemplate: getAdvancedQueryTemplate,
  DeleteAdvancedQueryTemplate: deleteAdvancedQueryTemplate,
  DescribeAdvancedQueryTemplate: describeAdvancedQueryTemplate,
  CreateAdvancedQueryHistory: createAdvancedQueryHistory,
  DescribeAdvancedQueryHistory: describeAdvancedQueryHistory,
  DeleteAdvancedQueryHistory: deleteAdvancedQueryHistory,
};
