/** classify: runs on each staged or backfilled object (OSS trigger). */
import { decodeOssEvent } from '../../adapters/fc/oss.ts';
import { fcHandler } from '../../adapters/fc/handler.ts';

export const handler = fcHandler(async (event, _context, log) => {
  const objects = decodeOssEvent(event);
  for (const object of objects) log.info('object received', { bucket: object.bucket, key: object.key, eTag: object.eTag });
  return { objects: objects.length };
});
