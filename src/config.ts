/**
 * Configuration (CONTRACT.md "Process and configuration"): read once from the environment, validated,
 * passed in. An invalid variable stops the process with one line naming it.
 */
import { z } from 'zod';

/** Environment values are text; each helper says, in the message, what the variable must be. */
const port = z
  .string()
  .regex(/^\d{1,5}$/, 'must be a port number from 0 to 65535')
  .transform(Number)
  .refine((n) => n <= 65535, 'must be a port number from 0 to 65535');
const positiveSeconds = z
  .string()
  .regex(/^\d+(\.\d+)?$/, 'must be a positive number of seconds')
  .transform(Number)
  .refine((n) => n > 0, 'must be a positive number of seconds');
const positiveInt = (what: string) =>
  z
    .string()
    .regex(/^\d+$/, `must be a positive whole number of ${what}`)
    .transform(Number)
    .refine((n) => n > 0, `must be a positive whole number of ${what}`);
const httpUrl = z
  .string()
  .url('must be an absolute http(s) URL')
  .refine((u) => /^https?:\/\//i.test(u), 'must be an absolute http(s) URL');
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const uuid = (what: string) => z.string().regex(new RegExp(`^${UUID}$`, 'i'), `must be a ${what} (a UUID)`);
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const schema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: port.default('3000'),
  HOST: z.string().default('0.0.0.0'),
  MLLP_PORT: port.default('2575'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:/]+:\d+$/, 'must be host:port')
    .optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('admission-alerts'),
  TEMPORAL_CLI_PATH: z.string().min(1).optional(),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  PUBLIC_BASE_URL: httpUrl.optional(),
  /** `{key_name}-{service id}-{secret}` as Notify shows it once (Notify API docs, "API keys") */
  NOTIFY_API_KEY: z
    .string()
    .regex(
      new RegExp(`^(?:.*-)?${UUID}-${UUID}$`, 'i'),
      'must be a GOV.UK Notify API key: {key_name}-{service id}-{secret}, as Notify shows it',
    )
    .optional(),
  NOTIFY_BASE_URL: httpUrl.optional(),
  NOTIFY_SMS_TEMPLATE_ID: uuid('Notify template id').optional(),
  NOTIFY_EMAIL_TEMPLATE_ID: uuid('Notify template id').optional(),
  LOG_LEVEL: z
    .enum(LOG_LEVELS, { errorMap: () => ({ message: `must be one of ${LOG_LEVELS.join(', ')}` }) })
    .default('info'),
  DATA_DIR: z.string().default('.data'),
  /** how long a finished stay's workflow waits for late events before completing (a later event reopens it) */
  ADMISSION_LINGER_SECONDS: positiveSeconds.default(String(7 * 24 * 3600)),
  /** lifetime of one-time acknowledgement links */
  ACK_TOKEN_TTL_SECONDS: positiveSeconds.default(String(72 * 3600)),
  /** how often the relay looks for undispatched messages when no notification wakes it */
  RELAY_POLL_MS: positiveInt('milliseconds').default('1000'),
  /** an MLLP connection with no traffic for this long is ended */
  MLLP_IDLE_TIMEOUT_SECONDS: positiveSeconds.default('300'),
  /** an unmatched stay waiting this long in the review queue is sent to the operator contacts (once) */
  REVIEW_ALERT_MINUTES: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a positive number of minutes')
    .transform(Number)
    .refine((n) => n > 0, 'must be a positive number of minutes')
    .default('30'),
  /** the longest stay followed: a stay with no discharge after this many days is closed (`stay-expired`) */
  MAX_STAY_DAYS: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a positive number of days')
    .transform(Number)
    .refine((n) => n > 0, 'must be a positive number of days')
    .default('100'),
  /** a stay's workflow run continues as new past this many history events */
  WORKFLOW_HISTORY_LIMIT: positiveInt('history events').default('10000'),
  /** the operator contacts: a webhook (signed like providers' webhooks) and/or an email address through Notify */
  OPERATOR_WEBHOOK_URL: httpUrl.optional(),
  OPERATOR_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  OPERATOR_EMAIL: z.string().email('must be an email address').optional(),
  /** Notify email template for operator messages (personalisation `subject`, `message`, `link`) */
  NOTIFY_OPERATOR_TEMPLATE_ID: uuid('Notify template id').optional(),
});

