#!/usr/bin/env node
// `npm start` and `npm test` land here first. Plain JavaScript on purpose: it runs before the
// dependencies exist. It checks Node, installs the npm dependencies and Debian's redis-server
// (and, for `npm test`, Debian's chromium, which the console's browser test drives) when they
// are missing (or says exactly what to run), then hands over:
//   start → scripts/start.ts (the whole local stack)
//   test  → type-check (the Node code, and each function's browser code in functions/*/web), then vitest
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv[2];
const passthrough = process.argv.slice(3);

function fail(message) {
  process.stderr.write(`\n✖ ${message}\n\n`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) fail(`${command} could not run: ${result.error.message}`);
  return result.status ?? 1;
}

const [major] = process.versions.node.split('.').map(Number);
if (major < 20) fail(`Node.js 20 or newer is required (this is ${process.version}).`);

// npm dependencies: install when node_modules is missing or was installed from another lockfile.
// The lockfile's content decides, not its time: a git checkout, rebase or worktree touches the
// file without changing it, and a needless `npm ci` wipes node_modules under whatever else runs.
const lock = path.join(root, 'package-lock.json');
const installed = path.join(root, 'node_modules', '.package-lock.json');
const stamp = path.join(root, 'node_modules', '.trailkeeper-lock-sha256');
const lockHash = existsSync(lock) ? createHash('sha256').update(readFileSync(lock)).digest('hex') : '';
const stamped = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : undefined;
if (!existsSync(installed) || (stamped !== undefined ? stamped !== lockHash : existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs)) {
  process.stdout.write('Installing npm dependencies…\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  if (run(npm, [existsSync(lock) ? 'ci' : 'install', '--no-audit', '--no-fund']) !== 0) fail('npm could not install the dependencies (see above).');
}
if (lockHash && stamped !== lockHash) writeFileSync(stamp, `${lockHash}\n`);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
let aptUpdated = false;

/** Installs a Debian package as root with apt-get, or fails with the exact command to run. */
function aptInstall(pkg, why, otherwise = '') {
  if (!isRoot || !hasApt) {
    fail(`${why} Install it, then run this again:\n    sudo apt-get install -y ${pkg}${otherwise ? `\n  ${otherwise}` : ''}`);
  }
  process.stdout.write(`Installing ${pkg} with apt-get…\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    run('apt-get', ['update', '-qq'], { env });
    aptUpdated = true;
  }
  if (run('apt-get', ['install', '-y', '-qq', pkg], { env }) !== 0) fail(`apt-get could not install ${pkg}. Run: sudo apt-get install -y ${pkg}`);
}

// Debian's redis-server, run by the stack and the tests as a child process.
function hasRedis() {
  return ['/usr/bin/redis-server', '/usr/sbin/redis-server', '/usr/local/bin/redis-server'].some((p) => existsSync(p)) ||
    spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status === 0;
}
if (!hasRedis()) {
  aptInstall('redis-server', 'redis-server is not installed.', '(or point TK_REDIS_URL at a running Redis, e.g. the one in docker-compose.yml).');
}

// Debian's chromium, driven by the console's browser test (test/e2e/console.test.ts), which
// fails rather than skips without it. CHROMIUM_PATH names another binary; TK_SKIP_BROWSER=1 is
// the explicit way to run without a browser.
if (mode === 'test' && process.env['TK_SKIP_BROWSER'] !== '1') {
  const chromium = process.env['CHROMIUM_PATH'];
  if (chromium) {
    if (!existsSync(chromium)) fail(`CHROMIUM_PATH is ${chromium}, which does not exist.`);
  } else if (!existsSync('/usr/bin/chromium')) {
    aptInstall('chromium', "The console's browser test needs Debian's chromium (/usr/bin/chromium), which is not installed.", '(or set CHROMIUM_PATH to a Chromium binary).');
    if (!existsSync('/usr/bin/chromium')) fail('apt-get installed chromium, but /usr/bin/chromium is still missing. Set CHROMIUM_PATH to the binary.');
  }
}

const node = process.execPath;
if (mode === 'start') {
  const child = spawn(node, ['--openssl-legacy-provider', '--import', 'tsx', path.join(root, 'scripts', 'start.ts'), ...passthrough], {
    cwd: root,
    stdio: 'inherit',
  });
  // Pass stop signals on (the stack ignores a repeat while it is already stopping).
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else if (mode === 'test') {
  const bin = (name) => path.join(root, 'node_modules', '.bin', name);
  // Browser code (functions/<name>/web/) has its own tsconfig: DOM types, no Node ones.
  const functionsDir = path.join(root, 'functions');
  const browserProjects = readdirSync(functionsDir)
    .map((name) => path.join('functions', name, 'web'))
    .filter((dir) => existsSync(path.join(root, dir, 'tsconfig.json')));
  for (const project of ['.', ...browserProjects]) {
    if (run(bin('tsc'), ['--noEmit', '-p', project]) !== 0) fail(`type-check failed in ${project} (see above).`);
  }
  process.exit(run(bin('vitest'), ['run', ...passthrough]));
} else {
  fail(`usage: node scripts/bootstrap.mjs start|test`);
}
