/**
 * `npm run demo`'s sample provider system: a webhook receiver on 127.0.0.1 that checks each delivery's
 * `X-Signature` (CONTRACT.md "Webhook delivery"), prints each alert as one line, and acknowledges some of them through
 * the API with the provider's key (`POST /v1/alerts/{alertId}/acknowledge`), as a coordinator would.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';
import { SIGNATURE_HEADER, verifyWebhookSignature } from '../notify/webhook.js';
import { DEMO_PEOPLE } from './feed.js';

/** One of the provider's contacts: its path on this receiver, its name and its webhook secret. */
export interface DemoContact {
  path: string;
  name: string;
  /** the ladder step this contact is on (1: day coordinator, 2: on-call manager) */
  step: 1 | 2;
  secret: string;
}

export interface DemoReceiver {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  /** from now on, deliveries to these paths are checked with these secrets and acknowledged as these people */
  serve(opts: { contacts: DemoContact[]; apiBaseUrl: string; providerKey: string }): void;
  close(): Promise<void>;
}

/** The webhook body, as far as the receiver reads it. */
interface Delivery {
  id?: string;
  type?: string;
  alertId?: string;
  escalationStep?: number;
  patient?: { nhsNumber?: string; givenName?: string; familyName?: string; reference?: string };
  hospital?: { name?: string };
  location?: { ward?: string; bed?: string };
}

const OUTCOMES: Record<string, string> = {
  admission: 'visits-paused',
  discharge: 'visits-resumed',
  death: 'noted',
  cancellation: 'noted',
};

/** Whether `contact` acknowledges `d`: transfers are informational, and each client's admissions have their person. */
function acknowledger(d: Delivery, contact: DemoContact): boolean {
  if (!d.type || !(d.type in OUTCOMES)) return false;
  if (d.type !== 'admission') return contact.step === 1;
  const person = DEMO_PEOPLE.find((p) => p.nhsNumber === d.patient?.nhsNumber);
  return person?.acknowledgedAtStep === contact.step;
}

/** Starts the receiver on 127.0.0.1, port 0; `print` gets one line per alert and per acknowledgement. */
export async function startDemoReceiver(print: (line: string) => void): Promise<DemoReceiver> {
  let serving: Parameters<DemoReceiver['serve']>[0] | undefined;
  const seen = new Set<string>();
  const acknowledged = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();

  const acknowledge = async (d: Delivery, contact: DemoContact, what: string) => {
    if (!serving || !d.alertId || acknowledged.has(d.alertId)) return;
    acknowledged.add(d.alertId);
    const outcome = OUTCOMES[d.type ?? ''] ?? 'noted';
    try {
      const res = await fetch(`${serving.apiBaseUrl}/v1/alerts/${d.alertId}/acknowledge`, {
        method: 'POST',
        headers: { authorization: `Bearer ${serving.providerKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ by: contact.name, outcome }),
      });
      const body = (await res.json().catch(() => ({}))) as { status?: string; detail?: string };
      print(
        res.status === 200
          ? `provider  ✓ ${contact.name} acknowledged the ${what}: ${outcome} (alert ${body.status})`
          : `provider  acknowledging the ${what} answered HTTP ${res.status}: ${body.detail ?? ''}`,
      );
    } catch (err) {
      print(`provider  acknowledging the ${what} failed: ${(err as Error).message}`);
    }
  };

  const server = createServer((req, res) => {
    void text(req).then(
      (raw) => {
        const contact = serving?.contacts.find((c) => c.path === (req.url ?? '').split('?')[0]);
        const header = req.headers[SIGNATURE_HEADER.toLowerCase()];
        if (!contact || !verifyWebhookSignature(contact.secret, Array.isArray(header) ? header[0] : header, raw, 300)) {
          print(`provider  refused a delivery to ${req.url}: ${contact ? 'bad signature' : 'no such contact'}`);
          res.writeHead(contact ? 401 : 404).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
        let d: Delivery;
        try {
          d = JSON.parse(raw) as Delivery;
        } catch {
          print('provider  a delivery that is not JSON');
          return;
        }
        if (d.id && seen.has(d.id)) return; // a retry of a delivery already printed
        if (d.id) seen.add(d.id);
        const p = d.patient ?? {};
        const who = `${p.givenName ?? ''} ${p.familyName ?? ''}`.trim() || 'someone';
        const where = [d.hospital?.name, d.location?.ward, d.location?.bed ? `bed ${d.location.bed}` : undefined]
          .filter(Boolean)
          .join(', ');
        const type = (d.type ?? 'alert').toUpperCase();
        print(
          `provider  ${type.padEnd(12)} ${who}${p.reference ? ` (${p.reference})` : ''} at ${where}  → ${contact.name}, step ${d.escalationStep ?? '?'}  [alert ${d.alertId ?? '?'}]`,
        );
        if (acknowledger(d, contact)) {
          // a person reads it first
          const timer = setTimeout(() => {
            timers.delete(timer);
            void acknowledge(d, contact, `${d.type} of ${who}`);
          }, 1_500);
          timers.add(timer);
        }
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    serve(opts) {
      serving = opts;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
