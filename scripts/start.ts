/**
 * `npm start`: the whole local stack, no Docker.
 *   Redis (Debian's redis-server, child process, AOF on)  → 127.0.0.1:8702
 *   S3-compatible server (embedded s3rver, child process) → 127.0.0.1:8701
 *   the emulator on s.yaml: invoke API                     → 127.0.0.1:8700
 *     ingest (HTTP trigger) 8710, lookup-http (HTTP trigger) 8711 (console at /console), timers, OSS triggers
 * Ports: TK_INVOKE_PORT, TK_S3_PORT, TK_REDIS_PORT, TK_INGEST_PORT, TK_LOOKUP_PORT.
 * External services instead of the embedded ones: TK_REDIS_URL; TK_S3_ENDPOINT with
 * TK_S3_ACCESS_KEY_ID / TK_S3_SECRET_ACCESS_KEY (MinIO, OSS).
 * Ctrl-C stops everything.
 */
import path from 'node:path';
import { loadProject } from '../emulator/config.ts';
import { startEmulator, type RunningEmulator } from '../emulator/emulator.ts';
import { createLogger } from '../emulator/logger.ts';
import { installLastResort } from '../emulator/http-guard.ts';
import { MissingDependencyError, portInUse, startRedis, startS3, type StartedProcess } from '../emulator/stack/processes.ts';
import { ensureBucket, s3For } from '../adapters/s3.ts';
import { HISTORY_SERVER_CONFIG } from '../adapters/redis/history-store.ts';
import { demoFile, loadOrCreateFcAccount, loadOrCreateStackSecrets, readLiveLock, removeLock, repoRoot, stackSecretsFile, stackSettings, withRedisPassword, writeLock } from './lib/local-stack.ts';
import { ensureDemo } from './lib/demo.ts';
import { secretBoxFromEnv } from '../adapters/env.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

const settings = stackSettings();
const { host, ports, stateDir } = settings;
const say = (line = '') => process.stdout.write(`${line}\n`);
const logger = createLogger((line) => process.stdout.write(`${line}\n`));
// one bad request (or any other slip) is logged; the stack keeps serving
installLastResort(logger);

function abort(message: string): never {
  process.stderr.write(`\n✖ ${message}\n\n`);
  process.exit(1);
}

const running = readLiveLock(stateDir);
if (running) {
  abort(
    `TrailKeeper is already running (pid ${running.pid}, started ${running.startedAt}).\n` +
      Object.entries(running.endpoints).map(([k, v]) => `    ${k.padEnd(12)} ${v}`).join('\n') +
      `\n  Stop it with Ctrl-C in its terminal, or start a second stack with other ports and TK_STATE_DIR.`,
  );
}

const externalRedis = process.env['TK_REDIS_URL'];
const externalS3 = process.env['TK_S3_ENDPOINT'];
const wanted: [string, string, number][] = [
  ['invoke API', 'TK_INVOKE_PORT', ports.invoke],
  ['ingest', 'TK_INGEST_PORT', ports.ingest],
  ['lookup-http', 'TK_LOOKUP_PORT', ports.lookup],
  ...(externalS3 ? [] : [['S3 server', 'TK_S3_PORT', ports.s3] as [string, string, number]]),
  ...(externalRedis ? [] : [['Redis', 'TK_REDIS_PORT', ports.redis] as [string, string, number]]),
];
for (const [what, variable, port] of wanted) {
  if (await portInUse(port, host)) abort(`port ${port} (${what}) is already in use by another program. Free it, or choose another: ${variable}=<port> npm start`);
}

writeLock(stateDir, { pid: process.pid, startedAt: new Date().toISOString(), endpoints: {} });
const started: StartedProcess[] = [];
let emulator: RunningEmulator | undefined;
let stopping = false;

