/**
 * Configuration (CONTRACT.md "Process and configuration"): read once from the environment, validated,
 * passed in. An invalid variable stops the process with one line naming it.
 */
import { createHmac } from 'node:crypto';
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
  /** `GET /metrics` (Prometheus) on this port, on HOST; 0 turns it off */
  METRICS_PORT: port.default('9464'),
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
  /** the Temporal Web UI the operator pages link each stay to; default: the local dev server's when it is started */
  TEMPORAL_UI_URL: httpUrl.optional(),
  /** at least 16 characters; at least 32 when NODE_ENV=production (checked in loadConfig) */
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** HMAC key of the acknowledgement pages' CSRF tokens, the same in every API process; default: derived from ADMIN_TOKEN */
  CSRF_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** tests and demos only: webhooks may go to loopback over http; refused when NODE_ENV=production */
  ALLOW_LOOPBACK_WEBHOOKS: z
    .string()
    .regex(/^(true|false)$/i, 'must be true or false')
    .transform((v) => v.toLowerCase() === 'true')
    .default('false'),
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
  /** the relay holds back while this many workflow tasks wait in the task queue for a worker (0: never holds back) */
  RELAY_MAX_QUEUED: z
    .string()
    .regex(/^\d+$/, 'must be a whole number of workflow tasks (0: no limit)')
    .transform(Number)
    .default('200'),
  /** an MLLP connection with no traffic for this long is ended */
  MLLP_IDLE_TIMEOUT_SECONDS: positiveSeconds.default('300'),
  /** connections beyond this many are closed as soon as they are accepted */
  MLLP_MAX_CONNECTIONS: positiveInt('connections').default('100'),
  /** a frame must end within this long of its start byte (0x0B), else the connection is closed without an ACK */
  MLLP_FRAME_TIMEOUT_SECONDS: positiveSeconds.default('30'),
  /** PEM files: all three turn MLLP into MLLP over TLS with client certificates signed by MLLP_TLS_CA */
  MLLP_TLS_CERT: z.string().optional(),
  MLLP_TLS_KEY: z.string().optional(),
  MLLP_TLS_CA: z.string().optional(),
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
  /** Notify email template for portal sign-in codes (personalisation `code`, `minutes`) */
  NOTIFY_SIGN_IN_TEMPLATE_ID: uuid('Notify template id').optional(),
  /** HMAC key of the portal's session cookies, the same in every API process; default: derived from ADMIN_TOKEN */
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
});

export type Env = z.infer<typeof schema>;

export interface Config {
  env: string;
  production: boolean;
  port: number;
  host: string;
  mllpPort: number;
  /** Prometheus `/metrics` on this port; 0: off */
  metricsPort: number;
  databaseUrl: string | undefined;
  temporal: {
    address: string | undefined;
    namespace: string;
    taskQueue: string;
    cliPath: string | undefined;
    /**
     * TEMPORAL_UI_URL without a trailing slash: the operator pages link a stay to `<uiUrl>/namespaces/<namespace>/
     * workflows/<workflow id>`. Unset, `http://localhost:8233` (the UI of the dev server `npm start` runs) when
     * TEMPORAL_ADDRESS is unset too; otherwise undefined (no links).
     */
    uiUrl: string | undefined;
  };
  adminToken: string | undefined;
  /** CSRF_SECRET as given (see {@link csrfSecretOf} for the one every replica uses) */
  csrfSecret?: string | undefined;
  publicBaseUrl: string;
  notify: {
    apiKey: string | undefined;
    baseUrl: string | undefined;
    smsTemplateId: string | undefined;
    emailTemplateId: string | undefined;
    operatorTemplateId: string | undefined;
    signInTemplateId: string | undefined;
  };
  /** SESSION_SECRET as given (see {@link sessionSecretOf} for the one every replica uses) */
  sessionSecret?: string | undefined;
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
  relayMaxQueued: number;
  mllpIdleTimeoutSeconds: number;
  mllpMaxConnections: number;
  mllpFrameTimeoutSeconds: number;
  /** MLLP over TLS: paths of the server certificate, its key and the CA that signs hospitals' client certificates */
  mllpTls: { certFile: string; keyFile: string; caFile: string } | undefined;
  /** ALLOW_LOOPBACK_WEBHOOKS=true: webhooks may go to loopback (never set in production) */
  allowLoopbackWebhooks: boolean;
}

/** NODE_ENV names production, whatever its case (`Production`, `PRODUCTION`). */
export function isProductionEnv(nodeEnv: string | undefined): boolean {
  return (nodeEnv ?? '').trim().toLowerCase() === 'production';
}

/** The length ADMIN_TOKEN must have at least when NODE_ENV=production (CONTRACT.md "Security defaults"). */
export const MIN_PRODUCTION_ADMIN_TOKEN = 32;

const TLS_VARIABLES = ['MLLP_TLS_CERT', 'MLLP_TLS_KEY', 'MLLP_TLS_CA'] as const;

/**
 * Rules between variables (CONTRACT.md "Security defaults"), one message per variable, checked on the raw values so
 * they are reported even when another variable is invalid too.
 */
