/**
 * Configuration (CONTRACT.md "Process and configuration"): read once from the environment, validated,
 * passed in. An invalid variable stops the process with one line naming it.
 */
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const seconds = z.coerce.number().positive();

const schema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: port.default(3000),
  HOST: z.string().default('0.0.0.0'),
  MLLP_PORT: port.default(2575),
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
  PUBLIC_BASE_URL: z.string().url('must be an absolute URL').optional(),
  NOTIFY_API_KEY: z.string().min(1).optional(),
  NOTIFY_BASE_URL: z.string().url('must be an absolute URL').optional(),
  NOTIFY_SMS_TEMPLATE_ID: z.string().min(1).optional(),
  NOTIFY_EMAIL_TEMPLATE_ID: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().default('.data'),
  /** how long a finished stay's workflow waits for late events before completing (a later event reopens it) */
  ADMISSION_LINGER_SECONDS: seconds.default(7 * 24 * 3600),
  /** lifetime of one-time acknowledgement links */
  ACK_TOKEN_TTL_SECONDS: seconds.default(72 * 3600),
  /** how often the relay looks for undispatched messages when no notification wakes it */
  RELAY_POLL_MS: z.coerce.number().int().positive().default(1000),
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
  };
  logLevel: Env['LOG_LEVEL'];
  dataDir: string;
  admissionLingerSeconds: number;
  ackTokenTtlSeconds: number;
  relayPollMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Validates `env`; throws ConfigError whose message is one line per bad variable, naming it. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? 'environment');
      return `Invalid configuration: ${name} ${i.message.startsWith('must') ? i.message : `is invalid (${i.message})`}`;
    });
    throw new ConfigError(lines.join('\n'));
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
    },
    logLevel: e.LOG_LEVEL,
    dataDir: e.DATA_DIR,
    admissionLingerSeconds: e.ADMISSION_LINGER_SECONDS,
    ackTokenTtlSeconds: e.ACK_TOKEN_TTL_SECONDS,
    relayPollMs: e.RELAY_POLL_MS,
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
