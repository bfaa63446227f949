/**
 * Secrets at rest: AES-256-GCM with a key the deployment supplies (TK_SECRETS_KEY).
 *
 * Envelope (one string, safe in a Redis hash field): `v1:<keyId>:<nonce>:<ciphertext+tag>`
 *   keyId       16 hex digits: the first 8 bytes of SHA-256(KEY_ID_LABEL ‖ key), so a value sealed
 *               under another key (a rotation, a wrong deployment) is recognised and the error says
 *               which key it needs — without revealing anything usable about the key.
 *   nonce       base64url of 12 random bytes (a fresh 96-bit nonce per seal).
 *   ciphertext  base64url of the ciphertext followed by the 16-byte GCM tag.
 * The associated data is a context string naming the secret's purpose and its record
 * (`accesskey:<AccessKeyId>`, see `secretContext`), so a ciphertext copied into another record
 * does not open there.
 *
 * Pure (node:crypto only). Errors name the context and key ids, never a key, plaintext or envelope.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export const SECRETS_KEY_BYTES = 32;
export const ENVELOPE_VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_BYTES = 8;
const KEY_ID_LABEL = 'trailkeeper/secret-box/key-id\0';
/** The name the key goes by in messages unless the caller says otherwise. */
export const DEFAULT_KEY_NAME = 'TK_SECRETS_KEY';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const ENVELOPE = /^(v\d+):([0-9a-f]{16}):([A-Za-z0-9_-]+):([A-Za-z0-9_-]+)$/;
/** What any envelope version starts with; a plain-text secret of ours never does. */
const VERSION_PREFIX = /^v\d+:/;

export type SecretBoxFailure = 'malformed' | 'unsupported-version' | 'wrong-key' | 'not-authentic';

export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
  constructor(
    message: string,
    readonly reason: SecretBoxFailure,
    /** For `wrong-key`: the id of the key the value was sealed with. */
    readonly sealedWithKeyId?: string,
  ) {
    super(message);
  }
}

/** The associated data of a secret: its purpose and the id of the record that holds it. */
export function secretContext(purpose: string, recordId: string): string {
  return `${purpose}:${recordId}`;
}

/** Why `text` is not the base64 of a secrets key, or undefined when it is one. Never quotes `text`. */
export function secretsKeyProblem(text: string, name = DEFAULT_KEY_NAME): string | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return `${name} is empty: it must be the base64 of ${SECRETS_KEY_BYTES} random bytes`;
  if (!BASE64.test(trimmed)) return `${name} is not base64: it must be the base64 of ${SECRETS_KEY_BYTES} random bytes`;
  const length = Buffer.from(trimmed, 'base64').length;
  if (length !== SECRETS_KEY_BYTES) return `${name} decodes to ${length} bytes: it must be the base64 of exactly ${SECRETS_KEY_BYTES} random bytes`;
  return undefined;
}

/** The id a key goes by in envelopes and messages. */
export function keyIdOf(key: Uint8Array): string {
  return createHash('sha256').update(KEY_ID_LABEL).update(key).digest().subarray(0, KEY_ID_BYTES).toString('hex');
}

/** Whether `value` is an envelope of some version (as opposed to a plain-text value of an older release). */
export function isSealed(value: string): boolean {
  return VERSION_PREFIX.test(value);
}

/** The id of the key an envelope was sealed with, or undefined when it is not a v1 envelope. */
export function sealedKeyId(envelope: string): string | undefined {
  return ENVELOPE.exec(envelope)?.[2];
}

export class SecretBox {
  readonly #key: Buffer;
  readonly keyId: string;

  /** `key`: 32 bytes. `keyName`: what messages call it (the environment variable). */
  constructor(
    key: Uint8Array,
    readonly keyName: string = DEFAULT_KEY_NAME,
  ) {
    if (key.length !== SECRETS_KEY_BYTES) throw new SecretBoxError(`${keyName} must be ${SECRETS_KEY_BYTES} bytes, not ${key.length}`, 'malformed');
    this.#key = Buffer.from(key);
    this.keyId = keyIdOf(this.#key);
  }

  /** A box from the base64 of a key (as TK_SECRETS_KEY carries it); the error names `keyName`, never the value. */
  static fromBase64(text: string, keyName: string = DEFAULT_KEY_NAME): SecretBox {
    const problem = secretsKeyProblem(text, keyName);
    if (problem) throw new SecretBoxError(problem, 'malformed');
    return new SecretBox(Buffer.from(text.trim(), 'base64'), keyName);
  }

  /** Encrypts `plaintext` bound to `context` (see `secretContext`). */
  seal(plaintext: string | Uint8Array, context: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext), cipher.final(), cipher.getAuthTag()]);
    return `${ENVELOPE_VERSION}:${this.keyId}:${nonce.toString('base64url')}:${body.toString('base64url')}`;
  }

  /** Decrypts an envelope sealed for `context`; throws SecretBoxError (malformed, other version, other key, or not authentic). */
  open(envelope: string, context: string): Buffer {
    const match = ENVELOPE.exec(envelope);
    if (!match) {
      const version = /^(v\d+):/.exec(envelope)?.[1];
      if (version && version !== ENVELOPE_VERSION) {
        throw new SecretBoxError(`the sealed ${context} is an envelope of version ${version}; this release reads ${ENVELOPE_VERSION}`, 'unsupported-version');
      }
      throw new SecretBoxError(`the sealed ${context} is not a well-formed ${ENVELOPE_VERSION} envelope`, 'malformed');
    }
    const [, version, keyId, nonceText, bodyText] = match as unknown as [string, string, string, string, string];
    if (version !== ENVELOPE_VERSION) {
      throw new SecretBoxError(`the sealed ${context} is an envelope of version ${version}; this release reads ${ENVELOPE_VERSION}`, 'unsupported-version');
    }
    if (keyId !== this.keyId) {
      throw new SecretBoxError(
        `the sealed ${context} was encrypted with secrets key ${keyId}, but ${this.keyName} is key ${this.keyId}: supply the key with id ${keyId}`,
        'wrong-key',
        keyId,
      );
    }
    if (!BASE64URL.test(nonceText) || !BASE64URL.test(bodyText)) throw new SecretBoxError(`the sealed ${context} is not a well-formed ${ENVELOPE_VERSION} envelope`, 'malformed');
    const nonce = Buffer.from(nonceText, 'base64url');
    const body = Buffer.from(bodyText, 'base64url');
    if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) throw new SecretBoxError(`the sealed ${context} is not a well-formed ${ENVELOPE_VERSION} envelope`, 'malformed');
    const decipher = createDecipheriv(ALGORITHM, this.#key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new SecretBoxError(`the sealed ${context} failed authentication: it was modified, or it belongs to another record`, 'not-authentic');
    }
  }

  /** `open`, as UTF-8 text. */
  openText(envelope: string, context: string): string {
    return this.open(envelope, context).toString('utf8');
  }

  /** Never the key, whatever logs or serialises a box. */
  toJSON(): { keyId: string } {
    return { keyId: this.keyId };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SecretBox { keyId: '${this.keyId}' }`;
  }
}
