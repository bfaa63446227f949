/**
 * deliver-logstore: drains trail outboxes into each trail's logstore `actiontrail_<trail>`
 * (woken by classify, and by its flush timer), and re-delivers an archived range when a request
 * object is put under `redeliver/` (OSS trigger; shared/delivery/redelivery.ts). Locally the
 * logstore is Redis streams; with TK_LOGSTORE=sls it is Alibaba Cloud Log Service.
 */
import { runLogstorePass } from '../../shared/delivery/logstore-delivery.ts';
import { redeliverRequestObject } from '../../shared/delivery/redelivery.ts';
import { onTrigger } from '../../adapters/fc/handler.ts';
import { logstorePassPorts, redeliveryObjectPorts } from '../../adapters/wiring.ts';

export const handler = onTrigger(['timer', 'wake', 'oss'], async (trigger, { context, log }) => {
  if (trigger.kind === 'oss') {
    const ports = redeliveryObjectPorts(context);
    for (const object of trigger.objects) {
      const answer = await redeliverRequestObject(object, ports);
      if (answer) log.info('range re-delivered', { key: object.key, ...answer });
    }
    return { redelivery: true };
  }
  const result = await runLogstorePass(logstorePassPorts(context, log));
  if (result.delivered > 0 || result.setAside > 0) log.info('logstore delivery', { ...result });
  return result;
});
