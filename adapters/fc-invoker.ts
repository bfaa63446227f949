/**
 * Async invocations of other functions through Function Compute's invoke API with
 * `@alicloud/fc2` (in the cloud: FC's endpoint; locally: the emulator's, TK_FC_ENDPOINT).
 */
import FC from '@alicloud/fc2';
import type { FcContext } from './fc/context.ts';

/** fc2 addresses functions through a service; FC 3.0 functions answer under any service name. */
const SERVICE = 'trailkeeper';

export class FunctionInvoker {
  private readonly client: FC;

  constructor(context: Pick<FcContext, 'accountId' | 'region' | 'credentials'>, endpoint: string | undefined) {
    this.client = new FC(context.accountId, {
      accessKeyID: context.credentials.accessKeyId,
      accessKeySecret: context.credentials.accessKeySecret,
      ...(context.credentials.securityToken ? { securityToken: context.credentials.securityToken } : {}),
      region: context.region,
      ...(endpoint ? { endpoint } : {}),
      timeout: 10_000,
    });
  }

  /** Queues an invocation (202); the request id makes a repeated wake-up one invocation in FC's logs. */
  async invokeAsync(functionName: string, payload: unknown, requestId?: string): Promise<void> {
    await this.client.invokeFunction(SERVICE, functionName, JSON.stringify(payload), {
      'x-fc-invocation-type': 'Async',
      ...(requestId ? { 'x-fc-request-id': requestId } : {}),
    });
  }
}
