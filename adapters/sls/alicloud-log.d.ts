/**
 * The parts of `@alicloud/log` (Alibaba Cloud Log Service SDK for Node.js, no bundled types)
 * that TrailKeeper uses. Checked against @alicloud/log 1.2.6 `lib/client.js`.
 */
declare module '@alicloud/log' {
  interface SlsSdkCredentials {
    accessKeyId: string;
    accessKeySecret: string;
    securityToken?: string;
  }
  interface ClientConfig {
    accessKeyId?: string;
    accessKeySecret?: string;
    /** STS token, sent as `x-acs-security-token`. */
    securityToken?: string;
    credentialsProvider?: { getCredentials(): Promise<SlsSdkCredentials> };
    /** `<region>[-<net>].log.aliyuncs.com` unless `endpoint` is given. */
    region?: string;
    net?: string;
    /** Host, or `http://host` / `https://host` (the scheme sets use_https). */
    endpoint?: string;
    use_https?: boolean;
    userAgent?: string;
  }
  /** One log: `timestamp` becomes `__time__` (epoch seconds); `content` its key/value pairs. */
  interface PutLog {
    timestamp: number;
    timestampNsPart?: number;
    content: Record<string, string>;
  }
  /** One LogGroup: `topic` becomes `__topic__`, `source` `__source__`, `tags` `__tag__:…`. */
  interface PostLogStoreLogsData {
    logs: PutLog[];
    topic?: string;
    source?: string;
    tags?: Record<string, string>[];
  }
  /** What `httpx.request` builds before calling `http.request` (passed to `beforeRequest`). */
  interface HttpxRequestOptions {
    host: string;
    port: number | string;
    path: string;
    method: string;
    headers: Record<string, string | number>;
    timeout: number;
    [option: string]: unknown;
  }
  /** Per-request options handed to `httpx.request`. */
  interface RequestOptions {
    timeout?: number;
    connectTimeout?: number;
    readTimeout?: number;
    agent?: import('node:http').Agent;
    beforeRequest?: (options: HttpxRequestOptions) => HttpxRequestOptions;
  }
  class Client {
    constructor(config: ClientConfig);
    readonly endpoint: string;
    /** PutLogs: protobuf LogGroup POSTed to `/logstores/<logstore>/shards/lb`, signed `LOG <id>:<sig>`. */
    postLogStoreLogs(projectName: string, logstoreName: string, data: PostLogStoreLogsData, options?: RequestOptions): Promise<unknown>;
  }
  export default Client;
  export type { ClientConfig, HttpxRequestOptions, PostLogStoreLogsData, PutLog, RequestOptions, SlsSdkCredentials };
}
