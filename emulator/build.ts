/**
 * Packages each function the way it is deployed: one self-contained CommonJS bundle per
 * function at `<code>/<handlerFile>.js`, built with esbuild from the function's source.
 *
 * Convention: a function whose s.yaml `code` is `<dir>/dist/<name>` is built from
 * `<dir>/functions/<name>/index.ts`. `npm run deploy` ships the same bundles.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import type { FunctionSpec } from './config.ts';

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

export async function buildFunctions(functions: readonly FunctionSpec[]): Promise<void> {
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
      });
      // The bundle is CommonJS; say so, or a parent package.json with "type": "module" wins.
      mkdirSync(fn.codeDir, { recursive: true });
      writeFileSync(path.join(fn.codeDir, 'package.json'), '{ "type": "commonjs" }\n');
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
