/**
 * The console's CSV export of the compliance report (functions/lookup-http/web/compliance-csv.ts):
 * RFC 4180 quoting, and cells a spreadsheet would run as formulas kept as text.
 */
import { describe, expect, it } from 'vitest';
import { complianceCsv, csvCell } from '../../functions/lookup-http/web/compliance-csv.ts';

describe('csvCell', () => {
  it('leaves plain text as it is and quotes commas, quotes and line breaks', () => {
    expect(csvCell('PASS')).toBe('PASS');
    expect(csvCell('a, b')).toBe('"a, b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('one\ntwo')).toBe('"one\ntwo"');
    expect(csvCell('one\r\ntwo')).toBe('"one\r\ntwo"');
  });

  it('guards cells that start like a formula (= + - @, tab, carriage return)', () => {
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-2+3')).toBe("'-2+3");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tcmd')).toBe(`"'\tcmd"`);
    expect(csvCell('\rcmd')).toBe(`"'\rcmd"`);
    // only the start counts
    expect(csvCell('a=b')).toBe('a=b');
  });

  it('quotes cells holding a semicolon or tab (list separators of other locales), so `x;=cmd…` stays one text cell', () => {
    expect(csvCell("alice;=cmd|' /C calc'!A0")).toBe(`"alice;=cmd|' /C calc'!A0"`);
    expect(csvCell('bob\t=1+1')).toBe('"bob\t=1+1"');
  });
});

describe('complianceCsv', () => {
  it('writes a header and one row per control, evidence and fixes one per line, CRLF between rows', () => {
    const csv = complianceCsv([
      { group: 'CIS', id: 'CIS-2.1', title: 'Exports all', source: 'CIS 2.1, "export"', status: 'FAIL', evidence: ['trail a: stopped', '=cmd|x'], remediation: ['ActionTrail: StartLogging --Name a'] },
      { group: 'Governance', id: 'GOV-CONSOLE-MFA', title: 'MFA', source: 's', status: 'PASS', evidence: [], remediation: [] },
    ]);
    expect(csv).toBe(
      'Group,Control,Title,Source,Status,Evidence,Remediation\r\n' +
        'CIS,CIS-2.1,Exports all,"CIS 2.1, ""export""",FAIL,"trail a: stopped\n=cmd|x",ActionTrail: StartLogging --Name a\r\n' +
        'Governance,GOV-CONSOLE-MFA,MFA,s,PASS,,\r\n',
    );
  });
});
