/** `npm run build`: bundles every function of s.yaml into dist/<name>/index.js (what `s deploy` uploads). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProject } from '../emulator/config.ts';
import { buildFunctions } from '../emulator/build.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Only code locations matter here; endpoints are resolved by Serverless Devs at deploy time.
const project = loadProject(path.join(root, 's.yaml'), { env: process.env, accountId: 'ACCOUNT_ID', lenient: true });
// What `s deploy` uploads: each function with the native packages its bundle requires (DuckDB for lookup-http and compact-cron).
await buildFunctions(project.functions, { vendorNative: true });
for (const fn of project.functions) console.log(`built ${path.relative(root, fn.codeDir)}/${fn.handlerFile}.js`);
