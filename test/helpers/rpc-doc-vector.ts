/**
 * The RPC signature's documented known answer ("Request syntax and signature method V2 for RPC
 * APIs", fixed-parameter example: https://help.aliyun.com/en/sdk/product-overview/rpc-mechanism),
 * shared by the server's and the browser's signature tests.
 */
export const RPC_DOC_SECRET = 'testsecret';
export const RPC_DOC_PARAMS: Readonly<Record<string, string>> = {
  AccessKeyId: 'testid',
  Action: 'DescribeDedicatedHosts',
  Format: 'JSON',
  RegionId: 'cn-beijing',
  SignatureMethod: 'HMAC-SHA1',
  SignatureNonce: 'edb2b34af0af9a6d14deaf7c1a5315eb',
  SignatureVersion: '1.0',
  Timestamp: '2023-03-13T08:34:30Z',
  Version: '2014-05-26',
};
/** The documented signature of RPC_DOC_PARAMS, signed GET with RPC_DOC_SECRET. */
export const RPC_DOC_SIGNATURE = '9NaGiOspFP5UPcwX8Iwt2YJXXuk=';
