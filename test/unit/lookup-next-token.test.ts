import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors.ts';
import { issueToken, readToken, type TokenBinding, type TokenState } from '../../shared/lookup/next-token.ts';

const KEY = randomBytes(32);
const STATE: TokenState = {
  cursor: { timeMs: Date.UTC(2024, 5, 14, 8), eventId: '6EEC3A76-C207-5075-889D-A909E62F0001' },
  startMs: Date.UTC(2024, 5, 8),
  endMs: Date.UTC(2024, 5, 15, 0, 0, 0, 999),
};
const BINDING: TokenBinding = {
  callerAccountId: '1000',
  accountIds: ['1000', '2000'],
  startTime: undefined,
  endTime: undefined,
  direction: 'BACKWARD',
  conditions: [{ key: 'EventName', value: 'ConsoleSignin' }],
};

function refused(token: string, binding: TokenBinding = BINDING, key: Buffer = KEY): ValidationError {
  try {
    readToken(token, binding, key);
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected InvalidNextToken');
}

describe('NextToken', () => {
  it('reads back what it carries, for the same binding (account order does not matter)', () => {
    const token = issueToken(STATE, BINDING, KEY);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(readToken(token, BINDING, KEY)).toEqual(STATE);
    expect(readToken(token, { ...BINDING, accountIds: ['2000', '1000', '2000'] }, KEY)).toEqual(STATE);
  });

  it('flipping any single byte is detected', () => {
    const token = issueToken(STATE, BINDING, KEY);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < token.length; i += 1) {
      const ch = token[i];
      if (ch === '.') continue;
      const swapped = alphabet[(alphabet.indexOf(ch ?? 'A') + 1) % alphabet.length] ?? 'A';
      const forged = token.slice(0, i) + swapped + token.slice(i + 1);
      const err = refused(forged);
      expect(err.code).toBe('InvalidNextToken');
      expect(err.status).toBe(400);
      expect(err.field).toBe('NextToken');
    }
  });

  it('a payload re-signed with another key, or read with another key, is refused', () => {
    const other = randomBytes(32);
    const foreign = issueToken({ ...STATE, cursor: { timeMs: 0, eventId: 'x' } }, BINDING, other);
    expect(refused(foreign).code).toBe('InvalidNextToken');
    const token = issueToken(STATE, BINDING, KEY);
    expect(refused(token, BINDING, other).code).toBe('InvalidNextToken');
    // Swapping payloads between two genuine tokens breaks the tag.
    const a = issueToken(STATE, BINDING, KEY);
    const b = issueToken({ ...STATE, cursor: { timeMs: 1, eventId: 'y' } }, BINDING, KEY);
    expect(refused(`${b.split('.')[0]}.${a.split('.')[1]}`).code).toBe('InvalidNextToken');
  });

  it('truncated or malformed tokens are refused', () => {
    const token = issueToken(STATE, BINDING, KEY);
    for (const bad of [
      token.slice(0, -1),
      token.slice(0, token.indexOf('.')),
      token.slice(0, token.indexOf('.') + 1),
      token.slice(1),
      `${token}=`,
      `${token}.x`,
      '.',
      'abc',
      'a.b',
      '{"v":1}',
      'x'.repeat(5000),
      `${token} `,
    ]) {
      expect(refused(bad).code).toBe('InvalidNextToken');
    }
  });

  it('bound to the query: another caller, account set, window, direction or condition is refused', () => {
    const token = issueToken(STATE, BINDING, KEY);
    const variants: TokenBinding[] = [
      { ...BINDING, callerAccountId: '2000' },
      { ...BINDING, accountIds: ['1000'] },
      { ...BINDING, accountIds: ['1000', '2000', '3000'] },
      { ...BINDING, startTime: '2024-06-08T00:00:00Z', endTime: '2024-06-15T00:00:00Z' },
      { ...BINDING, direction: 'FORWARD' },
      { ...BINDING, conditions: [] },
      { ...BINDING, conditions: [{ key: 'EventName', value: 'ConsoleSignout' }] },
      { ...BINDING, conditions: [{ key: 'User', value: 'ConsoleSignin' }] },
      { ...BINDING, conditions: [{ key: 'EventName', value: 'ConsoleSignin' }, { key: 'ServiceName', value: 'Ecs' }] },
    ];
    for (const binding of variants) {
      const err = refused(token, binding);
      expect(err.code).toBe('InvalidNextToken');
      expect(err.message).toContain('another query');
    }
  });

  it('refuses to work with a short or missing key', () => {
    expect(() => issueToken(STATE, BINDING, Buffer.alloc(8))).toThrow(TypeError);
    expect(() => readToken('a.b', BINDING, Buffer.alloc(0))).toThrow(TypeError);
  });
});
