/** CONTRACT.md "Process and configuration": invalid configuration stops the process with one line naming the variable. */
import { describe, expect, it } from 'vitest';
import { ConfigError, csrfSecretOf, loadConfig, requireProductionSettings, sessionSecretOf } from './config.js';

const NOTIFY_KEY = 'live_key-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0';
const TEMPLATE = 'f33517ff-2a88-4f6e-b855-c550268ce08a';

/** The ConfigError message loadConfig throws for `env`, or fails the test. */
function problem(env: Record<string, string | undefined>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('fills the documented defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      mllpPort: 2575,
      metricsPort: 9464,
      host: '0.0.0.0',
      production: false,
      databaseUrl: undefined,
      temporal: {
        address: undefined,
        namespace: 'default',
        taskQueue: 'admission-alerts',
        uiUrl: 'http://localhost:8233',
      },
      adminToken: undefined,
      publicBaseUrl: 'http://localhost:3000',
      notify: { apiKey: undefined, baseUrl: undefined },
      logLevel: 'info',
      ackTokenTtlSeconds: 72 * 3600,
      admissionLingerSeconds: 7 * 24 * 3600,
      relayPollMs: 1000,
      relayMaxQueued: 200,
    });
  });

  it('reads every variable it is given, and PUBLIC_BASE_URL follows PORT unless set', () => {
    const c = loadConfig({
      NODE_ENV: 'production',
      PORT: '8080',
      MLLP_PORT: '0',
      METRICS_PORT: '0',
      DATABASE_URL: 'postgresql://u@db:5432/aa',
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_NAMESPACE: 'care',
      TEMPORAL_TASK_QUEUE: 'q1',
      ADMIN_TOKEN: 'a-long-enough-admin-token-for-production',
      NOTIFY_API_KEY: NOTIFY_KEY,
      NOTIFY_BASE_URL: 'http://127.0.0.1:9999',
      NOTIFY_SMS_TEMPLATE_ID: TEMPLATE,
      NOTIFY_EMAIL_TEMPLATE_ID: TEMPLATE,
      ACK_TOKEN_TTL_SECONDS: '2',
      RELAY_POLL_MS: '250',
      RELAY_MAX_QUEUED: '0',
    });
    expect(c).toMatchObject({
      production: true,
      port: 8080,
      mllpPort: 0,
      metricsPort: 0,
      databaseUrl: 'postgresql://u@db:5432/aa',
      temporal: { address: 'temporal:7233', namespace: 'care', taskQueue: 'q1', uiUrl: undefined },
      publicBaseUrl: 'http://localhost:8080',
      notify: { apiKey: NOTIFY_KEY, baseUrl: 'http://127.0.0.1:9999', smsTemplateId: TEMPLATE },
      ackTokenTtlSeconds: 2,
      relayPollMs: 250,
      relayMaxQueued: 0,
    });
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://alerts.example.nhs.uk/' }).publicBaseUrl).toBe(
      'https://alerts.example.nhs.uk',
    );
  });

  it('TEMPORAL_UI_URL: as given (no trailing slash); unset, the dev server UI only when npm start runs one', () => {
    expect(loadConfig({ TEMPORAL_UI_URL: 'https://temporal.example.nhs.uk/' }).temporal.uiUrl).toBe(
      'https://temporal.example.nhs.uk',
    );
    expect(loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233' }).temporal.uiUrl).toBeUndefined();
    expect(() => loadConfig({ TEMPORAL_UI_URL: 'temporal-ui:8080' })).toThrow(
      'Invalid configuration: TEMPORAL_UI_URL must be an absolute http(s) URL',
    );
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '', NOTIFY_API_KEY: '' })).toMatchObject({
      port: 3000,
      databaseUrl: undefined,
      notify: { apiKey: undefined },
    });
  });

  it.each([
    ['PORT', 'notaport', /^Invalid configuration: PORT must be a port number from 0 to 65535$/],
    ['PORT', '65536', /^Invalid configuration: PORT must be a port number/],
    ['PORT', '-1', /^Invalid configuration: PORT must be a port number/],
    ['PORT', '80.5', /^Invalid configuration: PORT must be a port number/],
    ['MLLP_PORT', 'mllp', /^Invalid configuration: MLLP_PORT must be a port number/],
    ['METRICS_PORT', '70000', /^Invalid configuration: METRICS_PORT must be a port number from 0 to 65535$/],
    ['DATABASE_URL', 'mysql://db/aa', /^Invalid configuration: DATABASE_URL must be a postgres:\/\//],
    ['TEMPORAL_ADDRESS', 'http://temporal:7233', /^Invalid configuration: TEMPORAL_ADDRESS must be host:port$/],
    ['TEMPORAL_ADDRESS', 'temporal', /^Invalid configuration: TEMPORAL_ADDRESS must be host:port$/],
    ['ADMIN_TOKEN', 'short', /^Invalid configuration: ADMIN_TOKEN must be at least 16 characters$/],
    ['PUBLIC_BASE_URL', 'alerts.example', /^Invalid configuration: PUBLIC_BASE_URL must be an absolute http\(s\) URL$/],
    [
      'PUBLIC_BASE_URL',
      'ftp://alerts.example',
      /^Invalid configuration: PUBLIC_BASE_URL must be an absolute http\(s\) URL$/,
    ],
    ['NOTIFY_API_KEY', 'not-a-key', /^Invalid configuration: NOTIFY_API_KEY must be a GOV.UK Notify API key/],
    ['NOTIFY_BASE_URL', 'notify', /^Invalid configuration: NOTIFY_BASE_URL must be an absolute http\(s\) URL$/],
    [
      'NOTIFY_SMS_TEMPLATE_ID',
      'sms-template',
      /^Invalid configuration: NOTIFY_SMS_TEMPLATE_ID must be a Notify template id/,
    ],
    [
      'NOTIFY_EMAIL_TEMPLATE_ID',
      '123',
      /^Invalid configuration: NOTIFY_EMAIL_TEMPLATE_ID must be a Notify template id/,
    ],
    [
      'LOG_LEVEL',
      'loud',
      /^Invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent$/,
    ],
    [
      'ADMISSION_LINGER_SECONDS',
      '0',
      /^Invalid configuration: ADMISSION_LINGER_SECONDS must be a positive number of seconds$/,
    ],
    [
      'ACK_TOKEN_TTL_SECONDS',
      '-5',
      /^Invalid configuration: ACK_TOKEN_TTL_SECONDS must be a positive number of seconds$/,
    ],
    [
      'ACK_TOKEN_TTL_SECONDS',
      '72h',
      /^Invalid configuration: ACK_TOKEN_TTL_SECONDS must be a positive number of seconds$/,
    ],
    [
      'MLLP_IDLE_TIMEOUT_SECONDS',
      'never',
      /^Invalid configuration: MLLP_IDLE_TIMEOUT_SECONDS must be a positive number of seconds$/,
    ],
    ['RELAY_POLL_MS', '0.5', /^Invalid configuration: RELAY_POLL_MS must be a positive whole number of milliseconds$/],
    [
      'RELAY_MAX_QUEUED',
      '-1',
      /^Invalid configuration: RELAY_MAX_QUEUED must be a whole number of workflow tasks \(0: no limit\)$/,
    ],
    ['ALLOW_LOOPBACK_WEBHOOKS', 'yes', /^Invalid configuration: ALLOW_LOOPBACK_WEBHOOKS must be true or false$/],
    [
      'MLLP_MAX_CONNECTIONS',
      '0',
      /^Invalid configuration: MLLP_MAX_CONNECTIONS must be a positive whole number of connections$/,
    ],
    [
      'MLLP_FRAME_TIMEOUT_SECONDS',
      'soon',
      /^Invalid configuration: MLLP_FRAME_TIMEOUT_SECONDS must be a positive number of seconds$/,
    ],
  ])('%s=%j is refused with one line naming it', (name, value, expected) => {
    const message = problem({ [name]: value });
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toMatch(expected);
    // a secret is never echoed back
    if (name === 'ADMIN_TOKEN' || name === 'NOTIFY_API_KEY') expect(message).not.toContain(value);
  });

  it('names each bad variable on its own line, once', () => {
    const lines = problem({ PORT: 'x', MLLP_PORT: '99999', LOG_LEVEL: 'loud', ADMIN_TOKEN: 'short' }).split('\n');
    expect(lines.map((l) => /^Invalid configuration: (\w+) /.exec(l)?.[1])).toEqual([
      'PORT',
      'MLLP_PORT',
      'ADMIN_TOKEN',
      'LOG_LEVEL',
    ]);
  });
});

