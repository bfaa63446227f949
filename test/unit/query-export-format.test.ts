import { describe, expect, it } from 'vitest';
import { csvCell, csvLine, EVENT_COLUMNS, eventRow, rowObject } from '../../shared/query/export-format.ts';

describe('advanced query export formats', () => {
  it('writes RFC 4180 cells: quoted when needed, quotes doubled, absent empty, numbers as numbers', () => {
    expect(csvLine(['a', 'b,c', 'say "hi"', 'two\nlines', null, 3, true])).toBe('a,"b,c","say ""hi""","two\nlines",,3,true\r\n');
    expect(csvCell(-5)).toBe('-5');
  });

  it('keeps a text a spreadsheet would run as a formula as text', () => {
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('-x')).toBe("'-x");
  });

  it('quotes a cell holding a semicolon or tab, so a spreadsheet splitting on its locale separator finds no formula cell', () => {
    // an event field (userAgent, errorMessage…) is whatever the caller sent; Excel in a `;` locale splits unquoted cells at `;`
    expect(csvCell("aliyun-cli;=cmd|' /C calc'!A0")).toBe(`"aliyun-cli;=cmd|' /C calc'!A0"`);
    expect(csvCell('ua\t=1+1')).toBe('"ua\t=1+1"');
    expect(csvLine(['ok', 'x;@SUM(A1)'])).toBe('ok,"x;@SUM(A1)"\r\n');
  });

  it('flattens an event to the fixed columns and a row to an object', () => {
    const row = eventRow({ eventTime: '2026-12-03T10:00:00Z', eventName: 'StopInstance', userIdentity: { type: 'ram-user', userName: 'alice' }, errorCode: null, eventId: 'e1' });
    expect(EVENT_COLUMNS.map(([name]) => name)).toEqual(['eventTime', 'eventName', 'serviceName', 'eventRW', 'userType', 'userName', 'accessKeyId', 'sourceIpAddress', 'errorCode', 'acsRegion', 'eventId']);
    expect(row).toEqual(['2026-12-03T10:00:00Z', 'StopInstance', null, null, 'ram-user', 'alice', null, null, null, null, 'e1']);
    expect(rowObject(['k', 'n'], ['LTAI', 3])).toEqual({ k: 'LTAI', n: 3 });
  });
});
