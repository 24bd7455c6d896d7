/**
 * `npm run demo`'s simulated hospital: a steady feed of HL7 v2 ADT messages over HTTP (`POST /v1/hl7` with the
 * hospital's key, CONTRACT.md "HL7 v2 over HTTP") for a handful of synthetic people, some of them nobody's client.
 * Each person in turn is admitted (A01), moved to another ward (A02) and discharged home (A03).
 */
import { isValidNhsNumber } from '../domain/nhs-number.js';
import { parseAck } from '../hl7/ack.js';

/** A synthetic person: an NHS number in the 999 test range (passes modulus 11), a clearly made-up name. */
export interface DemoPerson {
  nhsNumber: string;
  givenName: string;
  familyName: string;
  /** YYYY-MM-DD */
  dateOfBirth: string;
  /** registered as the sample provider's client (with this reference), or nobody's client */
  clientReference?: string;
  /**
   * Who at the sample provider acknowledges this client's admissions: the day coordinator (step 1 of the ladder), the
   * on-call manager once it escalates (step 2), or nobody (the alert ends `unacknowledged`, which operators see).
   */
  acknowledgedAtStep: 1 | 2 | undefined;
}

/** The first NHS number from `999 000 0<i><i>`'s nine digits upwards whose check digit works. */
function testNhsNumber(i: number): string {
  for (let n = i * 10; ; n++) {
    const nine = `9990${String(n).padStart(5, '0')}`;
    for (let d = 0; d <= 9; d++) if (isValidNhsNumber(`${nine}${d}`)) return `${nine}${d}`;
  }
}

export const DEMO_PEOPLE: readonly DemoPerson[] = [
  ['Ada', 'EXAMPLE', '1938-02-14', 'DEMO-01', 1],
  ['Bert', 'EXAMPLE', '1941-07-03', 'DEMO-02', undefined],
  ['Zoe', 'NOTACLIENT', '1950-05-05', undefined, undefined],
  ['Cora', 'SAMPLE', '1935-11-30', 'DEMO-03', 1],
  ['Dai', 'SAMPLE', '1944-01-21', 'DEMO-04', 2],
  ['Yuri', 'NOTACLIENT', '1962-09-09', undefined, undefined],
  ['Elsie', 'TESTCASE', '1929-04-08', 'DEMO-05', 1],
  ['Fred', 'TESTCASE', '1947-12-25', 'DEMO-06', 2],
].map(([givenName, familyName, dateOfBirth, clientReference, step], i) => ({
  nhsNumber: testNhsNumber(i + 1),
  givenName: givenName as string,
  familyName: familyName as string,
  dateOfBirth: dateOfBirth as string,
  ...(clientReference ? { clientReference: clientReference as string } : {}),
  acknowledgedAtStep: step as 1 | 2 | undefined,
}));

export const DEMO_HOSPITAL = { odsCode: 'RXDEMO', name: 'Demo General Hospital (simulated)' };

/** HL7 TS with an explicit UTC offset: `YYYYMMDDHHMMSS+0000`. */
function hl7Time(d: Date): string {
  return `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}+0000`;
}

/** A segment from its fields by number (`{ 3: 'x' }` is SEG-3); fields not given are empty. */
function segment(name: string, fields: Record<number, string>): string {
  const last = Math.max(...Object.keys(fields).map(Number));
  const out = [name];
  for (let i = 1; i <= last; i++) out.push(fields[i] ?? '');
  return out.join('|');
}

export type DemoEvent = 'A01' | 'A02' | 'A03';

const WARDS = {
  A01: { code: 'DEMWD12', name: 'Ward 12 Elderly Care' },
  A02: { code: 'DEMWD07', name: 'Ward 7 Orthopaedics' },
} as const;

