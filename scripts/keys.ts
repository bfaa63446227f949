/**
 * `npm run keys -- <command>`: AccessKey pairs and organizations.
 *   create --account <accountId>      prints {"accountId","accessKeyId","accessKeySecret"} (the secret is shown this once)
 *   list [--account <accountId>]      keys without their secrets
 *   disable <AccessKeyId> | enable <AccessKeyId> | delete <AccessKeyId>
 *   org-add --management <accountId> --member <accountId>
 *   org-remove --member <accountId>
 * Redis: the running stack's, or TK_REDIS_URL. Secrets are sealed with TK_SECRETS_KEY, or the
 * local stack's key (.local/secrets.key); `list`, `disable`, `enable`, `delete` never open one.
 */
import { parseArgs } from 'node:util';
import { createRedisClient } from '../adapters/redis.ts';
import { AccountIdSchema } from '../shared/accounts/accounts.ts';
import { RedisAccountStore } from '../adapters/redis/account-store.ts';
import { stackRedisUrl } from './lib/local-stack.ts';
import { toolSecretBox } from './lib/secrets-key.ts';

const USAGE = `usage: npm run keys -- create --account <accountId>
       npm run keys -- list [--account <accountId>]
       npm run keys -- disable|enable|delete <AccessKeyId>
       npm run keys -- org-add --management <accountId> --member <accountId>
       npm run keys -- org-remove --member <accountId>`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function account(value: string | undefined, flag: string): string {
  if (!value) fail(`--${flag} is required`);
  const parsed = AccountIdSchema.safeParse(value);
  if (!parsed.success) fail(`--${flag} ${value}: an account id is 16 digits`);
  return parsed.data;
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { account: { type: 'string' }, management: { type: 'string' }, member: { type: 'string' } },
});
const [command, target] = positionals;
let secrets: ReturnType<typeof toolSecretBox>;
try {
  secrets = toolSecretBox();
} catch (error) {
  fail(error instanceof Error ? error.message : 'no secrets key');
}
const redis = createRedisClient(stackRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 }, { clusterRetryStrategy: (times) => (times > 3 ? null : 200) });
try {
  await redis.connect();
} catch {
  fail(`cannot reach Redis at ${stackRedisUrl()}: start the stack with npm start, or set TK_REDIS_URL`);
}
const store = new RedisAccountStore(redis, secrets);
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

switch (command) {
  case 'create': {
    const key = await store.createKey(account(values.account, 'account'));
    print({ accountId: key.accountId, accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret });
    break;
  }
  case 'list':
    print(await store.listKeys(values.account ? account(values.account, 'account') : undefined));
    break;
  case 'disable':
  case 'enable':
  case 'delete': {
    if (!target) fail(`${command} needs an AccessKeyId`);
    const done = command === 'delete' ? await store.deleteKey(target) : await store.setKeyStatus(target, command === 'disable' ? 'Inactive' : 'Active');
    if (!done) {
      process.stderr.write(`AccessKeyId ${target} not found\n`);
      process.exitCode = 1;
    } else print({ accessKeyId: target, result: command === 'delete' ? 'deleted' : command === 'disable' ? 'Inactive' : 'Active' });
    break;
  }
  case 'org-add': {
    const management = account(values.management, 'management');
    const member = account(values.member, 'member');
    await store.addMember(management, member);
    print({ managementAccountId: management, memberAccountId: member, organizationId: await store.organizationIdOf(management) });
    break;
  }
  case 'org-remove':
    print({ removed: await store.removeMember(account(values.member, 'member')) });
    break;
  default:
    fail(command ? `unknown command ${command}` : 'a command is required');
}
redis.disconnect();
