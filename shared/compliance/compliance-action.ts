/**
 * `GetComplianceReport` (ours; ActionTrail has no such action), served by lookup-http: the
 * compliance report of the caller's account (docs/design.md §3.11) — or, with `AccountId`, of a
 * member of the organization the caller's account manages. Any other AccountId is refused with
 * `NoPermission` (403), the same answer whether or not such an account exists.
 */
import { z } from 'zod';
import { PermissionError, ValidationError } from '../errors.ts';
import { ACCOUNT_ID_PATTERN } from '../accounts/accounts.ts';
import { gatherComplianceFacts, type ComplianceFactPorts } from './gather.ts';
import { evaluateCompliance } from './report.ts';

export interface ComplianceActionPorts extends ComplianceFactPorts {
  /** The member accounts of the organization `accountId` manages (empty for any other account). */
  membersOf(accountId: string): Promise<string[]>;
}

const ParamsSchema = z.object({
  AccountId: z.string().regex(ACCOUNT_ID_PATTERN, { error: 'an account id is 16 digits' }).optional(),
});

export async function getComplianceReport(params: Record<string, string>, caller: { accountId: string }, ports: ComplianceActionPorts): Promise<Record<string, unknown>> {
  const given = Object.hasOwn(params, 'AccountId') && params['AccountId'] !== '' ? params['AccountId'] : undefined;
  const parsed = ParamsSchema.safeParse({ AccountId: given });
  if (!parsed.success) throw new ValidationError('InvalidParameter', `the parameter AccountId is invalid: ${parsed.error.issues[0]?.message ?? 'bad value'}`, 'AccountId');
  const accountId = parsed.data.AccountId ?? caller.accountId;
  if (accountId !== caller.accountId && !(await ports.membersOf(caller.accountId)).includes(accountId)) {
    throw new PermissionError('NoPermission', 'You are not authorized to read the compliance report of this account: only an organization\'s management account may read its members\'.', 'AccountId');
  }
  const report = evaluateCompliance(await gatherComplianceFacts(accountId, ports));
  return { ...report };
}

export const COMPLIANCE_ACTIONS = { GetComplianceReport: getComplianceReport } as const;
