/**
 * Packages each function the way it is deployed: one self-contained CommonJS bundle per
 * function at `<code>/<handlerFile>.js`, built with esbuild from the function's source.
 *
 * Convention: a function whose s.yaml `code` is `<dir>/dist/<name>` is built from
 * `<dir>/functions/<name>/index.ts`. `npm run deploy` ships the same bundles.
 *
 * Browser files: a function with a `functions/<name>/web/` folder ships it as
 * `dist/<name>/web/`: `web/app.ts` is bundled for the browser (ES module, minified) to
 * `web/app.js`, and the folder's static files (.html, .css, .svg, .txt) are copied beside it.
 * The handler serves them from `path.join(__dirname, 'web')` (lookup-http's console).
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { build } from 'esbuild';
import type { FunctionSpec } from './config.ts';

/**
 * Files that bundled packages read from their own folder at run time (`__dirname`), copied next
 * to each bundle: the Log Service SDK loads its protobuf schema this way.
 */
const RUNTIME_ASSETS: readonly { module: string; file: string }[] = [{ module: '@alicloud/log/package.json', file: 'lib/sls.proto' }];

function copyRuntimeAssets(codeDir: string): void {
  const require = createRequire(import.meta.url);
  for (const asset of RUNTIME_ASSETS) {
    let root: string;
    try {
      root = path.dirname(require.resolve(asset.module));
    } catch {
      continue;
    }
    const source = path.join(root, asset.file);
    if (existsSync(source)) copyFileSync(source, path.join(codeDir, path.basename(asset.file)));
  }
}

/**
 * Native packages left out of the bundles (esbuild cannot bundle a `.node` binary): required at
 * run time from `node_modules`. Locally that is the repository's; for a deploy (`vendorNative`),
 * each function whose bundle requires one gets a copy of the packages under its own
 * `node_modules/` — DuckDB's engine (docs/design.md §3.13) and its linux-x64 binding, which is
 * what Function Compute's nodejs20 runtime runs on.
 */
export const NATIVE_EXTERNALS: readonly { module: string; packages: readonly string[] }[] = [
  { module: '@duckdb/node-api', packages: ['@duckdb/node-api', '@duckdb/node-bindings', '@duckdb/node-bindings-linux-x64', 'detect-libc'] },
];

function vendorNativePackages(codeDir: string, bundle: string): void {
  const require = createRequire(import.meta.url);
  const text = readFileSync(bundle, 'utf8');
  for (const native of NATIVE_EXTERNALS) {
    if (!text.includes(`require("${native.module}")`)) continue;
    for (const pkg of native.packages) {
      const root = path.dirname(require.resolve(`${pkg}/package.json`));
      cpSync(root, path.join(codeDir, 'node_modules', pkg), { recursive: true, dereference: true });
    }
  }
}

/** A function's browser folder, its entry module and the static files copied as they are. */
export const WEB_DIR = 'web';
export const WEB_ENTRY = 'app.ts';
const WEB_STATIC_FILES = /\.(html|css|svg|txt)$/;

/** Builds `<sourceDir>/web/` into `<codeDir>/web/` when the function has one. */
async function buildWebAssets(sourceDir: string, codeDir: string): Promise<void> {
  const source = path.join(sourceDir, WEB_DIR);
  const entry = path.join(source, WEB_ENTRY);
  const out = path.join(codeDir, WEB_DIR);
  rmSync(out, { recursive: true, force: true });
  if (!existsSync(entry)) return;
  await build({
    entryPoints: [entry],
    outfile: path.join(out, 'app.js'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    logLevel: 'error',
    legalComments: 'none',
  });
  for (const name of readdirSync(source)) {
    if (WEB_STATIC_FILES.test(name)) copyFileSync(path.join(source, name), path.join(out, name));
  }
}

export class BuildError extends Error {
  override name = 'BuildError';
}

export function sourceEntryOf(fn: FunctionSpec): string {
  const codeParent = path.dirname(fn.codeDir);
  if (path.basename(codeParent) !== 'dist') {
    throw new BuildError(`${fn.resourceName}: code ${fn.codeDir} is not <dir>/dist/<name>; cannot find its source`);
  }
  return path.join(path.dirname(codeParent), 'functions', path.basename(fn.codeDir), 'index.ts');
}

export function bundlePathOf(fn: FunctionSpec): string {
  return path.join(fn.codeDir, `${fn.handlerFile}.js`);
}

export interface BuildOptions {
  /** Copy the native packages a bundle requires into its folder (what `npm run build` / `npm run deploy` ship). */
  vendorNative?: boolean;
}

export async function buildFunctions(functions: readonly FunctionSpec[], options: BuildOptions = {}): Promise<void> {
  await Promise.all(
    functions.map(async (fn) => {
      const entry = sourceEntryOf(fn);
      if (!existsSync(entry)) throw new BuildError(`${fn.resourceName}: source ${entry} does not exist`);
      await build({
        entryPoints: [entry],
        outfile: bundlePathOf(fn),
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        sourcemap: 'linked',
        logLevel: 'error',
        legalComments: 'none',
        // urllib (under @alicloud/fc2) requires it only when an HTTP proxy is configured.
        external: ['proxy-agent', ...NATIVE_EXTERNALS.map((n) => n.module)],
      });
      // The bundle is CommonJS; say so, or a parent package.json with "type": "module" wins.
      mkdirSync(fn.codeDir, { recursive: true });
      writeFileSync(path.join(fn.codeDir, 'package.json'), '{ "type": "commonjs" }\n');
      copyRuntimeAssets(fn.codeDir);
      rmSync(path.join(fn.codeDir, 'node_modules'), { recursive: true, force: true });
      if (options.vendorNative) vendorNativePackages(fn.codeDir, bundlePathOf(fn));
      await buildWebAssets(path.dirname(entry), fn.codeDir);
    }),
  );
}

/** Bundles an emulator-side TypeScript entry (the worker host) to plain JavaScript. */
export async function buildHelper(entry: string, outfile: string): Promise<string> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'error',
  });
  return outfile;
}
