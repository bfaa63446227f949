/** decodeTrigger against every sample payload in events/, and the ways an event can be wrong. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BadTriggerEventError } from '../../adapters/fc/http.ts';
import { decodeTrigger, type TriggerKind } from '../../adapters/fc/trigger.ts';

const EVENTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../events');
const ALL: TriggerKind[] = ['http', 'oss', 'timer', 'wake', 'destination'];

/** The kind each sample file is, by its name. */
function expectedKind(file: string): TriggerKind {
  if (file.startsWith('http-')) return 'http';
  if (file.startsWith('oss-')) return 'oss';
  if (file.startsWith('timer-')) return 'timer';
  if (file.startsWith('async-on-failure')) return 'destination';
  if (file.startsWith('wake-')) return 'wake';
  throw new Error(`events/${file}: no kind for this name; name samples <kind>-…json`);
}

function sample(file: string): Buffer {
  return readFileSync(path.join(EVENTS, file));
}

function decodeError(event: unknown, accepted: TriggerKind[] = ALL): BadTriggerEventError {
  try {
    decodeTrigger(Buffer.from(typeof event === 'string' ? event : JSON.stringify(event)), accepted);
  } catch (error) {
    if (error instanceof BadTriggerEventError) return error;
    throw error;
  }
  throw new Error('decodeTrigger accepted the event');
}

describe('decodeTrigger on the sample payloads in events/', () => {
  const files = readdirSync(EVENTS).filter((f) => f.endsWith('.json'));

  it('has a sample of every kind', () => {
    expect(new Set(files.map(expectedKind))).toEqual(new Set(ALL));
  });

  it.each(files)('%s decodes to its kind', (file) => {
    const trigger = decodeTrigger(sample(file), ALL);
    expect(trigger.kind).toBe(expectedKind(file));
    switch (trigger.kind) {
      case 'http':
        expect(trigger.request.method).toMatch(/^[A-Z]+$/);
        expect(trigger.request.path.startsWith('/')).toBe(true);
        expect(trigger.request.requestId).not.toBe('');
        break;
      case 'oss':
        expect(trigger.objects.length).toBeGreaterThan(0);
        for (const o of trigger.objects) {
          expect(o.bucket).not.toBe('');
          expect(o.key).not.toBe('');
          expect(o.eTag).not.toContain('"');
        }
        break;
      case 'timer':
        expect(Number.isNaN(Date.parse(trigger.timer.triggerTime))).toBe(false);
        expect(trigger.timer.triggerName).not.toBe('');
        break;
      case 'wake':
        expect(trigger.wake.reason).not.toBe('');
        break;
      case 'destination':
        expect(trigger.record.requestContext.requestId).not.toBe('');
        break;
    }
  });

  it.each(files)('%s is refused by a function that does not accept its kind', (file) => {
    const kind = expectedKind(file);
    const others = ALL.filter((k) => k !== kind);
    const error = decodeError(JSON.parse(sample(file).toString('utf8')), others);
    expect(error.message).toMatch(new RegExp(`^an? [A-Za-z-]+ event reached a function that accepts only ${others.join(', ')}$`));
    expect(error.message.toLowerCase()).toContain(kind === 'wake' ? 'wake-up' : kind);
  });
});

describe('decodeTrigger on bad events', () => {
  it('keeps the JSON error as the cause of "not JSON"', () => {
    const error = decodeError('{"events": [');
    expect(error.message).toBe('the trigger event is not JSON');
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it('refuses a JSON value that is not an object', () => {
    expect(decodeError([1, 2]).message).toContain('not a JSON object');
    expect(decodeError('"text"').message).toContain('not a JSON object');
  });

  it('names the path of every issue in an event of a known kind, with the zod error as cause', () => {
    const oss = JSON.parse(sample('oss-inbox.json').toString('utf8')) as { events: Array<{ oss: { bucket?: unknown; object: { key?: unknown } } }> };
    delete oss.events[0]!.oss.bucket;
    oss.events[0]!.oss.object.key = 42;
    const error = decodeError(oss);
    expect(error.message).toMatch(/^not a valid FC oss event: /);
    expect(error.message).toContain('events.0.oss.bucket');
    expect(error.message).toContain('events.0.oss.object.key');
    expect(error.cause).toBeInstanceOf(z.ZodError);
  });

  it('refuses a wake-up with a reason no function sends', () => {
    expect(decodeError({ reason: 'because' }).message).toContain('wake event: reason');
  });

  it('refuses an object of no known kind, naming the kinds accepted', () => {
    expect(decodeError({ hello: 'world' }, ['timer', 'wake']).message).toBe('not an FC event of any kind this function accepts (timer, wake)');
  });
});