describe('security defaults (CONTRACT.md "Security defaults")', () => {
  const PRODUCTION_TOKEN = 'x'.repeat(32);

  it.each(['production', 'Production', 'PRODUCTION'])(
    'NODE_ENV=%s with an ADMIN_TOKEN of 31 characters stops the process: one line, the token not echoed',
    (nodeEnv) => {
      const token = 'k'.repeat(31);
      const message = problem({ NODE_ENV: nodeEnv, ADMIN_TOKEN: token });
      expect(message).toBe(
        'Invalid configuration: ADMIN_TOKEN must be at least 32 characters when NODE_ENV=production',
      );
      expect(message).not.toContain(token);
    },
  );

  it.each([undefined, 'staging', 'development'])('NODE_ENV=%s: 16 characters are enough', (nodeEnv) => {
    expect(loadConfig({ NODE_ENV: nodeEnv, ADMIN_TOKEN: 'a'.repeat(16) })).toMatchObject({
      production: false,
      adminToken: 'a'.repeat(16),
    });
  });

  it('ADMIN_TOKEN=aaaaaaaaaaaaaaaa (16) is refused in production, and a token of 32 characters is accepted', () => {
    expect(problem({ NODE_ENV: 'production', ADMIN_TOKEN: 'aaaaaaaaaaaaaaaa' })).toBe(
      'Invalid configuration: ADMIN_TOKEN must be at least 32 characters when NODE_ENV=production',
    );
    expect(problem({ NODE_ENV: 'production', ADMIN_TOKEN: 'short' })).toBe(
      'Invalid configuration: ADMIN_TOKEN must be at least 32 characters when NODE_ENV=production',
    );
    expect(loadConfig({ NODE_ENV: 'production', ADMIN_TOKEN: PRODUCTION_TOKEN })).toMatchObject({
      production: true,
      adminToken: PRODUCTION_TOKEN,
    });
  });

  it('ALLOW_LOOPBACK_WEBHOOKS defaults to false; true is read outside production', () => {
    expect(loadConfig({}).allowLoopbackWebhooks).toBe(false);
    expect(loadConfig({ ALLOW_LOOPBACK_WEBHOOKS: 'false' }).allowLoopbackWebhooks).toBe(false);
    expect(loadConfig({ ALLOW_LOOPBACK_WEBHOOKS: 'true' }).allowLoopbackWebhooks).toBe(true);
    expect(loadConfig({ ALLOW_LOOPBACK_WEBHOOKS: 'TRUE', NODE_ENV: 'staging' }).allowLoopbackWebhooks).toBe(true);
  });

  it.each(['production', 'Production'])(
    'NODE_ENV=%s with ALLOW_LOOPBACK_WEBHOOKS=true stops the process with one line',
    (nodeEnv) => {
      expect(problem({ NODE_ENV: nodeEnv, ALLOW_LOOPBACK_WEBHOOKS: 'true', ADMIN_TOKEN: PRODUCTION_TOKEN })).toBe(
        'Invalid configuration: ALLOW_LOOPBACK_WEBHOOKS must not be true when NODE_ENV=production',
      );
      expect(loadConfig({ NODE_ENV: nodeEnv, ALLOW_LOOPBACK_WEBHOOKS: 'false' }).allowLoopbackWebhooks).toBe(false);
    },
  );

  it('both rules are reported with the other bad variables, one line each', () => {
    expect(
      problem({ NODE_ENV: 'production', PORT: 'x', ADMIN_TOKEN: 'short', ALLOW_LOOPBACK_WEBHOOKS: 'true' }).split('\n'),
    ).toEqual([
      'Invalid configuration: PORT must be a port number from 0 to 65535',
      'Invalid configuration: ADMIN_TOKEN must be at least 32 characters when NODE_ENV=production',
      'Invalid configuration: ALLOW_LOOPBACK_WEBHOOKS must not be true when NODE_ENV=production',
    ]);
  });

  it('MLLP defaults: 100 connections, a frame within 30 s, no TLS', () => {
    expect(loadConfig({})).toMatchObject({ mllpMaxConnections: 100, mllpFrameTimeoutSeconds: 30, mllpTls: undefined });
    expect(loadConfig({ MLLP_MAX_CONNECTIONS: '3', MLLP_FRAME_TIMEOUT_SECONDS: '0.5' })).toMatchObject({
      mllpMaxConnections: 3,
      mllpFrameTimeoutSeconds: 0.5,
    });
  });

  it('MLLP_TLS_CERT, MLLP_TLS_KEY and MLLP_TLS_CA come all three or none', () => {
    expect(loadConfig({ MLLP_TLS_CERT: 'c.pem', MLLP_TLS_KEY: 'k.pem', MLLP_TLS_CA: 'ca.pem' }).mllpTls).toEqual({
      certFile: 'c.pem',
      keyFile: 'k.pem',
      caFile: 'ca.pem',
    });
    expect(problem({ MLLP_TLS_CERT: 'c.pem' }).split('\n')).toEqual([
      'Invalid configuration: MLLP_TLS_KEY must be set when MLLP_TLS_CERT is (all three or none)',
      'Invalid configuration: MLLP_TLS_CA must be set when MLLP_TLS_CERT is (all three or none)',
    ]);
    expect(problem({ MLLP_TLS_CERT: 'c.pem', MLLP_TLS_KEY: 'k.pem' })).toBe(
      'Invalid configuration: MLLP_TLS_CA must be set when MLLP_TLS_CERT and MLLP_TLS_KEY are (all three or none)',
    );
  });
});

