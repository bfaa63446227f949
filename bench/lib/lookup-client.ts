/**
 * A load-generating client for bench/lookup-http.ts, run in its own worker thread so the
 * client's work does not share the emulator's event loop (a real client runs elsewhere). Sends
 * `concurrency` loops of signed LookupEvents calls, cycling through the given parameter sets for
 * `seconds` (from when it is ready), and posts back the latencies and how long it ran.
 *
 * It is meant to cost what wrk or autocannon would, since it shares the two cores with the
 * server it measures:
 *   - one keep-alive TCP connection per loop, the request written as one string and the
 *     response framed by hand (status line, Content-Length or chunked) — no HTTP client;
 *   - every call is still signed on its own (RPC HMAC-SHA1, a fresh SignatureNonce and the
 *     current Timestamp), so the server verifies a signature and claims a nonce per call; only
 *     the parts of the StringToSign and of the query that do not change are built once per
 *     parameter set;
 *   - validity: every answer must be status 200 with a JSON object body that opens with
 *     `{"RequestId":`, carries `"Events":[` and ends with `]}`; one answer in PARSE_EVERY is
 *     parsed in full (JSON.parse, Events an array), and its event count is reported.
 */
import { createHmac, createSecretKey, randomUUID, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { Credentials } from '../../adapters/client/signed-fetch.ts';
import { percentEncode } from '../../shared/auth/percent-encode.ts';
import { canonicalizeRpcParams, formatAcsTimestamp, RPC_SIGNATURE_METHOD, RPC_SIGNATURE_VERSION } from '../../shared/auth/rpc-signature.ts';

export interface LookupClientData {
  url: string;
  credentials: Credentials;
  params: Record<string, string>[];
  concurrency: number;
  seconds: number;
  offset: number;
  /**
   * Open loop: this thread's calls are due at this steady rate (calls a second), each sent on the
   * first of the `concurrency` connections that is free, and timed from when it was due — a call
   * that waits for a connection counts its wait (no coordinated omission). Absent: closed loop,
   * each connection sends its next call as soon as the last is answered.
   */
  ratePerSecond?: number;
}

/** What a client thread reports when its time is up. */
export interface LookupClientResult {
  latencies: number[];
  /** For each latency, the index in `params` of the call it timed. */
  paramIndexes: number[];
  errors: number;
  elapsedMs: number;
  cpuMs: number;
  /** Answers parsed in full, and the events they held. */
  parsed: number;
  parsedEvents: number;
  bytes: number;
  /** One answer in this many parsed in full. */
  parseEvery: number;
}

/** One answer in this many is parsed in full; the others are checked by status and framing. */
const PARSE_EVERY = 32;

const data = workerData as LookupClientData;
const target = new URL(data.url);
const host = target.hostname;
const port = Number(target.port || 80);
const key: KeyObject = createSecretKey(Buffer.from(`${data.credentials.accessKeySecret}&`, 'utf8'));

/**
 * A parameter set signed once per call: the StringToSign is `before + nonce + between +
 * pe(pe(timestamp)) + after` (percent-encoding works character by character, and a UUID nonce is
 * unreserved), the query `query + nonce, timestamp, signature`.
 */
interface Prepared {
  before: string;
  between: string;
  after: string;
  query: string;
}

const NONCE_MARK = 'NONCEMARK';
const TIME_MARK = 'TIMEMARK';

function prepare(params: Record<string, string>): Prepared {
  const all: Record<string, string> = {
    Version: '2020-07-06',
    ...params,
    AccessKeyId: data.credentials.accessKeyId,
    SignatureMethod: RPC_SIGNATURE_METHOD,
    SignatureVersion: RPC_SIGNATURE_VERSION,
    Format: 'JSON',
    SignatureNonce: NONCE_MARK,
    Timestamp: TIME_MARK,
  };
  const toSign = `GET&${percentEncode('/')}&${percentEncode(canonicalizeRpcParams(all))}`;
  const [before, rest] = toSign.split(NONCE_MARK) as [string, string];
  const [between, after] = rest.split(TIME_MARK) as [string, string];
  const query = Object.entries(all)
    .filter(([name]) => name !== 'SignatureNonce' && name !== 'Timestamp')
    .map(([name, value]) => `${percentEncode(name)}=${percentEncode(value)}`)
    .join('&');
  return { before, between, after, query };
}

const prepared = data.params.map(prepare);
let stampSecond = -1;
let stampSigned = '';
let stampQuery = '';

/** The request line and headers of one freshly signed call. */
function request(p: Prepared): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== stampSecond) {
    const stamp = formatAcsTimestamp(new Date(second * 1000));
    stampSecond = second;
    stampSigned = percentEncode(percentEncode(stamp));
    stampQuery = percentEncode(stamp);
  }
  const nonce = randomUUID();
  const signature = createHmac('sha1', key).update(`${p.before}${nonce}${p.between}${stampSigned}${p.after}`, 'utf8').digest('base64');
  return `GET /?${p.query}&SignatureNonce=${nonce}&Timestamp=${stampQuery}&Signature=${percentEncode(signature)} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');
const OPENING = Buffer.from('{"RequestId":');
const EVENTS = Buffer.from('"Events":[');
const CLOSING = Buffer.from(']}');

interface Answer {
  status: number;
  body: Buffer;
}

/** One keep-alive connection, one call at a time; the response framed by Content-Length or chunked encoding. */
class Connection {
  private readonly socket: net.Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (answer: Answer) => void; reject: (error: Error) => void } | undefined;

  constructor() {
    this.socket = net.connect(port, host);
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.tryFrame();
    });
    const fail = (error: Error) => {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.reject(error);
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail(new Error('connection closed')));
  }

  call(text: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(text, 'latin1');
    });
  }

  private tryFrame(): void {
    const b = this.buffered;
    const headEnd = b.indexOf(CRLFCRLF);
    if (headEnd < 0) return;
    const head = b.toString('latin1', 0, headEnd);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    let body: Buffer;
    let used: number;
    if (length) {
      const size = Number(length[1]);
      if (b.length < headEnd + 4 + size) return;
      body = b.subarray(headEnd + 4, headEnd + 4 + size);
      used = headEnd + 4 + size;
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      const parts: Buffer[] = [];
      let at = headEnd + 4;
      for (;;) {
        const lineEnd = b.indexOf(CRLF, at);
        if (lineEnd < 0) return;
        const size = parseInt(b.toString('latin1', at, lineEnd), 16);
        if (b.length < lineEnd + 2 + size + 2) return;
        if (size === 0) {
          used = lineEnd + 4;
          break;
        }
        parts.push(b.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      body = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    } else {
      this.socket.destroy(new Error(`an answer with neither Content-Length nor chunked encoding: ${head.slice(0, 200)}`));
      return;
    }
    this.buffered = used === b.length ? Buffer.alloc(0) : b.subarray(used);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve({ status, body });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Status and framing of every answer (see the header). */
function looksValid({ status, body }: Answer): boolean {
  return (
    status === 200 &&
    body.length >= OPENING.length + EVENTS.length + CLOSING.length &&
    body.subarray(0, OPENING.length).equals(OPENING) &&
    body.subarray(body.length - CLOSING.length).equals(CLOSING) &&
    body.indexOf(EVENTS) > 0
  );
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

const connections = Array.from({ length: data.concurrency }, () => new Connection());
// ready, then wait for the go: the bench starts its CPU and Redis counters between the two
parentPort?.postMessage({ type: 'ready' });
await new Promise<void>((resolve) => parentPort?.once('message', () => resolve()));
const cpuStarted = threadCpuMs();
const latencies: number[] = [];
const paramIndexes: number[] = [];
let errors = 0;
let parsed = 0;
let parsedEvents = 0;
let bytes = 0;
let next = data.offset;
const started = performance.now();
const deadline = Date.now() + data.seconds * 1000;
const rate = data.ratePerSecond;
/** Open loop: when call `sent` is due (ms, performance clock); calls past the run are not sent. */
let sent = 0;
const dueAt = (n: number) => started + (n * 1000) / (rate as number);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
await Promise.all(
  connections.map(async (connection) => {
    while (Date.now() < deadline) {
      let t0 = performance.now();
      if (rate !== undefined) {
        const due = dueAt(sent++);
        if (due > started + data.seconds * 1000) break;
        if (due > t0) await sleep(due - t0);
        t0 = due;
      }
      const index = next++ % prepared.length;
      const p = prepared[index] as Prepared;
      const answer = await connection.call(request(p));
      latencies.push(performance.now() - t0);
      paramIndexes.push(index);
      bytes += answer.body.length;
      let ok = looksValid(answer);
      if (ok && latencies.length % PARSE_EVERY === 0) {
        const body = JSON.parse(answer.body.toString('utf8')) as { Events?: unknown };
        ok = Array.isArray(body.Events);
        parsed += 1;
        if (Array.isArray(body.Events)) parsedEvents += body.Events.length;
      }
      if (!ok) {
        errors++;
        if (errors === 1) console.error(`LookupEvents answered ${answer.status}: ${answer.body.toString('utf8', 0, 500)}`);
      }
    }
  }),
);
const result: LookupClientResult = { latencies, paramIndexes, errors, elapsedMs: performance.now() - started, cpuMs: threadCpuMs() - cpuStarted, parsed, parsedEvents, bytes, parseEvery: PARSE_EVERY };
parentPort?.postMessage({ type: 'done', ...result });
for (const connection of connections) connection.close();
