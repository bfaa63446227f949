/**
 * The S3-compatible client (embedded s3rver locally, MinIO, or Alibaba Cloud OSS's S3 API).
 * `requestChecksumCalculation: 'WHEN_REQUIRED'` keeps bodies free of aws-chunked framing,
 * which s3rver would store verbatim.
 */
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';

export interface S3Settings {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
}

const clients = new Map<string, S3Client>();

export function s3For(settings: S3Settings): S3Client {
  const key = `${settings.endpoint}|${settings.accessKeyId}`;
  let client = clients.get(key);
  if (!client) {
    client = new S3Client({
      endpoint: settings.endpoint,
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    clients.set(key, client);
  }
  return client;
}

export async function ensureBucket(client: S3Client, bucket: string): Promise<'exists' | 'created'> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return 'exists';
  } catch {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    return 'created';
  }
}