describe('requireProductionSettings', () => {
  it('names every setting npm start would have filled in, one per line', () => {
    let message = '';
    try {
      requireProductionSettings(loadConfig({ ADMIN_TOKEN: 'a-long-enough-admin-token' }));
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      'Invalid configuration: DATABASE_URL is required',
      'Invalid configuration: TEMPORAL_ADDRESS is required',
    ]);
  });

  it('accepts a complete production configuration', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://db/aa',
      TEMPORAL_ADDRESS: 'temporal:7233',
      ADMIN_TOKEN: 'a-long-enough-admin-token',
    });
    expect(() => requireProductionSettings(config)).not.toThrow();
  });
});

describe('CSRF_SECRET (the link pages across replicas)', () => {
  it('is at least 32 characters: shorter stops the start naming CSRF_SECRET', () => {
    expect(() => loadConfig({ CSRF_SECRET: 'x'.repeat(31) })).toThrow(
      'Invalid configuration: CSRF_SECRET must be at least 32 characters',
    );
    expect(loadConfig({ CSRF_SECRET: 'x'.repeat(32) }).csrfSecret).toBe('x'.repeat(32));
  });

  it('given, it is used; unset, it is derived from ADMIN_TOKEN, the same in every process, never the token itself', () => {
    const token = 'a-token-of-the-operator-0123456789';
    expect(csrfSecretOf(loadConfig({ ADMIN_TOKEN: token, CSRF_SECRET: 's'.repeat(40) }))).toBe('s'.repeat(40));
    const derived = csrfSecretOf(loadConfig({ ADMIN_TOKEN: token }));
    expect(derived).toMatch(/^[0-9a-f]{64}$/);
    expect(csrfSecretOf(loadConfig({ ADMIN_TOKEN: token }))).toBe(derived);
    expect(derived).not.toContain(token);
    expect(csrfSecretOf(loadConfig({ ADMIN_TOKEN: `${token}-other` }))).not.toBe(derived);
    expect(csrfSecretOf(loadConfig({}))).toBeUndefined();
  });
});

