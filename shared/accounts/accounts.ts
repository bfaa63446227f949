/**
 * Accounts and their AccessKey pairs (the credentials callers sign requests with), and the
 * organization directory (which member accounts a management account governs).
 * An AccountStore hands out secrets in plain text and keeps them encrypted at rest
 * (the Redis store seals each with the deployment's TK_SECRETS_KEY, context `accesskey:<AccessKeyId>`).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

export const ACCOUNT_ID_PATTERN = /^\d{16}$/;
export const AccountIdSchema = z.string().regex(ACCOUNT_ID_PATTERN, 'an account id is 16 digits');

export const AccessKeySchema = z.object({
  accessKeyId: z.string().regex(/^LTAI[0-9A-Za-z]{12,28}$/),
  accountId: AccountIdSchema,
  accessKeySecret: z.string().min(20),
  status: z.enum(['Active', 'Inactive']),
  createdAt: z.string(),
});
export type AccessKey = z.infer<typeof AccessKeySchema>;
/** What may be shown of a key after its creation: everything but the secret. */
export const AccessKeySummarySchema = AccessKeySchema.omit({ accessKeySecret: true });
export type AccessKeySummary = z.infer<typeof AccessKeySummarySchema>;
/** The purpose an AccessKey secret is sealed for at rest (with the AccessKeyId as its record). */
export const ACCESS_KEY_SECRET_PURPOSE = 'accesskey';

const ALPHANUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomAlphanumeric(length: number): string {
  const bytes = randomBytes(length * 2);
  let out = '';
  for (let i = 0; out.length < length && i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte < 248) out += ALPHANUM[byte % 62];
  }
  return out.length === length ? out : randomAlphanumeric(length);
}

/** A new AccessKey pair in Alibaba Cloud's shape: `LTAI` + 20 characters, a 30-character secret. */
export function newAccessKey(accountId: string, now: Date = new Date()): AccessKey {
  return {
    accessKeyId: `LTAI5t${randomAlphanumeric(18)}`,
    accountId: AccountIdSchema.parse(accountId),
    accessKeySecret: randomAlphanumeric(30),
    status: 'Active',
    createdAt: now.toISOString(),
  };
}

export function summaryOf(key: AccessKey): AccessKeySummary {
  const { accessKeySecret: _secret, ...rest } = key;
  return rest;
}

export interface AccountStore {
  createKey(accountId: string): Promise<AccessKey>;
  getKey(accessKeyId: string): Promise<AccessKey | undefined>;
  listKeys(accountId?: string): Promise<AccessKeySummary[]>;
  setKeyStatus(accessKeyId: string, status: AccessKey['status']): Promise<boolean>;
  deleteKey(accessKeyId: string): Promise<boolean>;
  /** Makes `memberAccountId` a member of the organization managed by `managementAccountId`. */
  addMember(managementAccountId: string, memberAccountId: string, organizationId?: string): Promise<void>;
  removeMember(memberAccountId: string): Promise<boolean>;
  managementAccountOf(accountId: string): Promise<string | undefined>;
  membersOf(managementAccountId: string): Promise<string[]>;
  organizationIdOf(managementAccountId: string): Promise<string | undefined>;
}
