/**
 * Async invocations of other functions through Function Compute's invoke API with
 * `@alicloud/fc2` (in the cloud: FC's endpoint; locally: the emulator's, TK_FC_ENDPOINT).
 */
import FC from '@alicloud/fc2';
import type { FcContext } from './fc/context.ts';

/** FC's longest delay of an async invocation (`x-fc-async-delay`). */
export const MAX_ASYNC_DELAY_SECONDS = 3600;

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

  /**
   * Queues an invocation (202); the request id makes a repeated wake-up one invocation in FC's
   * logs. `delaySeconds` defers it (FC's `x-fc-async-delay`, whole seconds, 0–3600).
   */
  async invokeAsync(functionName: string, payload: unknown, options: { requestId?: string; delaySeconds?: number } = {}): Promise<void> {
    const { requestId, delaySeconds } = options;
    if (delaySeconds !== undefined && !(Number.isInteger(delaySeconds) && delaySeconds >= 0 && delaySeconds <= MAX_ASYNC_DELAY_SECONDS)) {
      throw new RangeError(`async delay must be a whole number of seconds from 0 to ${MAX_ASYNC_DELAY_SECONDS}, got ${delaySeconds}`);
    }
    await this.client.invokeFunction(SERVICE, functionName, JSON.stringify(payload), {
      'x-fc-invocation-type': 'Async',
      ...(requestId ? { 'x-fc-request-id': requestId } : {}),
      ...(delaySeconds ? { 'x-fc-async-delay': String(delaySeconds) } : {}),
    });
  }
}
