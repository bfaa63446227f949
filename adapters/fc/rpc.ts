/**
 * ActionTrail-style RPC over FC's HTTP trigger: `GET|POST /?Action=…&Version=2020-07-06&…`,
 * parameters from the query and a form body, signed with the RPC signature v1 or
 * ACS3-HMAC-SHA256, answered `{RequestId, …}` or `{RequestId, Code, Message}`.
 *
 * What runs is exactly what was signed (docs/design.md §3): the parameters are parsed once
 * (parseRequestParameters) and that one object is both verified and dispatched; nothing is
 * answered before the request's nonce is claimed (a read-only action's first reads go out with
 * the claim, RpcOptions); `x-acs-action`
 * and `x-acs-version` count only under ACS3, which signs them; actions are looked up as own
 * entries only, so `Action=constructor` or `__proto__` is an unknown action.
 */
import { parseRequestParameters, RPC_MAX_FORM_BODY_BYTES } from '../../shared/auth/request-params.ts';
import { authenticateRequest, type KeyLookup, type NonceStore } from '../../shared/auth/verify.ts';
import { NotFoundError, ValidationError } from '../../shared/errors.ts';
import { errorAnswer } from './errors.ts';
import type { Log } from './handler.ts';
import { json, type HttpDecodeLimits, type HttpRequest, type HttpResponse } from './http.ts';

export const API_VERSION = '2020-07-06';

/** The RPC route's body limit (onHttp's maxBodyBytes): a form body is all an RPC call sends. */
export const RPC_DECODE_LIMITS: HttpDecodeLimits = { maxBodyBytes: RPC_MAX_FORM_BODY_BYTES };

export interface RpcCaller {
  accountId: string;
  accessKeyId: string;
}

/** Where a call came from, for actions that record it (shared/trails/api-events.ts). */
export interface RpcRequestContext {
  requestId: string;
  sourceIp: string;
  userAgent?: string | undefined;
}

export type RpcAction = (params: Record<string, string>, caller: RpcCaller, request?: RpcRequestContext) => Promise<Record<string, unknown>>;

/** The table's own entry for `name` (never an Object.prototype member). */
export function findAction(actions: Readonly<Record<string, RpcAction>>, name: string): RpcAction | undefined {
  return Object.hasOwn(actions, name) ? actions[name] : undefined;
}

export interface RpcOptions {
  /**
   * Actions that only read (no write, no side effect): their first store calls go out with the
   * nonce claim, in one round trip; the answer still waits for the claim, so a replay gets
   * SignatureNonceUsed and never the result. Every other action runs only once the claim holds.
   */
  readOnly?: ReadonlySet<string>;
}

export async function handleRpc(
  request: HttpRequest,
  actions: Readonly<Record<string, RpcAction>>,
  auth: { keys: KeyLookup; nonces: NonceStore },
  log: Log,
  options: RpcOptions = {},
): Promise<HttpResponse> {
  const requestId = request.requestId;
  try {
    const params = parseRequestParameters(request);
    // signature checked; the nonce is claimed below, before anything is answered
    const caller = await authenticateRequest(request, auth.keys, auth.nonces, new Date(), { params });
    const signedHeaders = caller.scheme === 'acs3';
    const name = params.all['Action'] ?? (signedHeaders ? request.headers['x-acs-action'] : undefined);
    const version = params.all['Version'] ?? (signedHeaders ? request.headers['x-acs-version'] : undefined);
    const action = name && version === API_VERSION ? findAction(actions, name) : undefined;
    const context: RpcRequestContext = { requestId, sourceIp: request.sourceIp, userAgent: request.headers['user-agent'] };
    const who: RpcCaller = { accountId: caller.accountId, accessKeyId: caller.accessKeyId };
    if (action && name && options.readOnly?.has(name)) {
      const result = action(params.all, who, context);
      result.catch(() => undefined); // awaited below, after the claim (which may fail first)
      await caller.claimNonce();
      return json(200, { RequestId: requestId, ...(await result) });
    }
    await caller.claimNonce();
    if (!name) throw new ValidationError('MissingParameter', 'the parameter Action is required', 'Action');
    if (version !== API_VERSION) throw new ValidationError('InvalidVersion', `Version must be ${API_VERSION}; got ${version ?? 'none'}`, 'Version');
    if (!action) throw new NotFoundError('InvalidAction.NotFound', `the action ${name} does not exist in version ${API_VERSION}`);
    const result = await action(params.all, who, context);
    return json(200, { RequestId: requestId, ...result });
  } catch (error) {
    return errorAnswer(error, requestId, log);
  }
}
