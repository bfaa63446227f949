/**
 * adapters/compliance/bucket-settings.ts: how S3 answers become bucket facts — a configured
 * setting, a "not configured" error (a fact), and any other failure (unknown, with the reason;
 * s3rver's NotImplemented among them). The S3 client is a stub answering per command.
 */
import { S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { bucketSettings } from '../../adapters/compliance/bucket-settings.ts';

type Answer = Record<string, unknown> | Error;

function s3Error(name: string, status: number): Error {
  return new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: `${name} message` });
}

/** An S3 client whose `send` answers by command name. */
function stub(answers: Record<string, Answer>) {
  return {
    send: async (command: object) => {
      const answer = answers[command.constructor.name];
      if (answer === undefined) throw new Error(`unexpected ${command.constructor.name}`);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  } as unknown as Parameters<typeof bucketSettings>[0];
}

describe('bucketSettings', () => {
  it('reads configured settings', async () => {
    const facts = await bucketSettings(
      stub({
        GetBucketEncryptionCommand: { ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'key-9' } }] } },
        GetObjectLockConfigurationCommand: { ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Years: 1 } } } },
        GetBucketAclCommand: {
          Grants: [
            { Grantee: { Type: 'CanonicalUser', ID: 'owner' }, Permission: 'FULL_CONTROL' },
            { Grantee: { Type: 'Group', URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' },
          ],
        },
        GetBucketPolicyStatusCommand: { PolicyStatus: { IsPublic: false } },
        GetPublicAccessBlockCommand: { PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: false, BlockPublicPolicy: true, RestrictPublicBuckets: false } },
      }),
      'logs',
    );
    expect(facts).toEqual({
      bucket: 'logs',
      encryption: { known: true, value: { algorithm: 'aws:kms', kmsKeyId: 'key-9' } },
      objectLock: { known: true, value: { enabled: true, mode: 'COMPLIANCE', days: 365 } },
      publicAccess: {
        acl: { known: true, value: { publicGrants: ['AllUsers READ'] } },
        policy: { known: true, value: { isPublic: false } },
        block: { known: true, value: { blockPublicAcls: true, ignorePublicAcls: false, blockPublicPolicy: true, restrictPublicBuckets: false } },
      },
    });
  });

  it('takes "not configured" answers as facts', async () => {
    const facts = await bucketSettings(
      stub({
        GetBucketEncryptionCommand: s3Error('ServerSideEncryptionConfigurationNotFoundError', 404),
        GetObjectLockConfigurationCommand: s3Error('ObjectLockConfigurationNotFoundError', 404),
        GetBucketAclCommand: { Grants: [] },
        GetBucketPolicyStatusCommand: s3Error('NoSuchBucketPolicy', 404),
        GetPublicAccessBlockCommand: s3Error('NoSuchPublicAccessBlockConfiguration', 404),
      }),
      'logs',
    );
    expect(facts.encryption).toEqual({ known: true, value: null });
    expect(facts.objectLock).toEqual({ known: true, value: { enabled: false } });
    expect(facts.publicAccess).toEqual({ acl: { known: true, value: { publicGrants: [] } }, policy: { known: true, value: null }, block: { known: true, value: null } });
  });

  it('makes every other failure unknown with the server\'s answer as the reason (s3rver: 501/405)', async () => {
    const facts = await bucketSettings(
      stub({
        GetBucketEncryptionCommand: s3Error('NotImplemented', 501),
        GetObjectLockConfigurationCommand: s3Error('MethodNotAllowed', 405),
        GetBucketAclCommand: s3Error('AccessDenied', 403),
        GetBucketPolicyStatusCommand: new Error('socket hang up'),
        GetPublicAccessBlockCommand: s3Error('NotImplemented', 501),
      }),
      'logs',
    );
    expect(facts.encryption).toEqual({ known: false, reason: 'the storage server does not implement GetBucketEncryption (NotImplemented, HTTP 501)' });
    expect(facts.objectLock).toEqual({ known: false, reason: 'the storage server does not implement GetObjectLockConfiguration (MethodNotAllowed, HTTP 405)' });
    expect(facts.publicAccess.acl).toEqual({ known: false, reason: 'GetBucketAcl failed: AccessDenied (HTTP 403): AccessDenied message' });
    expect(facts.publicAccess.policy).toEqual({ known: false, reason: 'GetBucketPolicyStatus failed: Error: socket hang up' });
  });
});
