/**
 * docker-compose.yml holds no secret of its own: Redis's password, the webhook token and MinIO's
 * root key pair all come from variables the user generates (its header says how). A key pair
 * written in the file is public, and with it anyone who reaches MinIO could put backfill/ files
 * (events of any account) into the staging bucket or rewrite the archive.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const file = path.join(import.meta.dirname, '..', '..', 'docker-compose.yml');
const compose = parse(readFileSync(file, 'utf8')) as { services: Record<string, { environment?: Record<string, string>; entrypoint?: string; command?: string[] }> };

/** A value that must be supplied: `${NAME:?message}`. */
const REQUIRED_VARIABLE = /^\$\{[A-Z0-9_]+:\?[^}]+\}$/;

describe('docker-compose.yml secrets', () => {
  it("takes MinIO's root password, the webhook token and Redis's password from required variables", () => {
    const minio = compose.services['minio']?.environment ?? {};
    expect(minio['MINIO_ROOT_PASSWORD']).toMatch(REQUIRED_VARIABLE);
    expect(minio['MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_TRAILKEEPER']).toMatch(REQUIRED_VARIABLE);
    expect(compose.services['redis']?.command?.join(' ')).toMatch(/--requirepass \$\{TK_REDIS_PASSWORD:\?/);
  });

  it('the bucket setup signs in with the same variables, not a key pair of its own', () => {
    const setup = compose.services['minio-setup']?.entrypoint ?? '';
    expect(setup).toMatch(/mc alias set tk http:\/\/minio:9000 \$\{TK_S3_ACCESS_KEY_ID[^}]*\} \$\{TK_S3_SECRET_ACCESS_KEY[^}]*\}/);
    expect(readFileSync(file, 'utf8')).not.toMatch(/trailkeeper-secret/);
  });
});