/** A stop that takes longer than this is cut short. */
const SHUTDOWN_LIMIT_MS = 20_000;

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('\nStopping TrailKeeper…');
  setTimeout(() => {
    process.stderr.write('Stopping took too long; exiting.\n');
    process.exit(code || 1);
  }, SHUTDOWN_LIMIT_MS).unref();
  await emulator?.stop().catch((e: unknown) => logger.error(`emulator stop: ${String(e)}`));
  for (const child of started.reverse()) await child.stop().catch(() => undefined);
  removeLock(stateDir);
  say('Stopped.');
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  const account = loadOrCreateFcAccount(stateDir);
  // the internal token, Redis password, embedded S3 key and TK_SECRETS_KEY (stack-secrets.json, 0600)
  const secrets = loadOrCreateStackSecrets(stateDir);
  const ownRedisUrl = `redis://${host}:${ports.redis}`;
  const redisUrl =
    externalRedis ??
    (started.push(await startRedis({ port: ports.redis, dir: path.join(stateDir, 'redis'), host, config: HISTORY_SERVER_CONFIG, password: secrets.redisPassword })),
    withRedisPassword(ownRedisUrl, secrets.redisPassword));
  const s3Endpoint = externalS3 ?? `http://${host}:${ports.s3}`;
  const s3Keys = externalS3
    ? { id: process.env['TK_S3_ACCESS_KEY_ID'] ?? abort('TK_S3_ENDPOINT is set: also set TK_S3_ACCESS_KEY_ID'), secret: process.env['TK_S3_SECRET_ACCESS_KEY'] ?? abort('TK_S3_ENDPOINT is set: also set TK_S3_SECRET_ACCESS_KEY') }
    : { id: secrets.s3AccessKeyId, secret: secrets.s3SecretAccessKey };
  const invokeUrl = `http://${host}:${ports.invoke}`;
  const env: Record<string, string | undefined> = {
    ...process.env,
    TK_REDIS_URL: redisUrl,
    TK_S3_ENDPOINT: s3Endpoint,
    TK_S3_ACCESS_KEY_ID: s3Keys.id,
    TK_S3_SECRET_ACCESS_KEY: s3Keys.secret,
    TK_S3_FORCE_PATH_STYLE: process.env['TK_S3_FORCE_PATH_STYLE'] ?? 'true',
    TK_STAGING_BUCKET: settings.stagingBucket,
    TK_FC_ENDPOINT: invokeUrl,
    TK_SECRETS_KEY: process.env['TK_SECRETS_KEY'] ?? secrets.secretsKey,
    // alert webhooks to a receiver on this machine or LAN (never link-local or metadata addresses)
    TK_ALERTS_ALLOW_PRIVATE_NETWORKS: process.env['TK_ALERTS_ALLOW_PRIVATE_NETWORKS'] ?? 'true',
  };
  const project = loadProject(path.join(repoRoot, 's.yaml'), { env, accountId: account.accountId });
  say('Building functions…');
  emulator = await startEmulator({
    project,
    redisUrl,
    identity: { accountId: account.accountId, credentials: { ...account, securityToken: '' } },
    host,
    invokePort: ports.invoke,
    httpPorts: { ingest: ports.ingest, 'lookup-http': ports.lookup },
    timers: true,
    warm: true,
    // TK_INTERNAL_TOKEN: the token MinIO's webhook sends (docker-compose.yml's auth_token)
    internalToken: process.env['TK_INTERNAL_TOKEN'] || secrets.internalToken,
    logger,
  });
  const buckets = [settings.stagingBucket, settings.archiveBucket];
  if (externalS3) {
    const client = s3For({ endpoint: s3Endpoint, region: env['TK_S3_REGION'] ?? 'cn-hangzhou', accessKeyId: s3Keys.id, secretAccessKey: s3Keys.secret, forcePathStyle: env['TK_S3_FORCE_PATH_STYLE'] === 'true' });
    for (const bucket of buckets) await ensureBucket(client, bucket);
  } else {
    started.push(
      await startS3({
        port: ports.s3,
        dir: path.join(stateDir, 's3'),
        buckets,
        host,
        credentials: { accessKeyId: secrets.s3AccessKeyId, secretAccessKey: secrets.s3SecretAccessKey },
        webhookUrl: `${invokeUrl}/-/s3-events`,
        webhookToken: secrets.internalToken,
        log: (l) => logger.warn(l),
      }),
    );
  }
  const endpoints: Record<string, string> = {
    ingest: `${emulator.httpUrls['ingest']}/events`,
    'lookup-http': `${emulator.httpUrls['lookup-http']}/`,
    console: `${emulator.httpUrls['lookup-http']}/console`,
    'invoke API': invokeUrl,
    S3: s3Endpoint,
    // shown and kept without its password (the tools read that from stack-secrets.json)
    Redis: externalRedis ? externalRedis.replace(/\/\/[^@/]*@/, '//') : ownRedisUrl,
  };
  writeLock(stateDir, { pid: process.pid, startedAt: new Date().toISOString(), endpoints, ownRedis: !externalRedis, ownS3: !externalS3 });
  const { demo, created } = await ensureDemo({ redisUrl, stateDir, archiveBucket: settings.archiveBucket, region: env['TK_REGION'] ?? 'cn-hangzhou', secrets: secretBoxFromEnv(env) });
  say('');
  say('TrailKeeper is running.');
  for (const [name, url] of Object.entries(endpoints)) say(`  ${name.padEnd(12)} ${url}`);
  say(`  state        ${path.relative(process.cwd(), stateDir) || '.'}/ (Redis AOF, S3 objects, keys; the stack's token, Redis password and S3 key in ${path.basename(stackSecretsFile(stateDir))})`);
  say('');
  if (created && process.stdout.isTTY) {
    // The secret goes to the terminal only: never to a file the output is redirected to, nor a log.
    say(`Demo account ${demo.accountId} with trail "${demo.trailName}" (Enable, All events) and this AccessKey pair — shown once:`);
    say(JSON.stringify({ accountId: demo.accountId, accessKeyId: demo.accessKeyId, accessKeySecret: demo.accessKeySecret }));
  } else if (created) {
    say(`Demo account ${demo.accountId} with trail "${demo.trailName}" (Enable, All events), AccessKeyId ${demo.accessKeyId}; the secret is not printed (the output is not a terminal).`);
  } else {
    say(`Demo account ${demo.accountId}, AccessKeyId ${demo.accessKeyId}, trail "${demo.trailName}".`);
  }
  say(`(kept for the tools in ${path.relative(process.cwd(), demoFile(stateDir))}; more keys: npm run keys -- create --account <accountId>)`);
  say('');
  say(`Open the console at ${endpoints['console']} and sign in with that AccessKey pair.`);
  say('');
  say('Send events (signed with the demo key; ACS3-HMAC-SHA256 covers the body):');
  say('  npm run ingest -- --sample 5');
  say('  npm run ingest -- test/fixtures/events/ecs-stopinstance-both-resources.json   # a 2020 event: accepted, but older than the 90 days LookupEvents shows');
  say('');
  say('Press Ctrl-C to stop.');
} catch (error) {
  if (error instanceof MissingDependencyError) process.stderr.write(`\n✖ ${error.message}\n`);
  else process.stderr.write(`\n✖ ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  await shutdown(1);
}
