/**
 * Runs once before the suite: checks that redis-server is installed and bundles the functions
 * of every project the tests run (the product's s.yaml and the emulator fixture), so test
 * files can start emulators in parallel without rebuilding the same files.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFunctions } from '../emulator/build.ts';
import { loadProject } from '../emulator/config.ts';
import { findRedisServer } from '../emulator/stack/processes.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const PROJECTS = [path.join(root, 's.yaml'), path.join(root, 'test', 'fixtures', 'emulator', 's.yaml')];

export default async function setup(): Promise<void> {
  if (!findRedisServer()) {
    throw new Error('redis-server is not installed; the integration tests need it. Install it with: sudo apt-get install -y redis-server');
  }
  for (const file of PROJECTS) {
    const project = loadProject(file, { env: {}, accountId: 'ACCOUNT_ID', lenient: true });
    await buildFunctions(project.functions);
  }
}
