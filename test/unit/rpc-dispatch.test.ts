/**
 * handleRpc's nonce claim and read-only actions (adapters/fc/rpc.ts RpcOptions): a read-only
 * action's first reads go out with the claim, but nothing is answered before the claim holds; any
 * other action runs only after it.
 */
import { describe, expect, it } from 'vitest';
import { handleRpc, type RpcAction } from '../../adapters/fc/rpc.ts';
import type { Log } from '../../adapters/fc/handler.ts';
import type { HttpRequest } from '../../adapters/fc/http.ts';
import { signRpcRequest } from '../../shared/auth/rpc-signature.ts';
import type { KeyLookup, NonceStore } from '../../shared/auth/verify.ts';

const KEY = { accessKeyId: 'LTAI5tDispatchTest', accessKeySecret: 'dispatch-secret', accountId: '1234567890123456' };
const keys: KeyLookup = async (id) => (id === KEY.accessKeyId ? { accountId: KEY.accountId, accessKeySecret: KEY.accessKeySecret, enabled: true } : null);
const log: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Nonces in memory; every claim waits for `gate` (so a test can hold it) and is recorded. */
function nonceStore(gate: () => Promise<void> = async () => undefined): NonceStore & { claims: string[] } {
  const used = new Set<string>();
  const claims: string[] = [];
  return {
    claims,
    claim: async (accessKeyId, nonce) => {
      claims.push(nonce);
      await gate();
      if (used.has(`${accessKeyId} ${nonce}`)) return false;
      used.add(`${accessKeyId} ${nonce}`);
      return true;
    },
  };
}

function request(params: Record<string, string>, secret = KEY.accessKeySecret): HttpRequest {
  const query = signRpcRequest({ method: 'GET', params: { Version: '2020-07-06', ...params }, accessKeyId: KEY.accessKeyId, accessKeySecret: secret });
  return { method: 'GET', path: '/', headers: { host: '127.0.0.1' }, query, body: Buffer.alloc(0), sourceIp: '127.0.0.1', requestId: 'req-1', host: '127.0.0.1' };
}

const bodyOf = (res: { body?: string | Buffer }) => JSON.parse(String(res.body)) as Record<string, unknown>;

describe('handleRpc: the nonce claim', () => {
  it('answers a read-only action only after the claim, and a replay of it with SignatureNonceUsed, never its result', async () => {
    let calls = 0;
    const actions: Record<string, RpcAction> = { LookupEvents: async () => ({ Events: [`secret-${++calls}`] }) };
    const nonces = nonceStore();
    const req = request({ Action: 'LookupEvents' });
    const first = await handleRpc(req, actions, { keys, nonces }, log, { readOnly: new Set(['LookupEvents']) });
    expect(first.statusCode).toBe(200);
    expect(bodyOf(first)).toMatchObject({ Events: ['secret-1'] });
    const replay = await handleRpc(req, actions, { keys, nonces }, log, { readOnly: new Set(['LookupEvents']) });
    expect(replay.statusCode).toBe(400);
    expect(bodyOf(replay)).toMatchObject({ Code: 'SignatureNonceUsed' });
    expect(JSON.stringify(bodyOf(replay))).not.toContain('secret');
    expect(nonces.claims).toHaveLength(2);
  });

  it('starts a read-only action beside the claim but waits for the claim before answering', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const nonces = nonceStore(() => held);
    const order: string[] = [];
    const actions: Record<string, RpcAction> = {
      LookupEvents: async () => {
        order.push('action');
        return { Events: [] };
      },
    };
    const answer = handleRpc(request({ Action: 'LookupEvents' }), actions, { keys, nonces }, log, { readOnly: new Set(['LookupEvents']) }).then((res) => {
      order.push('answer');
      return res;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(order).toEqual(['action']);
    expect(nonces.claims).toHaveLength(1);
    order.push('claimed');
    release();
    expect((await answer).statusCode).toBe(200);
    expect(order).toEqual(['action', 'claimed', 'answer']);
  });

  it('runs any other action only once the claim holds, and never for a replay', async () => {
    let calls = 0;
    const actions: Record<string, RpcAction> = { CreateTrail: async () => ({ Name: `t${++calls}` }) };
    const nonces = nonceStore();
    const req = request({ Action: 'CreateTrail' });
    expect((await handleRpc(req, actions, { keys, nonces }, log, { readOnly: new Set(['LookupEvents']) })).statusCode).toBe(200);
    const replay = await handleRpc(req, actions, { keys, nonces }, log, { readOnly: new Set(['LookupEvents']) });
    expect(bodyOf(replay)).toMatchObject({ Code: 'SignatureNonceUsed' });
    expect(calls).toBe(1);
  });

  it('neither runs a read-only action nor claims the nonce when the signature is wrong', async () => {
    let calls = 0;
    const actions: Record<string, RpcAction> = { LookupEvents: async () => ({ n: ++calls }) };
    const nonces = nonceStore();
    const res = await handleRpc(request({ Action: 'LookupEvents' }, 'wrong-secret'), actions, { keys, nonces }, log, { readOnly: new Set(['LookupEvents']) });
    expect(bodyOf(res)).toMatchObject({ Code: 'SignatureDoesNotMatch' });
    expect(calls).toBe(0);
    expect(nonces.claims).toHaveLength(0);
  });

  it('answers a replayed read-only call whose action fails with SignatureNonceUsed, not the action’s error', async () => {
    const actions: Record<string, RpcAction> = {
      LookupEvents: async (params) => {
        if (params['Fail'] === '1') throw new Error('store down');
        return {};
      },
    };
    const nonces = nonceStore();
    const req = request({ Action: 'LookupEvents', Fail: '1' });
    expect((await handleRpc(req, actions, { keys, nonces }, log, { readOnly: new Set(['LookupEvents']) })).statusCode).toBe(500);
    const replay = await handleRpc(req, actions, { keys, nonces }, log, { readOnly: new Set(['LookupEvents']) });
    expect(bodyOf(replay)).toMatchObject({ Code: 'SignatureNonceUsed' });
  });
});
