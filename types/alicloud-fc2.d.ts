/** The parts of `@alicloud/fc2` (FC 2.0 SDK, no bundled types) that TrailKeeper uses. */
declare module '@alicloud/fc2' {
  interface FcClientConfig {
    accessKeyID: string;
    accessKeySecret: string;
    securityToken?: string;
    region: string;
    endpoint?: string;
    timeout?: number;
    secure?: boolean;
  }
  interface FcResponse<T> {
    headers: Record<string, string>;
    data: T;
  }
  class FC {
    constructor(accountId: string, config: FcClientConfig);
    invokeFunction(
      serviceName: string,
      functionName: string,
      event: Buffer | string,
      headers?: Record<string, string>,
      qualifier?: string,
    ): Promise<FcResponse<Buffer | string>>;
    static getSignature(
      accessKeyID: string,
      accessKeySecret: string,
      method: string,
      path: string,
      headers: Record<string, string>,
      queries?: Record<string, string | string[]>,
    ): string;
  }
  export default FC;
}