export type Env = z.infer<typeof schema>;

export interface Config {
  env: string;
  production: boolean;
  port: number;
  host: string;
  mllpPort: number;
  databaseUrl: string | undefined;
  temporal: {
    address: string | undefined;
    namespace: string;
    taskQueue: string;
    cliPath: string | undefined;
  };
  adminToken: string | undefined;
  publicBaseUrl: string;
  notify: {
    apiKey: string | undefined;
    baseUrl: string | undefined;
    smsTemplateId: string | undefined;
    emailTemplateId: string | undefined;
    operatorTemplateId: string | undefined;
  };
  /** who is told when something needs an operator (CONTRACT.md "Unmatched, never silent") */
  operator: {
    webhookUrl: string | undefined;
    webhookSecret: string | undefined;
    email: string | undefined;
  };
  reviewAlertSeconds: number;
  maxStaySeconds: number;
  workflowHistoryLimit: number;
  logLevel: Env['LOG_LEVEL'];
  dataDir: string;
  admissionLingerSeconds: number;
  ackTokenTtlSeconds: number;
  relayPollMs: number;
  mllpIdleTimeoutSeconds: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Validates `env`; throws ConfigError whose message is one line per bad variable, naming it. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(
    Object.entries(env)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => [k, v.trim()] as const)
      .filter(([, v]) => v !== ''),
  );
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    // one line per variable (its first problem), in the order the schema lists them
    const byName = new Map<string, string>();
    for (const i of parsed.error.issues) {
      const name = String(i.path[0] ?? 'environment');
      if (byName.has(name)) continue;
      const message = i.message.startsWith('must') ? i.message : `is invalid (${i.message})`;
      byName.set(name, `Invalid configuration: ${name} ${message}`);
    }
    throw new ConfigError([...byName.values()].join('\n'));
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  return {
    env: e.NODE_ENV,
    production,
    port: e.PORT,
    host: e.HOST,
    mllpPort: e.MLLP_PORT,
    databaseUrl: e.DATABASE_URL,
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      cliPath: e.TEMPORAL_CLI_PATH,
    },
    adminToken: e.ADMIN_TOKEN,
    publicBaseUrl: (e.PUBLIC_BASE_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    notify: {
      apiKey: e.NOTIFY_API_KEY,
      baseUrl: e.NOTIFY_BASE_URL,
      smsTemplateId: e.NOTIFY_SMS_TEMPLATE_ID,
      emailTemplateId: e.NOTIFY_EMAIL_TEMPLATE_ID,
      operatorTemplateId: e.NOTIFY_OPERATOR_TEMPLATE_ID,
    },
    operator: {
      webhookUrl: e.OPERATOR_WEBHOOK_URL,
      webhookSecret: e.OPERATOR_WEBHOOK_SECRET,
      email: e.OPERATOR_EMAIL,
    },
    reviewAlertSeconds: e.REVIEW_ALERT_MINUTES * 60,
    maxStaySeconds: e.MAX_STAY_DAYS * 24 * 3600,
    workflowHistoryLimit: e.WORKFLOW_HISTORY_LIMIT,
    logLevel: e.LOG_LEVEL,
    dataDir: e.DATA_DIR,
    admissionLingerSeconds: e.ADMISSION_LINGER_SECONDS,
    ackTokenTtlSeconds: e.ACK_TOKEN_TTL_SECONDS,
    relayPollMs: e.RELAY_POLL_MS,
    mllpIdleTimeoutSeconds: e.MLLP_IDLE_TIMEOUT_SECONDS,
  };
}

/** For the production entry points: everything `npm start` would fill in must be given. */
export function requireProductionSettings(config: Config): void {
  const missing: string[] = [];
  if (!config.databaseUrl) missing.push('DATABASE_URL');
  if (!config.temporal.address) missing.push('TEMPORAL_ADDRESS');
  if (!config.adminToken) missing.push('ADMIN_TOKEN');
  if (missing.length > 0) {
    throw new ConfigError(missing.map((m) => `Invalid configuration: ${m} is required`).join('\n'));
  }
}
