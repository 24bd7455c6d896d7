/**
 * `npm run demo`'s registrations, through the public API as an operator and a provider would make them
 * (CONTRACT.md "Registry"): the simulated hospital, the sample provider with two webhook contacts on this run's
 * receiver and a two-step ladder, and its clients. Keys are shown once, so the demo keeps them in
 * `<DATA_DIR>/demo.json` beside the embedded database: a restart reuses the hospital and provider, puts the clients
 * again (idempotent) and replaces the contacts (the receiver's port is new each run).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_HOSPITAL, DEMO_PEOPLE } from './feed.js';
import type { DemoContact } from './receiver.js';

export const DEMO_PROVIDER = { odsCode: 'DEMOCARE', name: 'Demo Home Care (sample provider)' };

/** How long each ladder step waits for an acknowledgement before the next (seconds). */
export const DEMO_LADDER_WAITS = { day: 20, onCall: 40 } as const;

interface Org {
  id: string;
  apiKey: string;
}

interface Saved {
  hospital: Org;
  provider: Org;
  contactIds: string[];
}

export interface DemoSetup {
  hospital: Org;
  provider: Org;
  contacts: DemoContact[];
}

/** A registration the API refused: one line for the demo to print. */
export class DemoSetupError extends Error {
  override readonly name = 'DemoSetupError';
}

/** JSON over HTTP with a bearer key; a status not in `ok` is a DemoSetupError naming the call. */
async function call<T>(baseUrl: string, key: string, method: string, path: string, body?: unknown, ok = [200, 201]) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!ok.includes(res.status)) {
    const detail = (() => {
      try {
        return (JSON.parse(text) as { detail?: string }).detail ?? text;
      } catch {
        return text;
      }
    })();
    throw new DemoSetupError(`${method} ${path} answered ${res.status}: ${detail}`);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * Registers what the demo needs (or reuses what an earlier run registered) and points the provider's contacts at
 * `receiverUrl`.
 */
export async function setUpDemo(opts: {
  apiBaseUrl: string;
  adminToken: string;
  dataDir: string;
  receiverUrl: string;
}): Promise<DemoSetup> {
  const { apiBaseUrl: base, adminToken } = opts;
  const file = join(opts.dataDir, 'demo.json');
  const save = (s: Saved) => {
    mkdirSync(opts.dataDir, { recursive: true });
    writeFileSync(file, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
  };
  let saved: Saved | undefined = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Saved) : undefined;
  if (!saved) {
    const register = async (path: string, org: { odsCode: string; name: string }) => {
      try {
        return await call<Org>(base, adminToken, 'POST', path, org);
      } catch (err) {
        if (err instanceof DemoSetupError && err.message.includes(' 409: ')) {
          throw new DemoSetupError(
            `${org.odsCode} is registered already but its key is not in ${file}: start the demo with a fresh DATA_DIR (and database)`,
          );
        }
        throw err;
      }
    };
    const hospital = await register('/v1/hospitals', DEMO_HOSPITAL);
    const provider = await register('/v1/providers', DEMO_PROVIDER);
    saved = {
      hospital: { id: hospital.id, apiKey: hospital.apiKey },
      provider: { id: provider.id, apiKey: provider.apiKey },
      contactIds: [],
    };
    save(saved);
  }
  const { provider } = saved;
  const asProvider = <T>(method: string, path: string, body?: unknown, ok?: number[]) =>
    call<T>(base, provider.apiKey, method, `/v1/providers/${provider.id}${path}`, body, ok);

  const contacts: DemoContact[] = [];
  const ids: string[] = [];
  for (const c of [
    { path: '/day-coordinator', name: 'Day coordinator', step: 1 as const },
    { path: '/on-call-manager', name: 'On-call manager', step: 2 as const },
  ]) {
    const made = await asProvider<{ id: string; webhookSecret: string }>('POST', '/contacts', {
      name: c.name,
      role: c.step === 1 ? 'coordinator' : 'manager',
      webhookUrl: `${opts.receiverUrl}${c.path}`,
    });
    contacts.push({ ...c, secret: made.webhookSecret });
    ids.push(made.id);
  }
  await asProvider('PUT', '/escalation-policy', {
    steps: [
      { contactIds: [ids[0]], channels: ['webhook'], waitSeconds: DEMO_LADDER_WAITS.day },
      { contactIds: [ids[1]], channels: ['webhook'], waitSeconds: DEMO_LADDER_WAITS.onCall },
    ],
  });
  // the previous run's contacts pointed at a receiver that is gone
  for (const old of saved.contactIds) await asProvider('DELETE', `/contacts/${old}`, undefined, [204, 404]);
  for (const p of DEMO_PEOPLE) {
    if (!p.clientReference) continue;
    await asProvider('PUT', `/clients/${p.nhsNumber}`, {
      dateOfBirth: p.dateOfBirth,
      familyName: p.familyName,
      givenName: p.givenName,
      reference: p.clientReference,
    });
  }
  saved.contactIds = ids;
  save(saved);
  return { hospital: saved.hospital, provider, contacts };
}
