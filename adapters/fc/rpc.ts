/**
 * ActionTrail-style RPC over FC's HTTP trigger: `GET|POST /?Action=…&Version=2020-07-06&…`,
 * parameters from the query and (for POST) the form body, signed with the RPC signature v1 or
 * ACS3-HMAC-SHA256, answered `{RequestId, …}` or `{RequestId, Code, Message}`.
 */
import { verifyRequest, type KeyLookup, type NonceStore } from '../../shared/auth/verify.ts';
import { NotFoundError, ValidationError } from '../../shared/errors.ts';
import { errorAnswer } from './errors.ts';
import type { Log } from './handler.ts';
import { json, type HttpRequest, type HttpResponse } from './http.ts';

export const API_VERSION = '2020-07-06';

export interface RpcCaller {
  accountId: string;
  accessKeyId: string;
}

export type RpcAction = (params: Record<string, string>, caller: RpcCaller) => Promise<Record<string, unknown>>;

/** Parameters of an RPC request: query, plus a form-encoded POST body. */
export function rpcParams(request: HttpRequest): Record<string, string> {
  const params: Record<string, string> = { ...request.query };
  const type = request.headers['content-type'] ?? '';
  if (request.method === 'POST' && type.startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(request.body.toString('utf8'))) params[k] = v;
  }
  return params;
}

export async function handleRpc(
  request: HttpRequest,
  actions: Readonly<Record<string, RpcAction>>,
  auth: { keys: KeyLookup; nonces: NonceStore },
  log: Log,
): Promise<HttpResponse> {
  const requestId = request.requestId;
  try {
    const params = rpcParams(request);
    const caller = await verifyRequest(request, auth.keys, auth.nonces);
    const name = params['Action'] ?? request.headers['x-acs-action'];
    if (!name) throw new ValidationError('MissingParameter', 'the parameter Action is required', 'Action');
    const version = params['Version'] ?? request.headers['x-acs-version'];
    if (version !== API_VERSION) throw new ValidationError('InvalidVersion', `Version must be ${API_VERSION}; got ${version ?? 'none'}`, 'Version');
    const action = actions[name];
    if (!action) throw new NotFoundError('InvalidAction.NotFound', `the action ${name} does not exist in version ${API_VERSION}`);
    const result = await action(params, { accountId: caller.accountId, accessKeyId: caller.accessKeyId });
    return json(200, { RequestId: requestId, ...result });
  } catch (error) {
    return errorAnswer(error, requestId, log);
  }
}