function crossChecks(env: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  const production = isProductionEnv(env.NODE_ENV);
  if (production && env.ADMIN_TOKEN !== undefined && env.ADMIN_TOKEN.length < MIN_PRODUCTION_ADMIN_TOKEN) {
    out.set('ADMIN_TOKEN', `must be at least ${MIN_PRODUCTION_ADMIN_TOKEN} characters when NODE_ENV=production`);
  }
  if (production && env.ALLOW_LOOPBACK_WEBHOOKS?.toLowerCase() === 'true') {
    out.set('ALLOW_LOOPBACK_WEBHOOKS', 'must not be true when NODE_ENV=production');
  }
  const tlsSet = TLS_VARIABLES.filter((v) => env[v] !== undefined);
  if (tlsSet.length > 0 && tlsSet.length < TLS_VARIABLES.length) {
    for (const v of TLS_VARIABLES.filter((t) => env[t] === undefined)) {
      out.set(v, `must be set when ${tlsSet.join(' and ')} ${tlsSet.length > 1 ? 'are' : 'is'} (all three or none)`);
    }
  }
  return out;
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
  const cross = crossChecks(cleaned);
  if (!parsed.success || cross.size > 0) {
    // one line per variable (its first problem), in the order the schema lists them
    const byName = new Map<string, string>();
    for (const i of parsed.success ? [] : parsed.error.issues) {
      const name = String(i.path[0] ?? 'environment');
      if (byName.has(name)) continue;
      const message = i.message.startsWith('must') ? i.message : `is invalid (${i.message})`;
      byName.set(name, message);
    }
    // a rule between variables says more than the variable's own check ("at least 32 characters in production")
    for (const [name, message] of cross) byName.set(name, message);
    throw new ConfigError([...byName].map(([name, message]) => `Invalid configuration: ${name} ${message}`).join('\n'));
  }
  const e = parsed.data;
  const production = isProductionEnv(e.NODE_ENV);
  return {
    env: e.NODE_ENV,
    production,
    port: e.PORT,
    host: e.HOST,
    mllpPort: e.MLLP_PORT,
    metricsPort: e.METRICS_PORT,
    databaseUrl: e.DATABASE_URL,
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      cliPath: e.TEMPORAL_CLI_PATH,
      uiUrl: (e.TEMPORAL_UI_URL ?? (e.TEMPORAL_ADDRESS === undefined ? 'http://localhost:8233' : undefined))?.replace(
        /\/+$/,
        '',
      ),
    },
    adminToken: e.ADMIN_TOKEN,
    csrfSecret: e.CSRF_SECRET,
    publicBaseUrl: (e.PUBLIC_BASE_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    notify: {
      apiKey: e.NOTIFY_API_KEY,
      baseUrl: e.NOTIFY_BASE_URL,
      smsTemplateId: e.NOTIFY_SMS_TEMPLATE_ID,
      emailTemplateId: e.NOTIFY_EMAIL_TEMPLATE_ID,
      operatorTemplateId: e.NOTIFY_OPERATOR_TEMPLATE_ID,
      signInTemplateId: e.NOTIFY_SIGN_IN_TEMPLATE_ID,
    },
    sessionSecret: e.SESSION_SECRET,
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
    relayMaxQueued: e.RELAY_MAX_QUEUED,
    mllpIdleTimeoutSeconds: e.MLLP_IDLE_TIMEOUT_SECONDS,
    mllpMaxConnections: e.MLLP_MAX_CONNECTIONS,
    mllpFrameTimeoutSeconds: e.MLLP_FRAME_TIMEOUT_SECONDS,
    mllpTls:
      e.MLLP_TLS_CERT !== undefined && e.MLLP_TLS_KEY !== undefined && e.MLLP_TLS_CA !== undefined
        ? { certFile: e.MLLP_TLS_CERT, keyFile: e.MLLP_TLS_KEY, caFile: e.MLLP_TLS_CA }
        : undefined,
    allowLoopbackWebhooks: e.ALLOW_LOOPBACK_WEBHOOKS,
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

/**
 * The CSRF secret of the acknowledgement pages, the same in every replica: CSRF_SECRET, else derived from ADMIN_TOKEN
 * with HMAC-SHA256 (domain-separated, so the derived secret reveals nothing of the token); undefined without either
 * (a single development process then uses a random one; production requires ADMIN_TOKEN).
 */
export function csrfSecretOf(config: Pick<Config, 'adminToken' | 'csrfSecret'>): string | undefined {
  if (config.csrfSecret) return config.csrfSecret;
  if (!config.adminToken) return undefined;
  return createHmac('sha256', config.adminToken).update('admission-alerts/ack-page-csrf-secret/v1').digest('hex');
}

/**
 * The key that signs the portal's session cookies, the same in every replica: SESSION_SECRET, else derived from
 * ADMIN_TOKEN like {@link csrfSecretOf} (with its own label, so the two secrets differ); undefined without either.
 */
export function sessionSecretOf(config: Pick<Config, 'adminToken' | 'sessionSecret'>): string | undefined {
  if (config.sessionSecret) return config.sessionSecret;
  if (!config.adminToken) return undefined;
  return createHmac('sha256', config.adminToken).update('admission-alerts/portal-session-secret/v1').digest('hex');
}