describe('the web portal (SESSION_SECRET, NOTIFY_SIGN_IN_TEMPLATE_ID)', () => {
  it('SESSION_SECRET is at least 32 characters; NOTIFY_SIGN_IN_TEMPLATE_ID is a template id', () => {
    expect(() => loadConfig({ SESSION_SECRET: 'x'.repeat(31) })).toThrow(
      'Invalid configuration: SESSION_SECRET must be at least 32 characters',
    );
    expect(() => loadConfig({ NOTIFY_SIGN_IN_TEMPLATE_ID: 'sign-in' })).toThrow(
      'Invalid configuration: NOTIFY_SIGN_IN_TEMPLATE_ID must be a Notify template id (a UUID)',
    );
    const id = '8b7c1b7e-7f0e-4a57-9a47-2f1d1e0c9b11';
    expect(loadConfig({ NOTIFY_SIGN_IN_TEMPLATE_ID: id }).notify.signInTemplateId).toBe(id);
  });

  it('the session secret: given, it is used; unset, derived from ADMIN_TOKEN, and not the CSRF secret', () => {
    const token = 'a-token-of-the-operator-0123456789';
    expect(sessionSecretOf(loadConfig({ ADMIN_TOKEN: token, SESSION_SECRET: 's'.repeat(40) }))).toBe('s'.repeat(40));
    const derived = sessionSecretOf(loadConfig({ ADMIN_TOKEN: token }));
    expect(derived).toMatch(/^[0-9a-f]{64}$/);
    expect(sessionSecretOf(loadConfig({ ADMIN_TOKEN: token }))).toBe(derived);
    expect(derived).not.toBe(csrfSecretOf(loadConfig({ ADMIN_TOKEN: token })));
    expect(sessionSecretOf(loadConfig({}))).toBeUndefined();
  });
});
