/**
 * The compliance report (docs/design.md §3.11): every control of the catalogue evaluated over one
 * account's facts, in the answer's shape (ActionTrail-style PascalCase), and its plain-text
 * rendering for the terminal. Pure.
 */
import { z } from 'zod';
import { CONTROLS, CONTROL_GROUPS, CONTROL_STATUSES, type Control, type ControlGroup, type ControlStatus, type Remediation } from './controls.ts';
import type { ComplianceFacts } from './facts.ts';

const ReportRemediationSchema = z.object({
  Api: z.enum(['ActionTrail', 'OSS', 'SLS', 'RAM', 'TrailKeeper']),
  Action: z.string(),
  Params: z.record(z.string(), z.string()),
  Call: z.string(),
  AsAccountId: z.string().optional(),
});

const ReportControlSchema = z.object({
  Id: z.string(),
  Title: z.string(),
  Group: z.enum(CONTROL_GROUPS),
  Source: z.string(),
  Rule: z.string(),
  Status: z.enum(CONTROL_STATUSES),
  Evidence: z.array(z.string()),
  Remediation: z.array(ReportRemediationSchema),
});

/** The answer of GetComplianceReport: what the CLI and the console read back (and check). */
export const ComplianceReportSchema = z.object({
  AccountId: z.string(),
  ManagementAccountId: z.string().optional(),
  GeneratedAt: z.string(),
  /** True when no control FAILs (UNKNOWN does not fail). */
  Compliant: z.boolean(),
  Summary: z.object({ Total: z.number(), Pass: z.number(), Fail: z.number(), NotApplicable: z.number(), Unknown: z.number() }),
  Controls: z.array(ReportControlSchema),
});

export type ReportRemediation = z.infer<typeof ReportRemediationSchema>;
export type ReportControl = z.infer<typeof ReportControlSchema>;
export type ComplianceReport = z.infer<typeof ComplianceReportSchema>;

export const GROUP_TITLES: Readonly<Record<ControlGroup, string>> = {
  CIS: 'CIS Alibaba Cloud Foundation Benchmark',
  BestPractice: 'Best practice (MLPS 2.0)',
  Governance: 'Governance (from the events)',
};

/** A control's evaluation; a control that throws is UNKNOWN with the error, never a crash of the report. */
function evaluateOne(control: Control, facts: ComplianceFacts): ReportControl {
  let status: ControlStatus;
  let evidence: string[];
  let remediation: Remediation[];
  try {
    ({ status, evidence, remediation } = control.evaluate(facts));
  } catch (error) {
    status = 'UNKNOWN';
    evidence = [`the control could not be evaluated: ${error instanceof Error ? error.message : String(error)}`];
    remediation = [];
  }
  return {
    Id: control.id,
    Title: control.title,
    Group: control.group,
    Source: control.source,
    Rule: control.rule,
    Status: status,
    Evidence: evidence,
    Remediation: remediation.map((r) => ({ Api: r.api, Action: r.action, Params: r.params, Call: r.call, ...(r.asAccountId ? { AsAccountId: r.asAccountId } : {}) })),
  };
}

export function evaluateCompliance(facts: ComplianceFacts, controls: readonly Control[] = CONTROLS): ComplianceReport {
  const results = controls.map((c) => evaluateOne(c, facts));
  const count = (s: ControlStatus) => results.filter((r) => r.Status === s).length;
  const fail = count('FAIL');
  return {
    AccountId: facts.accountId,
    ...(facts.managementAccountId ? { ManagementAccountId: facts.managementAccountId } : {}),
    GeneratedAt: new Date(facts.generatedAtMs).toISOString(),
    Compliant: fail === 0,
    Summary: { Total: results.length, Pass: count('PASS'), Fail: fail, NotApplicable: count('NOT_APPLICABLE'), Unknown: count('UNKNOWN') },
    Controls: results,
  };
}

/**
 * The report for a terminal: controls by group, each with its status, evidence and the calls
 * that fix a failure (an ActionTrail call also as the `npm run lookup` line that makes it here).
 */
export function formatReportText(report: ComplianceReport): string {
  const out: string[] = [];
  out.push(`Compliance report for account ${report.AccountId}${report.ManagementAccountId ? ` (member of the organization of ${report.ManagementAccountId})` : ''}, ${report.GeneratedAt}`);
  const s = report.Summary;
  out.push(`${s.Total} controls: ${s.Pass} PASS, ${s.Fail} FAIL, ${s.Unknown} UNKNOWN, ${s.NotApplicable} NOT_APPLICABLE`);
  for (const group of CONTROL_GROUPS) {
    const controls = report.Controls.filter((c) => c.Group === group);
    if (controls.length === 0) continue;
    out.push('', `== ${GROUP_TITLES[group]} ==`);
    for (const c of controls) {
      out.push('', `[${c.Status}] ${c.Id} — ${c.Title}`, `  source: ${c.Source}`);
      for (const e of c.Evidence) out.push(`  - ${e}`);
      if (c.Remediation.length > 0) out.push('  fix:');
      for (const r of c.Remediation) {
        out.push(`    ${r.Api}: ${r.Call}${r.AsAccountId ? `   (as account ${r.AsAccountId})` : ''}`);
        if (r.Api === 'ActionTrail') out.push(`      here: npm run lookup -- Action=${r.Action}${Object.entries(r.Params).map(([k, v]) => ` ${shellWord(`${k}=${v}`)}`).join('')}`);
      }
    }
  }
  out.push('', report.Compliant ? 'COMPLIANT: no control fails (UNKNOWN controls need checking by hand).' : `NOT COMPLIANT: ${s.Fail} control(s) fail.`);
  return `${out.join('\n')}\n`;
}

function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:@,=+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
