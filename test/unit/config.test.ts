/** The product's s.yaml as the emulator (and `s deploy`) reads it. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadProject, type FunctionSpec } from '../../emulator/config.ts';
import { productProject } from '../helpers/stack.ts';

const env = {
  TK_REDIS_URL: 'redis://127.0.0.1:8702',
  TK_S3_ENDPOINT: 'http://127.0.0.1:8701',
  TK_S3_ACCESS_KEY_ID: 'S3RVER',
  TK_S3_SECRET_ACCESS_KEY: 'S3RVER',
  TK_FC_ENDPOINT: 'http://127.0.0.1:8700',
  TK_SECRETS_KEY: Buffer.alloc(32, 7).toString('base64'),
};

function fn(name: string): FunctionSpec {
  const found = loadProject(productProject, { env, accountId: '1234567890123456' }).functions.find((f) => f.resourceName === name);
  if (!found) throw new Error(`no ${name}`);
  return found;
}

describe('s.yaml', () => {
  it('declares the ten product functions and the dead-letter destination, all nodejs20', () => {
    const project = loadProject(productProject, { env, accountId: '1234567890123456' });
    expect(project.functions.map((f) => f.resourceName).sort()).toEqual(
      ['alerts-cron', 'classify', 'compact-cron', 'dead-letter', 'deliver-logstore', 'deliver-oss', 'history-jobs-cron', 'ingest', 'insights-cron', 'lookup-http', 'summarize-cron'].sort(),
    );
    for (const f of project.functions) {
      expect(f.handler).toBe('index.handler');
      expect(f.environment['TK_REDIS_URL']).toBe(env.TK_REDIS_URL);
      expect(f.environment['TK_SECRETS_KEY']).toBe(env.TK_SECRETS_KEY);
    }
  });

  it('wires each function to its trigger', () => {
    expect(fn('ingest').triggers).toEqual([expect.objectContaining({ triggerType: 'http' })]);
    expect(fn('lookup-http').triggers).toEqual([expect.objectContaining({ triggerType: 'http' })]);
    for (const name of ['summarize-cron', 'insights-cron', 'history-jobs-cron', 'alerts-cron']) {
      expect(fn(name).triggers).toEqual([
        expect.objectContaining({ triggerType: 'timer', triggerConfig: expect.objectContaining({ cronExpression: '0 * * * * *' }) }),
      ]);
    }
    expect(fn('compact-cron').triggers).toEqual([
      expect.objectContaining({ triggerType: 'timer', triggerConfig: expect.objectContaining({ cronExpression: '0 */30 * * * *' }) }),
    ]);
    const prefixes = (name: string) =>
      fn(name).triggers.flatMap((t) => (t.triggerType === 'oss' ? [t.triggerConfig.filter.key.prefix] : []));
    expect(prefixes('classify').sort()).toEqual(['backfill/', 'inbox/']);
    expect(prefixes('deliver-logstore')).toEqual(['redeliver/']);
    for (const name of ['deliver-oss', 'deliver-logstore']) {
      expect(fn(name).triggers.some((t) => t.triggerType === 'timer')).toBe(true);
      expect(fn(name).asyncInvokeConfig.destinationConfig?.onFailure?.destination).toBe(
        'acs:fc:cn-hangzhou:1234567890123456:functions/trailkeeper-dead-letter',
      );
    }
  });

  it('names a missing environment variable instead of deploying a blank endpoint', () => {
    const { TK_REDIS_URL: _omitted, ...partial } = env;
    expect(() => loadProject(productProject, { env: partial, accountId: '1' })).toThrow(/TK_REDIS_URL is not set/);
    const { TK_SECRETS_KEY: _key, ...keyless } = env;
    expect(() => loadProject(productProject, { env: keyless, accountId: '1' })).toThrow(/TK_SECRETS_KEY is not set/);
  });

  it('rejects an unsupported runtime with the field named', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tk-yaml-'));
    const file = path.join(dir, 's.yaml');
    writeFileSync(
      file,
      'edition: 3.0.0\nname: x\nresources:\n  f:\n    component: fc3\n    props:\n      region: cn-hangzhou\n      functionName: f\n      runtime: python3.10\n      code: ./dist/f\n      handler: index.handler\n',
    );
    expect(() => loadProject(file, { env: {}, accountId: '1' })).toThrow(ConfigError);
    expect(() => loadProject(file, { env: {}, accountId: '1' })).toThrow(/resources\.f\.props\.runtime/);
  });
});
