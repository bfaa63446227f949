/**
 * The secrets key of a test: a fresh TK_SECRETS_KEY (base64 of 32 random bytes) in an environment
 * record, read back through `secretBoxFromEnv` — the path the functions and the tools take — so a
 * test's stores seal with exactly the key its functions open with.
 */
import { randomBytes } from 'node:crypto';
import { SECRETS_KEY_VARIABLE, secretBoxFromEnv } from '../../adapters/env.ts';
import type { SecretBox } from '../../shared/crypto/secret-box.ts';

const KEY_BYTES = 32;

export function testSecretsEnv(): { [SECRETS_KEY_VARIABLE]: string } {
  return { [SECRETS_KEY_VARIABLE]: randomBytes(KEY_BYTES).toString('base64') };
}

/** A box for a test without a stack (store tests): a fresh key, through the environment path. */
export function testSecretBox(): SecretBox {
  return secretBoxFromEnv(testSecretsEnv());
}
