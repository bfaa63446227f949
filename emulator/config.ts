/**
 * Reads a Serverless Devs `s.yaml` (edition 3.0.0, component fc3) the way `s deploy` would
 * resolve it, and turns each fc3 resource into a FunctionSpec the emulator can run.
 *
 * Supported magic variables: `${env('NAME')}`, `${env('NAME', 'default')}`, `${env(NAME)}`,
 * `${vars.path.to.value}` and `${config('AccountID')}`. A value that is exactly one
 * `${…}` takes the referenced value's type (so `${vars.common}` can be a map).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const HttpTriggerConfig = z.object({
  authType: z.string().default('anonymous'),
  methods: z.array(z.string()).default(['GET', 'POST']),
  disableURLInternet: z.boolean().optional(),
});

const TimerTriggerConfig = z.object({
  cronExpression: z.string().min(1),
  enable: z.boolean().default(true),
  payload: z.string().optional(),
});

const OssTriggerConfig = z.object({
  events: z.array(z.string()).min(1),
  filter: z
    .object({
      key: z
        .object({
          prefix: z.string().default(''),
          suffix: z.string().default(''),
        })
        .default({ prefix: '', suffix: '' }),
    })
    .default({ key: { prefix: '', suffix: '' } }),
});

const TriggerSchema = z.discriminatedUnion('triggerType', [
  z.object({ triggerName: z.string().min(1), triggerType: z.literal('http'), triggerConfig: HttpTriggerConfig }),
  z.object({ triggerName: z.string().min(1), triggerType: z.literal('timer'), triggerConfig: TimerTriggerConfig }),
  z.object({
    triggerName: z.string().min(1),
    triggerType: z.literal('oss'),
    sourceArn: z.string().regex(/^acs:oss:[^:]*:[^:]*:[^:]+$/, 'sourceArn must look like acs:oss:<region>:<account>:<bucket>'),
    invocationRole: z.string().optional(),
    triggerConfig: OssTriggerConfig,
  }),
]);

const AsyncInvokeConfigSchema = z.object({
  maxAsyncRetryAttempts: z.number().int().min(0).max(8).default(3),
  maxAsyncEventAgeInSeconds: z.number().int().positive().default(86_400),
  destinationConfig: z
    .object({
      onFailure: z.object({ destination: z.string() }).optional(),
      onSuccess: z.object({ destination: z.string() }).optional(),
    })
    .optional(),
});

const FunctionPropsSchema = z.object({
  region: z.string().min(1),
  functionName: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_-]{0,127}$/),
  runtime: z.literal('nodejs20', { message: 'only runtime nodejs20 is emulated' }),
  code: z.string().min(1),
  handler: z.string().regex(/^[^.]+(\.[^.]+)+$/, 'handler must look like index.handler'),
  memorySize: z.number().int().min(128).max(32_768).default(512),
  timeout: z.number().int().min(1).max(86_400).default(60),
  instanceConcurrency: z.number().int().min(1).max(200).default(1),
  description: z.string().optional(),
  environmentVariables: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  asyncInvokeConfig: AsyncInvokeConfigSchema.optional(),
  triggers: z.array(TriggerSchema).default([]),
});

const ProjectSchema = z.object({
  edition: z.literal('3.0.0', { message: 'edition must be 3.0.0' }),
  name: z.string().min(1),
  resources: z.record(z.string(), z.object({ component: z.string(), props: z.unknown() })),
});

export type Trigger = z.infer<typeof TriggerSchema>;
export type HttpTrigger = Extract<Trigger, { triggerType: 'http' }>;
export type TimerTrigger = Extract<Trigger, { triggerType: 'timer' }>;
export type OssTrigger = Extract<Trigger, { triggerType: 'oss' }>;
export type AsyncInvokeConfig = z.infer<typeof AsyncInvokeConfigSchema>;

export interface FunctionSpec {
  /** The resource key in s.yaml (e.g. `ingest`). */
  resourceName: string;
  functionName: string;
  region: string;
  /** Absolute path of the code directory. */
  codeDir: string;
  handlerFile: string;
  handlerExport: string;
  handler: string;
  memorySize: number;
  timeout: number;
  instanceConcurrency: number;
  environment: Record<string, string>;
  asyncInvokeConfig: AsyncInvokeConfig;
  triggers: Trigger[];
}

export interface ProjectSpec {
  name: string;
  file: string;
  functions: FunctionSpec[];
}

export interface LoadOptions {
  /** The environment `${env(...)}` resolves against. */
  env: Record<string, string | undefined>;
  /** `${config('AccountID')}`. */
  accountId: string;
  /** Unset variables resolve to '' instead of failing (for packaging, which reads code paths only). */
  lenient?: boolean;
}

