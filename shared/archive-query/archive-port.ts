/**
 * RunAdvancedQuery's archive port (shared/query/run-query.ts `ArchiveQuery`): a request for
 * Source=archive answered by the archive executor (archive-query.ts) — docs/design.md §3.13
 * "Over the archive".
 *
 * A search answers a page of MaxResults events, newest first; its NextToken is sealed as
 * LookupEvents' are (shared/lookup/next-token.ts) and bound to the caller, the accounts, the
 * source, the trail and the query text; it carries the window, so a defaulted range does not
 * drift between pages. A select answers all its rows at once.
 */
import { issueToken, readToken, type TokenBinding } from '../lookup/next-token.ts';
import type { ArchiveQuery, ArchiveQueryRequest } from '../query/run-query.ts';
import { runArchiveQuery, type ArchiveQueryPorts } from './archive-query.ts';

export interface ArchivePortPorts extends ArchiveQueryPorts {
  /** The key NextTokens are sealed with (LookupEvents'). */
  tokenKey(): Promise<Buffer>;
}

function bindingOf(request: ArchiveQueryRequest): TokenBinding {
  return {
    callerAccountId: request.caller.accountId,
    accountIds: request.accountIds,
    direction: 'BACKWARD',
    conditions: [],
    scope: JSON.stringify(['RunAdvancedQuery', 'archive', request.trailName, request.querySql]),
  };
}

export function archiveQueryPort(ports: ArchivePortPorts): ArchiveQuery {
  return async (request) => {
    let { startMs, endMs } = request;
    let after;
    let key: Buffer | undefined;
    if (request.nextToken !== undefined && !request.plan.select) {
      key = await ports.tokenKey();
      const state = readToken(request.nextToken, bindingOf(request), key);
      ({ startMs, endMs } = state);
      after = state.cursor;
    }
    const result = await runArchiveQuery(
      {
        accountId: request.caller.accountId,
        accountIds: request.accountIds,
        trailName: request.trailName,
        plan: request.plan,
        fromMs: startMs,
        toMs: endMs + 1,
        maxRows: request.plan.select ? undefined : request.maxResults,
        after,
      },
      ports,
    );
    if (result.kind === 'rows') return { kind: 'rows', columns: result.columns, rows: result.rows };
    if (!result.next) return { kind: 'events', events: result.events };
    key ??= await ports.tokenKey();
    return { kind: 'events', events: result.events, nextToken: issueToken({ cursor: result.next, startMs, endMs }, bindingOf(request), key) };
  };
}
