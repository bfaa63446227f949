/**
 * The platform's own RPC client (`@alicloud/openapi-client`, as the ActionTrail SDKs use it)
 * pointed at a test stack's lookup-http: the same request a user's SDK or CLI would send.
 */
import OpenApiModule, * as $OpenApi from '@alicloud/openapi-client';
import * as $Util from '@alicloud/tea-util';
import type { Credentials } from '../../adapters/client/signed-fetch.ts';

// CommonJS with `exports.default`: loaders differ on which one `import` gives.
type ClientClass = typeof OpenApiModule.default;
const Client = ((OpenApiModule as unknown as { default?: ClientClass }).default ?? OpenApiModule) as ClientClass;
export type OpenApiClient = InstanceType<ClientClass>;

/** A client signing with `key`: ACS3 (V3) by default, the RPC signature v1 with `'v2'` (the SDK's name for it). */
export function openApiClient(lookupUrl: string, key: Credentials, signatureAlgorithm?: 'v2'): OpenApiClient {
  return new Client(
    new $OpenApi.Config({
      accessKeyId: key.accessKeyId,
      accessKeySecret: key.accessKeySecret,
      endpoint: lookupUrl.replace(/^http:\/\//, '').replace(/\/$/, ''),
      protocol: 'http',
      regionId: 'cn-hangzhou',
      ...(signatureAlgorithm ? { signatureAlgorithm } : {}),
    }),
  );
}

/** Calls an ActionTrail 2020-07-06 action as the SDKs do (RPC style, form body); throws the SDK's error on a non-2xx answer. */
export async function callAction(client: OpenApiClient, action: string, query: Record<string, string> = {}): Promise<{ statusCode: number; body: Record<string, unknown> }> {
  const params = new $OpenApi.Params({
    action,
    version: '2020-07-06',
    protocol: 'HTTP',
    pathname: '/',
    method: 'POST',
    authType: 'AK',
    style: 'RPC',
    reqBodyType: 'formData',
    bodyType: 'json',
  });
  return (await client.callApi(params, new $OpenApi.OpenApiRequest({ query }), new $Util.RuntimeOptions({ readTimeout: 30_000, connectTimeout: 10_000 }))) as { statusCode: number; body: Record<string, unknown> };
}
