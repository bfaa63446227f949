import { describe, expect, it } from 'vitest';
import { JsonText, stringifyJson } from '../../shared/json-text.ts';

describe('stringifyJson', () => {
  it('is JSON.stringify when there is no JsonText', () => {
    const value = { a: [1, 'two', null, { b: '\u0000x:0' }], c: 'é 😀 \u2028' };
    expect(stringifyJson(value)).toBe(JSON.stringify(value));
  });

  it('writes each JsonText as its text, byte for byte, in place', () => {
    const stored = ['{"eventId":"e1","n":1.50,"s":"\\u0000 é"}', '{ "spaced" : [ 1 ,2 ] }'];
    const body = stringifyJson({ RequestId: 'r', Events: stored.map((t) => new JsonText(t)), One: new JsonText(stored[0] as string) });
    expect(body).toBe(`{"RequestId":"r","Events":[${stored[0]},${stored[1]}],"One":${stored[0]}}`);
  });

  it('leaves strings that look like its markers alone, and never scans the texts', () => {
    // a marker-shaped value without the call's nonce, and a text holding marker-shaped content
    const lookalike = '\u0000AAAAAAAAAAAA:0';
    const text = `{"x":${JSON.stringify(lookalike)}}`;
    const body = stringifyJson({ a: lookalike, b: [new JsonText(text)] });
    expect(JSON.parse(body)).toEqual({ a: lookalike, b: [{ x: lookalike }] });
    expect(body).toBe(`{"a":${JSON.stringify(lookalike)},"b":[${text}]}`);
  });
});

describe('stringifyJson: the answer-shaped fast path and the generic path agree', () => {
  it('gives the same text for answers, nested values, undefined members and toJSON', () => {
    const events = ['{"a":1}', '{"b":[2,3]}'].map((t) => new JsonText(t));
    const cases: unknown[] = [
      { RequestId: 'r', NextToken: undefined, Events: events, Count: 2, Nested: { x: [1, { y: 'z' }] }, When: new Date(0) },
      { Event: events[0], Empty: [], Flag: false, Nothing: null },
      { Deep: { inner: events[1] } },
      [events[0], 'plain'],
      'just a string',
    ];
    for (const value of cases) {
      const fast = stringifyJson(value);
      // the reference: JSON.stringify, then the texts parsed in place
      const reference = JSON.stringify(value, (_k, v: unknown) => (v instanceof JsonText ? JSON.parse(v.text) : v));
      expect(JSON.parse(fast)).toEqual(JSON.parse(reference));
    }
    expect(stringifyJson({ RequestId: 'r', Events: events })).toBe('{"RequestId":"r","Events":[{"a":1},{"b":[2,3]}]}');
  });
});
