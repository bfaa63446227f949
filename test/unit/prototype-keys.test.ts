/**
 * Dictionaries keyed by a caller's input never answer with Object.prototype members (issue 11
 * item 8): event names and resource types of ingested events, LookupAttribute keys.
 */
import { describe, expect, it } from 'vitest';
import { classifyEvent } from '../../shared/classify/classify.ts';
import { normaliseResources } from '../../shared/classify/resource-types.ts';
import { parseEvent } from '../../shared/events/schema.ts';
import { parseLookupParams } from '../../shared/lookup/lookup-params.ts';
import { ValidationError } from '../../shared/errors.ts';
import { sampleEvent } from '../../scripts/lib/sample-events.ts';

const NAMES = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__'] as const;

describe('prototype names as data', () => {
  it('an event named after an Object.prototype member is classified like any other name (eventType ApiCall)', () => {
    for (const name of NAMES) {
      const raw: Record<string, unknown> = { ...(sampleEvent('1234567890123456', 0, new Date()) as Record<string, unknown>), eventName: name };
      delete raw['eventType'];
      const parsed = parseEvent(JSON.parse(JSON.stringify(raw)));
      expect(parsed.ok, name).toBe(true);
      if (!parsed.ok) continue;
      const result = classifyEvent(parsed.event) as { event?: Record<string, unknown> };
      expect(result.event?.['eventType'], name).toBe('ApiCall');
    }
  });

  it('resource types named after Object.prototype members are plain keys', () => {
    for (const name of NAMES) {
      const referencedResources = JSON.parse(`{${JSON.stringify(name)}:["r-1","r-2"]}`) as Record<string, string[]>;
      const { legacy } = normaliseResources({ serviceName: 'Ecs', referencedResources });
      expect(Object.hasOwn(legacy, name), name).toBe(true);
      expect(legacy[name], name).toEqual(['r-1', 'r-2']);
    }
  });

  it('a LookupAttribute key named after an Object.prototype member is refused by name', () => {
    for (const name of NAMES) {
      expect(() => parseLookupParams({ 'LookupAttribute.1.Key': name, 'LookupAttribute.1.Value': 'v' }, Date.now()), name).toThrow(ValidationError);
    }
  });
});