const EXPRESSION = /\$\{([^}]+)\}/g;
const WHOLE_EXPRESSION = /^\$\{([^}]+)\}$/;

function lookupPath(root: unknown, dotted: string, where: string): unknown {
  let node: unknown = root;
  for (const part of dotted.split('.')) {
    if (node === null || typeof node !== 'object' || !(part in node)) {
      throw new ConfigError(`${where}: \${vars.${dotted}} is not defined`);
    }
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function evaluate(expr: string, scope: { vars: unknown; options: LoadOptions }, where: string): unknown {
  const e = expr.trim();
  const env = /^env\(\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?\s*(?:,\s*['"]([^'"]*)['"]\s*)?\)$/.exec(e);
  if (env) {
    const name = env[1] as string;
    const value = scope.options.env[name];
    if (value !== undefined && value !== '') return value;
    if (env[2] !== undefined) return env[2];
    if (scope.options.lenient) return '';
    throw new ConfigError(`${where}: environment variable ${name} is not set (referenced as \${${e}})`);
  }
  const config = /^config\(\s*['"]?AccountID['"]?\s*\)$/.exec(e);
  if (config) return scope.options.accountId;
  if (e.startsWith('vars.')) return lookupPath(scope.vars, e.slice('vars.'.length), where);
  throw new ConfigError(`${where}: unsupported expression \${${e}}`);
}

function interpolate(node: unknown, scope: { vars: unknown; options: LoadOptions }, where: string): unknown {
  if (typeof node === 'string') {
    const whole = WHOLE_EXPRESSION.exec(node);
    if (whole) return interpolate(evaluate(whole[1] as string, scope, where), scope, where);
    return node.replace(EXPRESSION, (_m, expr: string) => {
      const value = evaluate(expr, scope, where);
      if (typeof value === 'object') throw new ConfigError(`${where}: \${${expr}} is a map and cannot be embedded in a string`);
      return String(value);
    });
  }
  if (Array.isArray(node)) return node.map((item, i) => interpolate(item, scope, `${where}[${i}]`));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [key, interpolate(value, scope, `${where}.${key}`)]),
    );
  }
  return node;
}

function formatIssues(error: z.ZodError, where: string): string {
  return error.issues.map((i) => `${where}.${i.path.join('.')}: ${i.message}`).join('; ');
}

export function loadProject(file: string, options: LoadOptions): ProjectSpec {
  const absolute = path.resolve(file);
  const raw: unknown = parseYaml(readFileSync(absolute, 'utf8'));
  const head = ProjectSchema.safeParse(raw);
  if (!head.success) throw new ConfigError(`${absolute}: ${formatIssues(head.error, 's.yaml')}`);
  const vars = interpolate((raw as { vars?: unknown }).vars ?? {}, { vars: {}, options }, 'vars');
  const scope = { vars, options };
  const baseDir = path.dirname(absolute);
  const functions: FunctionSpec[] = [];
  for (const [resourceName, resource] of Object.entries(head.data.resources)) {
    if (resource.component !== 'fc3') continue;
    const where = `resources.${resourceName}.props`;
    const parsed = FunctionPropsSchema.safeParse(interpolate(resource.props, scope, where));
    if (!parsed.success) throw new ConfigError(`${absolute}: ${formatIssues(parsed.error, where)}`);
    const props = parsed.data;
    const lastDot = props.handler.lastIndexOf('.');
    functions.push({
      resourceName,
      functionName: props.functionName,
      region: props.region,
      codeDir: path.resolve(baseDir, props.code),
      handlerFile: props.handler.slice(0, lastDot),
      handlerExport: props.handler.slice(lastDot + 1),
      handler: props.handler,
      memorySize: props.memorySize,
      timeout: props.timeout,
      instanceConcurrency: props.instanceConcurrency,
      environment: Object.fromEntries(
        Object.entries(props.environmentVariables).map(([k, v]) => [k, String(v)]),
      ),
      asyncInvokeConfig: props.asyncInvokeConfig ?? AsyncInvokeConfigSchema.parse({}),
      triggers: props.triggers,
    });
  }
  const names = new Set<string>();
  for (const fn of functions) {
    if (names.has(fn.functionName)) throw new ConfigError(`${absolute}: functionName ${fn.functionName} is declared twice`);
    names.add(fn.functionName);
  }
  return { name: head.data.name, file: absolute, functions };
}

/** `acs:fc:<region>:<account>:functions/<name>` → `<name>`. */
export function functionNameFromArn(arn: string): string | undefined {
  return /^acs:fc:[^:]*:[^:]*:functions\/([^/:]+)/.exec(arn)?.[1];
}

/** `acs:oss:<region>:<account>:<bucket>` → `<bucket>`. */
export function bucketFromArn(arn: string): string {
  return arn.slice(arn.lastIndexOf(':') + 1);
}