/** One ADT message of a stay: `visit` is PV1-19, `controlId` MSH-10. */
export function demoMessage(
  event: DemoEvent,
  person: DemoPerson,
  stay: { visit: string; admittedAt: Date; bed: number },
  controlId: string,
  now: Date,
): string {
  const ods = DEMO_HOSPITAL.odsCode;
  const ward = event === 'A01' ? WARDS.A01 : WARDS.A02;
  const location = `${ward.code}^B1^${stay.bed}^${ods}^^^^^${ward.name}`;
  const pv1: Record<number, string> = {
    1: '1',
    2: 'I',
    3: location,
    4: '21',
    10: '300',
    14: '19',
    19: `${stay.visit}^^^${ods}^VN`,
    44: hl7Time(stay.admittedAt),
  };
  if (event === 'A02') pv1[6] = `${WARDS.A01.code}^B1^${stay.bed}^${ods}`;
  if (event === 'A03') {
    pv1[36] = '1'; // discharge method: on clinical advice
    pv1[37] = '19'; // destination: usual place of residence
    pv1[45] = hl7Time(now);
  }
  return [
    `MSH|^~\\&|DEMO-PAS|${ods}|ADMISSION-ALERTS|NHSE|${hl7Time(now)}||ADT^${event}^ADT_${event}|${controlId}|P|2.4`,
    `EVN|${event}|${hl7Time(now)}`,
    segment('PID', {
      1: '1',
      3: `${person.nhsNumber}^^^NHS^NH`,
      5: `${person.familyName}^${person.givenName}`,
      7: person.dateOfBirth.replaceAll('-', ''),
    }),
    segment('PV1', pv1),
  ].join('\r');
}

const EVENT_WORDS: Record<DemoEvent, string> = { A01: 'admitted', A02: 'moved ward', A03: 'discharged' };

export interface FeedOptions {
  /** the service's base URL, e.g. http://127.0.0.1:3000 */
  baseUrl: string;
  hospitalKey: string;
  /** prefix that keeps this run's visit numbers and MSH-10s apart from earlier runs' */
  runTag: string;
  /** one line per message sent */
  print(line: string): void;
  /** a new stay starts this often (default 6 s); its A02 follows 12 s after the A01, its A03 45 s after */
  startEveryMs?: number;
}

export interface Feed {
  stop(): void;
}

/** Starts sending; messages go one at a time, in the order they fall due. */
export function startFeed(opts: FeedOptions): Feed {
  const startEvery = opts.startEveryMs ?? 6_000;
  const due: {
    at: number;
    event: DemoEvent;
    person: DemoPerson;
    stay: { visit: string; admittedAt: Date; bed: number };
  }[] = [];
  let stays = 0;
  let messages = 0;
  let nextStart = Date.now();
  let busy = false;
  let stopped = false;

  const send = async (item: (typeof due)[number]) => {
    const controlId = `${opts.runTag}-${++messages}`;
    const body = demoMessage(item.event, item.person, item.stay, controlId, new Date());
    const who = `${item.person.givenName} ${item.person.familyName}`;
    const whose = item.person.clientReference ? `client ${item.person.clientReference}` : "nobody's client";
    try {
      const res = await fetch(`${opts.baseUrl}/v1/hl7`, {
        method: 'POST',
        headers: { authorization: `Bearer ${opts.hospitalKey}`, 'content-type': 'x-application/hl7-v2+er7' },
        body,
      });
      const text = await res.text();
      const ack = res.headers.get('content-type')?.includes('hl7') ? parseAck(text) : undefined;
      const answer = ack?.code
        ? `ACK ${ack.code}${ack.errors.length ? ` (${ack.errors.join('; ')})` : ''}`
        : `HTTP ${res.status}`;
      opts.print(
        `hospital  ${item.event} ${EVENT_WORDS[item.event].padEnd(10)} ${who} (${whose}), visit ${item.stay.visit}  → ${answer}`,
      );
    } catch (err) {
      opts.print(`hospital  ${item.event} for ${who} not sent: ${(err as Error).message}`);
    }
  };

  const tick = async () => {
    if (busy || stopped) return;
    busy = true;
    try {
      const now = Date.now();
      if (now >= nextStart) {
        nextStart += startEvery;
        const person = DEMO_PEOPLE[stays % DEMO_PEOPLE.length]!;
        stays++;
        const stay = { visit: `${opts.runTag}V${stays}`, admittedAt: new Date(now), bed: (stays % 20) + 1 };
        due.push(
          { at: now, event: 'A01', person, stay },
          { at: now + 12_000, event: 'A02', person, stay },
          { at: now + 45_000, event: 'A03', person, stay },
        );
      }
      due.sort((a, b) => a.at - b.at);
      while (!stopped && due[0] && due[0].at <= Date.now()) await send(due.shift()!);
    } finally {
      busy = false;
    }
  };

  const timer = setInterval(() => void tick(), 250);
  void tick();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
