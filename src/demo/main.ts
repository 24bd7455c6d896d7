/**
 * `npm run demo`: the service exactly as `npm start` runs it (src/local.ts), plus a simulated hospital feed
 * (feed.ts), a sample provider whose webhook receiver prints each alert and acknowledges some (receiver.ts), and
 * what to look at in the Temporal UI. Its data lives apart from `npm start`'s, in `.data/demo` (DATA_DIR overrides);
 * webhooks to loopback are allowed for this process only. Ctrl-C stops everything.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { boot, fail, onShutdown } from '../entry.js';
import { startLocal } from '../local.js';
import { DEMO_HOSPITAL, startFeed } from './feed.js';
import { startDemoReceiver } from './receiver.js';
import { DEMO_LADDER_WAITS, DEMO_PROVIDER, DemoSetupError, setUpDemo } from './setup.js';

const { config, logger } = boot(
  { DATA_DIR: join('.data', 'demo'), LOG_LEVEL: 'warn' },
  { ALLOW_LOOPBACK_WEBHOOKS: 'true' },
);

const print = (line: string) => process.stdout.write(`${new Date().toTimeString().slice(0, 8)}  ${line}\n`);

const stops: (() => Promise<void> | void)[] = [];
const stopAll = async () => {
  for (const stop of stops.reverse()) await stop();
};

try {
  const local = await startLocal(config, logger);
  stops.push(() => local.stop());
  // stopped before the service, so no acknowledgement is still to be sent when it goes
  const receiver = await startDemoReceiver(print);
  stops.push(() => receiver.close());
  onShutdown(logger, stopAll);
  const apiBaseUrl = `http://127.0.0.1:${local.service.httpPort}`;
  const setup = await setUpDemo({
    apiBaseUrl,
    adminToken: local.adminToken,
    dataDir: config.dataDir,
    receiverUrl: receiver.baseUrl,
  });
  receiver.serve({ contacts: setup.contacts, apiBaseUrl, providerKey: setup.provider.apiKey });

  const ui = local.uiUrl;
  const query = (q: string) =>
    ui ? `${ui}/namespaces/${config.temporal.namespace}/workflows?query=${encodeURIComponent(q)}` : q;
  const token = local.adminTokenGenerated ? local.adminToken : '$ADMIN_TOKEN';
  const lines = [
    '',
    `admission-alerts demo is running (data in ${config.dataDir}; Ctrl-C stops everything)`,
    ...local.banner(),
    `  Hospital       ${DEMO_HOSPITAL.name}, ODS ${DEMO_HOSPITAL.odsCode}: sends an admission every few seconds`,
    `  Provider       ${DEMO_PROVIDER.name}, ODS ${DEMO_PROVIDER.odsCode}`,
    `                 ladder: Day coordinator (webhook, ${DEMO_LADDER_WAITS.day} s), then On-call manager (webhook, ${DEMO_LADDER_WAITS.onCall} s)`,
    '',
    'What to look at',
    `  Temporal UI    one workflow per hospital stay, id admission-${DEMO_HOSPITAL.odsCode}-<visit number>`,
    `                 waiting for an acknowledgement: ${query('AdmissionStatus="alerting"')}`,
    `                 escalated to step 2:            ${query('EscalationStep=2')}`,
    `                 nobody's client:                ${query('AdmissionStatus="no-care-package"')}`,
    `  API            curl -H "Authorization: Bearer ${token}" ${apiBaseUrl}/v1/alerts?status=all`,
    '  Try it by hand (README.md, "Try it in two minutes"): paste this line into another terminal first',
    `    export API=${apiBaseUrl} HOSPITAL_KEY=${setup.hospital.apiKey} PROVIDER_ID=${setup.provider.id} PROVIDER_KEY=${setup.provider.apiKey}`,
    '',
    "Below: each message the hospital sends, each alert the provider's webhook receives, each acknowledgement.",
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  const feed = startFeed({
    baseUrl: apiBaseUrl,
    hospitalKey: setup.hospital.apiKey,
    runTag: `D${Date.now().toString(36).toUpperCase()}${randomBytes(1).toString('hex').toUpperCase()}`,
    print,
  });
  stops.push(() => feed.stop());
} catch (err) {
  await stopAll().catch(() => undefined);
  if (err instanceof DemoSetupError) {
    process.stderr.write(`demo: ${err.message}\n`);
    process.exit(1);
  }
  fail(logger, err);
}
