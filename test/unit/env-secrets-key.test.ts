/** TK_SECRETS_KEY in the functions' configuration (adapters/env.ts) and the tools' lookup of it. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EnvError, readEnv, secretBoxFromEnv, secretBoxOf } from '../../adapters/env.ts';
import { keyIdOf } from '../../shared/crypto/secret-box.ts';
import { stackSecretsKeyFile, toolSecretBox } from '../../scripts/lib/secrets-key.ts';

const KEY = randomBytes(32);
const BASE = {
  TK_REDIS_URL: 'redis://127.0.0.1:6379',
  TK_S3_ENDPOINT: 'http://127.0.0.1:8701',
  TK_S3_ACCESS_KEY_ID: 'k',
  TK_S3_SECRET_ACCESS_KEY: 's',
  TK_STAGING_BUCKET: 'bucket',
};

function envError(action: () => unknown): EnvError {
  try {
    action();
  } catch (error) {
    if (error instanceof EnvError) return error;
    throw error;
  }
  throw new Error('expected an EnvError');
}

describe('TK_SECRETS_KEY', () => {
  it('is required, and the functions get a box of that key', () => {
    const env = readEnv({ ...BASE, TK_SECRETS_KEY: KEY.toString('base64') });
    expect(secretBoxOf(env).keyId).toBe(keyIdOf(KEY));
    const missing = envError(() => readEnv(BASE));
    expect(missing.message).toMatch(/TK_SECRETS_KEY is required/);
  });

  it('must decode to exactly 32 bytes; the error names the variable, never the value', () => {
    for (const value of [randomBytes(31).toString('base64'), randomBytes(64).toString('base64'), 'not base64 at all!', KEY.toString('hex'), '']) {
      const error = envError(() => readEnv({ ...BASE, TK_SECRETS_KEY: value }));
      expect(error.message).toMatch(/TK_SECRETS_KEY/);
      if (value) expect(error.message).not.toContain(value);
      const alone = envError(() => secretBoxFromEnv({ TK_SECRETS_KEY: value }));
      expect(alone.message).toMatch(/TK_SECRETS_KEY/);
      if (value) expect(alone.message).not.toContain(value);
    }
  });

  describe('the tools', () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'tk-secrets-'));
    afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

    it('take TK_SECRETS_KEY when set, else the local stack key (stack-secrets.json); say how to get one otherwise', () => {
      const fileKey = randomBytes(32);
      const file = stackSecretsKeyFile(stateDir);
      expect(() => toolSecretBox({}, stateDir)).toThrow(/TK_SECRETS_KEY is not set and .*stack-secrets\.json does not exist: run npm start/);
      const write = (secretsKey: unknown) => writeFileSync(file, JSON.stringify({ internalToken: 'x'.repeat(64), secretsKey }), { mode: 0o600 });
      write(fileKey.toString('base64'));
      expect(toolSecretBox({}, stateDir).keyId).toBe(keyIdOf(fileKey));
      expect(toolSecretBox({ TK_SECRETS_KEY: KEY.toString('base64') }, stateDir).keyId).toBe(keyIdOf(KEY));
      const short = randomBytes(8).toString('base64');
      write(short);
      const error = envError(() => toolSecretBox({}, stateDir));
      expect(error.message).toMatch(/stack-secrets\.json: TK_SECRETS_KEY decodes to 8 bytes/);
      expect(error.message).not.toContain(short);
      writeFileSync(file, `{"secretsKey": ${JSON.stringify(short)}`); // cut short
      const broken = envError(() => toolSecretBox({}, stateDir));
      expect(broken.message).toMatch(/has no readable secretsKey/);
      expect(broken.message).not.toContain(short);
    });
  });
});
