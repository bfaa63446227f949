/**
 * A load-generating client for bench/lookup-http.ts, run in its own worker thread so the
 * client's signing, fetch and JSON parsing do not share the emulator's event loop (a real
 * client runs elsewhere). Sends `concurrency` loops of signed LookupEvents calls, cycling
 * through the given parameter sets for `seconds` (from when it is ready), and posts back the
 * latencies and how long it ran.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import type { Credentials } from '../../adapters/client/signed-fetch.ts';
import { signRpcRequest } from '../../shared/auth/rpc-signature.ts';

export interface LookupClientData {
  url: string;
  credentials: Credentials;
  params: Record<string, string>[];
  concurrency: number;
  seconds: number;
  offset: number;
}

const data = workerData as LookupClientData;
// node:http with keep-alive: fetch (undici) costs ~0.45 ms more CPU per call on this machine,
// and the clients share the two cores with the server they measure
const agent = new http.Agent({ keepAlive: true, maxSockets: data.concurrency });

function call(params: Record<string, string>): Promise<{ status: number; body: string }> {
  const signed = signRpcRequest({ method: 'GET', params: { Version: '2020-07-06', ...params }, ...data.credentials });
  const query = new URLSearchParams(signed).toString().replace(/\+/g, '%20');
  return new Promise((resolve, reject) => {
    http
      .get(`${new URL('/', data.url).toString()}?${query}`, { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}
/** This thread's CPU time in ms (utime + stime of /proc/thread-self/stat; 0 where there is none). */
function threadCpuMs(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

// ready, then wait for the go: the bench starts its CPU and Redis counters between the two
parentPort?.postMessage({ type: 'ready' });
await new Promise<void>((resolve) => parentPort?.once('message', () => resolve()));
const cpuStarted = threadCpuMs();
const latencies: number[] = [];
let errors = 0;
let next = data.offset;
const started = performance.now();
const deadline = Date.now() + data.seconds * 1000;
await Promise.all(
  Array.from({ length: data.concurrency }, async () => {
    while (Date.now() < deadline) {
      const params = data.params[next++ % data.params.length] as Record<string, string>;
      const t0 = performance.now();
      const res = await call(params);
      const body = JSON.parse(res.body) as { Events?: unknown[] };
      if (res.status !== 200 || !body.Events) errors++;
      latencies.push(performance.now() - t0);
    }
  }),
);
parentPort?.postMessage({ type: 'done', latencies, errors, elapsedMs: performance.now() - started, cpuMs: threadCpuMs() - cpuStarted });
agent.destroy();
