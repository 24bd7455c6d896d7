/**
 * HL7 v2 ingestion: parse → validate → store the raw message and its parsed event in one transaction → ACK.
 * The ACK is built only after COMMIT: an AA (or CA) is a promise that the message is never lost. Transport
 * (HTTP, MLLP) is the caller's; this module decides the outcome.
 */
import { randomUUID } from 'node:crypto';
import { sha256Hex } from '../hash.js';
import type { Logger } from 'pino';
import type { AdmissionEvent, EventKind } from '../domain/admission-event.js';
import { isLiveProcessingId, type CodeMap } from '../domain/clinical.js';
import { HEADER_ERRORS, InputError } from '../domain/errors.js';
import { admissionWorkflowId } from '../domain/summary.js';
import type { Sql } from '../db/client.js';
import type { MllpSender } from '../mllp/sender-auth.js';
import {
  ackCodeFor,
  ackErrorFrom,
  buildAck,
  isEnhancedMode,
  wantsAcceptAck,
  type AckCode,
  type AckError,
  type AckOutcome,
} from '../hl7/ack.js';
import { readHeader, readHeaderLenient, toAdmissionEvent, validateHeader, type Hl7Header } from '../hl7/adt.js';
import { canonicalSegments, decodeHl7Bytes, parseHl7 } from '../hl7/message.js';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { canonicalJson, encounterToEvent } from '../fhir/encounter.js';
import { acceptedOutcome, operationOutcome, outcomeForInputError } from '../fhir/outcome.js';

export interface IngestDeps {
  sql: Sql;
  logger: Logger;
  now?: () => Date;
}

export interface IngestContext {
  transport: 'http' | 'mllp';
  /** HTTP: the ODS code of the hospital whose key sent the message (MSH-4 must match) */
  keyHospitalOds?: string;
  /**
   * MLLP: the connection (address, TLS certificate) the message came on; MSH-4's hospital must allow it, else AR and
   * nothing is stored (CONTRACT.md "Security defaults"). Without one, no MLLP message is accepted.
   */
  mllpSender?: MllpSender;
}

export interface IngestResult {
  code: AckCode;
  httpStatus: number;
  ack: string;
  /** false when MSH-15 asked for no accept acknowledgement (MLLP only honours it) */
  sendAck: boolean;
  /** the stored row, when stored */
  messageId?: string;
}

/** The notification channel the relay listens on. */
export const INBOUND_CHANNEL = 'inbound_messages';

/**
 * How long a hospital's registration (and its code map) is remembered. A code map PUT through this process is seen
 * by the next message at once ({@link Ingest.codeMapChanged}); other processes see it within this time.
 */
export const HOSPITAL_CACHE_MS = 10_000;

/**
 * Person-level kinds (A31 without a visit, A34, A40, A47) that the relay hands to the patient's other open stays
 * at the hospital; they are relayed even without a PV1-19 stay of their own.
 */
export const FAN_OUT_KINDS: ReadonlySet<EventKind> = new Set<EventKind>(['identity', 'merge']);

/** MSH-11 as stored (processing_id): at most this many characters of a value that was refused. */
const MAX_STORED_PROCESSING_ID = 20;

/**
 * SHA-256 of the message as the parser reads it (segment separators, trailing whitespace and MLLP framing bytes
 * normalised), so a resend over another transport still matches.
 */
export function contentHash(text: string): string {
  return sha256Hex(canonicalSegments(text));
}

/**
 * Text as PostgreSQL can store it: NUL (which neither text nor jsonb can hold) becomes U+FFFD. Only for what is
 * stored for the record (raw, reasons); a message holding NUL is never accepted.
 */
function storable(v: string): string;
function storable(v: string | null): string | null;
function storable(v: string | null): string | null {
  return v !== null && v.includes('\u0000') ? v.replaceAll('\u0000', '\ufffd') : v;
}

/**
 * In JSON.stringify output: an escaped NUL (`\u0000`) or an unpaired surrogate (`\udXXX`, which JSON.stringify
 * escapes; paired ones it writes as they are). PostgreSQL jsonb refuses both.
 */
const UNSTORABLE_JSON_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/** Deepest JSON nesting accepted in a FHIR resource (an Encounter needs about 8; deeper is an attack). */
const MAX_JSON_DEPTH = 64;

/** True when `value` nests arrays/objects deeper than `max`; iterative, so any depth is safe to ask about. */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}


interface Decision {
  outcome: AckOutcome;
  httpStatus: number;
  errors: AckError[];
}

class StoreUnavailable extends Error {}

/**
 * AR (or CR), ERR 204 at MSH-4: the hospital named in MSH-4 does not let this MLLP connection send as it. Not stored
 * (anyone who can reach the port could otherwise fill the database). 204 ("unknown key identifier", as for an HTTP
 * key of another hospital) rather than 207, which this service uses for "retry later": resending will not help.
 */
function senderNotAllowed(ods: string, sender: MllpSender | undefined): Decision {
  const how = sender?.certificateFingerprint !== undefined ? 'certificate' : `address ${sender?.remoteAddress ?? ''}`;
  return {
    outcome: 'reject',
    httpStatus: 403,
    errors: [
      { hl7Code: '204', location: 'MSH-4', message: `sender not allowed: ${ods} does not allow MLLP from this ${how}` },
    ],
  };
}

export function createIngest(deps: IngestDeps) {
  const { sql, logger } = deps;
  const now = deps.now ?? (() => new Date());

  function answer(header: Partial<Hl7Header>, d: Decision, messageId?: string, text?: string): IngestResult {
    const code = ackCodeFor(d.outcome, isEnhancedMode(header));
    return {
      code,
      httpStatus: d.httpStatus,
      ack: buildAck({ inbound: header, code, errors: d.errors, controlId: randomUUID(), now: now(), text }),
      sendAck: wantsAcceptAck(header, d.outcome),
      messageId,
    };
  }

  /**
   * Stores a message that will not reach a workflow (rejected at the header, or by the sender check): it never takes
   * the MSH-10 slot, so the same control id can still be sent correctly. False when PostgreSQL could not take it:
   * the caller then answers "retry later" rather than a rejection nobody could find afterwards.
   */
  async function storeRejected(
    transport: 'http' | 'mllp' | 'fhir',
    text: string,
    header: Partial<Hl7Header>,
    d: Decision,
    err: InputError,
    hash = contentHash(text),
  ): Promise<boolean> {
    // MSH-11 as sent (a refused one too, cut short), so operators can tell training traffic from live
    const processingId = storable((header.processingId || 'P').slice(0, MAX_STORED_PROCESSING_ID));
    try {
      await sql`insert into inbound_messages (transport, hospital_ods, message_control_id, content_hash, raw, status,
          is_primary, ack_code, http_status, error_code, error_reason, error_location, processing_id)
        values (${transport}, ${storable(header.sendingFacility || null)}, ${storable(header.controlId || null)},
          ${hash}, ${storable(text)}, 'rejected', false, ${ackCodeFor(d.outcome, isEnhancedMode(header))},
          ${d.httpStatus}, ${err.code}, ${storable(err.message)}, ${storable(err.location ?? null)}, ${processingId})`;
      return true;
    } catch (e) {
      logger.error(
        { errorClass: (e as Error).constructor.name },
        'could not record a rejected message: answered retry later',
      );
      return false;
    }
  }

  /** AR (or CR), HTTP 503, ERR 207: the message could not be stored now, the sender should send it again. */
  function unavailable(header: Partial<Hl7Header>): IngestResult {
    return answer(header, {
      outcome: 'reject',
      httpStatus: 503,
      errors: [{ hl7Code: '207', message: 'The service cannot store messages right now: retry later' }],
    });
  }

  const FHIR_UNAVAILABLE = {
    httpStatus: 503,
    outcome: operationOutcome([
      { severity: 'error', code: 'transient', diagnostics: 'The service cannot store messages right now: retry later' },
    ]),
  };

  /**
   * Registered hospitals and their code maps (`PUT /v1/hospitals/{id}/code-map`), remembered for
   * {@link HOSPITAL_CACHE_MS} once seen (hospitals are never deleted): one query less per message. Undefined for an
   * ODS code that is no registered hospital (not remembered, so a registration is seen at once).
   */
  const knownHospitals = new Map<string, { until: number; codeMap: CodeMap | null }>();
  /** bumped by every {@link codeMapChanged}: a look-up that started before a change does not remember its answer */
  let codeMapEpoch = 0;
  async function hospitalOf(ods: string): Promise<{ codeMap: CodeMap | null } | undefined> {
    const known = knownHospitals.get(ods);
    if (known && known.until > Date.now()) return known;
    const epoch = codeMapEpoch;
    const [row] = await sql<{ code_map: CodeMap | null }[]>`select code_map from hospitals where ods_code = ${ods}`;
    if (!row) return undefined;
    const entry = { until: Date.now() + HOSPITAL_CACHE_MS, codeMap: row.code_map ?? null };
    if (epoch === codeMapEpoch) {
      if (knownHospitals.size >= 1000) knownHospitals.clear();
      knownHospitals.set(ods, entry);
    }
    return entry;
  }

  /**
   * A hospital's code map was changed in this process (the registry route calls this after its PUT): the next
   * message from it is classified with the new map. Other processes see it within {@link HOSPITAL_CACHE_MS}.
   */
  function codeMapChanged(ods: string): void {
    codeMapEpoch++;
    knownHospitals.delete(ods);
  }

  /**
   * Handles one HL7 v2 message. Never throws: every outcome, including the database being down, is an ACK.
   */
  async function ingestHl7(raw: Buffer | string, ctx: IngestContext): Promise<IngestResult> {
    const text = typeof raw === 'string' ? raw : decodeHl7Bytes(raw);
    let header: Partial<Hl7Header> = {};
    try {
      const msg = parseHl7(text);
      header = readHeaderLenient(msg);
      const full = readHeader(msg);
      header = full;
      validateHeader(full);
      if (ctx.transport === 'http' && ctx.keyHospitalOds !== undefined && full.sendingFacility !== ctx.keyHospitalOds) {
        throw new InputError(
          'sender-mismatch',
          `MSH-4 ${full.sendingFacility} is not the hospital of this API key`,
          'MSH-4',
        );
      }
      // the sending hospital's code map in force now; over MLLP this also checks that MSH-4 is registered
      const hospital = await hospitalOf(full.sendingFacility);
      if (ctx.transport === 'mllp' && !hospital) {
        throw new InputError('unknown-sender', `MSH-4 ${full.sendingFacility} is not a registered hospital`, 'MSH-4');
      }
      if (ctx.transport === 'mllp' && !(await ctx.mllpSender?.mayActFor(full.sendingFacility))) {
        return answer(full, senderNotAllowed(full.sendingFacility, ctx.mllpSender));
      }
      let event: AdmissionEvent | undefined;
      let contentError: InputError | undefined;
      try {
        if (text.includes('\u0000')) {
          throw new InputError('invalid', 'the message contains NUL (0x00) bytes, which HL7 v2 does not allow');
        }
        event = toAdmissionEvent(msg, full, hospital?.codeMap);
      } catch (err) {
        if (!(err instanceof InputError) || HEADER_ERRORS.has(err.code)) throw err;
        contentError = err;
      }
      const stored = await store(
        ctx.transport,
        text,
        {
          hospitalOds: full.sendingFacility,
          controlId: full.controlId,
          enhanced: isEnhancedMode(full),
          processingId: full.processingId || 'P',
        },
        event,
        contentError,
      );
      return answer(full, stored.decision, stored.messageId);
    } catch (err) {
      if (err instanceof StoreUnavailable || !(err instanceof InputError)) {
        // the error class only: a driver message may quote the values it could not store
        logger.error(
          { errorClass: (err as Error).constructor.name, transport: ctx.transport },
          'cannot store message: answered AR, retry later',
        );
        return unavailable(header);
      }
      const status = err.code === 'sender-mismatch' ? 403 : HEADER_ERRORS.has(err.code) ? 400 : 422;
      const d: Decision = {
        outcome: HEADER_ERRORS.has(err.code) ? 'reject' : 'error',
        httpStatus: status,
        errors: [ackErrorFrom(err)],
      };
      if (!(await storeRejected(ctx.transport, text, header, d, err))) return unavailable(header);
      return answer(header, d);
    }
  }

  /**
   * Stores one message and its event (or its content error) in one transaction, recognising an exact resend and
   * a reused control id. Throws StoreUnavailable when PostgreSQL cannot take it.
   *
   * What the relay gets: a live (MSH-11 `P` or empty) accepted event with a PV1-19 upserts its spell's admission and
   * waits for the relay (dispatched_at null); so does a live accepted identity or merge event without one (the relay
   * hands it to the patient's other open stays). Training (`T`) and debugging (`D`) messages are stored and answered
   * as usual but never reach a stay: no admission row is created or linked, and they are marked dispatched at once.
   */
  async function store(
    transport: 'http' | 'mllp' | 'fhir',
    text: string,
    header: { hospitalOds: string; controlId: string; enhanced: boolean; processingId: string },
    event: AdmissionEvent | undefined,
    contentError: InputError | undefined,
    hash = contentHash(text),
  ): Promise<{ decision: Decision; messageId?: string }> {
    const accepted = event !== undefined;
    const decision: Decision = accepted
      ? { outcome: 'accept', httpStatus: 200, errors: [] }
      : { outcome: 'error', httpStatus: 422, errors: [ackErrorFrom(contentError!)] };
    const storedCode = ackCodeFor(decision.outcome, header.enhanced);
    type Existing = {
      id: bigint;
      content_hash: string;
      status: string;
      http_status: number;
      error_code: string | null;
      error_reason: string | null;
      error_location: string | null;
    };
    let result: { id?: bigint; existing?: Existing };
    try {
      // The common case in one statement, so one round trip and its implicit COMMIT (synchronous_commit=on)
      // before the ACK: the spell's admission row (upserted) and the message with its event. No NOTIFY: the relay
      // in this process is kicked by the caller, and NOTIFY's commit-time lock would serialise every commit.
      const live = isLiveProcessingId(header.processingId);
      const visit = (live && event?.visitNumber) || null;
      const personLevel = live && event !== undefined && FAN_OUT_KINDS.has(event.kind);
      const [row] = await sql<{ id: bigint }[]>`
        with adm as (
          insert into admissions (hospital_ods, visit_number, workflow_id)
          select ${event?.hospitalOds ?? null}::text, ${visit}::text,
            ${event && visit ? admissionWorkflowId(event.hospitalOds, visit) : null}::text
          where ${visit}::text is not null
          on conflict (hospital_ods, visit_number) do update set updated_at = now()
          returning id
        )
        insert into inbound_messages (transport, hospital_ods, message_control_id, content_hash, raw, parsed, status,
          ack_code, http_status, error_code, error_reason, error_location, admission_id, event_at, dispatched_at,
          processing_id)
        values (${transport}, ${header.hospitalOds}, ${header.controlId}, ${hash}, ${storable(text)},
          ${event ? sql.json(event as never) : null}, ${accepted ? 'accepted' : 'rejected'}, ${storedCode},
          ${decision.httpStatus}, ${contentError?.code ?? null}, ${contentError?.message ?? null},
          ${contentError?.location ?? null}, (select id from adm), ${event?.eventAt ?? null},
          case when ${accepted}::boolean and (exists (select 1 from adm) or ${personLevel}::boolean) then null else now() end,
          ${header.processingId})
        on conflict (hospital_ods, message_control_id)
          where is_primary and hospital_ods is not null and message_control_id is not null
        do nothing
        returning id`;
      if (row) return { decision, messageId: String(row.id) };
      // MSH-4 + MSH-10 seen before: an exact resend, or a reused control id
      result = await sql.begin(async (tx) => {
        const [existing] = await tx<Existing[]>`
          select id, content_hash, status, http_status, error_code, error_reason, error_location from inbound_messages
          where hospital_ods = ${header.hospitalOds} and message_control_id = ${header.controlId} and is_primary`;
        if (existing && existing.content_hash !== hash) {
          await tx`insert into inbound_messages (transport, hospital_ods, message_control_id, content_hash, raw, status,
              is_primary, ack_code, http_status, error_code, error_reason, error_location, processing_id)
            values (${transport}, ${header.hospitalOds}, ${header.controlId}, ${hash}, ${storable(text)}, 'rejected', false,
              ${ackCodeFor('error', header.enhanced)}, 409, 'duplicate-control-id',
              'same MSH-4 and MSH-10 as an earlier message with different content', 'MSH-10', ${header.processingId})`;
        }
        return { existing };
      });
    } catch (err) {
      throw new StoreUnavailable((err as Error).message);
    }
    if (result.id !== undefined) return { decision, messageId: String(result.id) };
    const existing = result.existing!;
    if (existing.content_hash !== hash) {
      return {
        decision: {
          outcome: 'error',
          httpStatus: 409,
          errors: [
            {
              hl7Code: '205',
              location: 'MSH-10',
              message: `MSH-10 ${header.controlId} was already used by this hospital for a different message`,
            },
          ],
        },
      };
    }
    // an exact resend: the stored outcome again, nothing done twice
    const stored: Decision =
      existing.status === 'accepted'
        ? { outcome: 'accept', httpStatus: 200, errors: [] }
        : {
            outcome: 'error',
            httpStatus: existing.http_status,
            errors: [
              {
                hl7Code: existing.error_code
                  ? ackErrorFrom(new InputError(existing.error_code as never, '')).hl7Code
                  : '207',
                message: existing.error_reason ?? 'rejected',
                ...(existing.error_location ? { location: existing.error_location } : {}),
              },
            ],
          };
    return { decision: stored, messageId: String(existing.id) };
  }

  /**
   * Handles one FHIR R4 Encounter (CONTRACT.md "FHIR R4"): the same store and the same outcome classes as HL7,
   * answered with an OperationOutcome: 200 stored (or an exact resend of a stored one), 400 not an Encounter or no
   * serviceProvider, 403 serviceProvider not this key's hospital, 409 same id/version with different content,
   * 422 content errors, 503 when it cannot be stored. Never throws. An exact resend is recognised by the resource's
   * canonical JSON (key order and whitespace do not matter).
   */
  async function ingestFhir(
    body: unknown,
    ctx: { keyHospitalOds: string },
    /** the body as received, stored for the record (default: the JSON of `body`) */
    received?: string,
  ): Promise<{ httpStatus: number; outcome: OperationOutcome; messageId?: string }> {
    const sender = { sendingFacility: ctx.keyHospitalOds };
    const structural = (diagnostics: string, expression: string) => {
      const err = new InputError('invalid', diagnostics, expression);
      return {
        err,
        outcome: operationOutcome([{ severity: 'error', code: 'structure', diagnostics, expression: [expression] }]),
      };
    };
    let problem: { err: InputError; outcome: OperationOutcome } | undefined;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      problem = structural('The body is not a FHIR resource (a JSON object)', 'Encounter');
    } else if (typeof (body as { resourceType?: unknown }).resourceType !== 'string') {
      problem = structural('The body has no resourceType', 'Encounter.resourceType');
    } else if (nestedDeeperThan(body, MAX_JSON_DEPTH)) {
      problem = structural(`The resource is nested more than ${MAX_JSON_DEPTH} levels deep`, 'Encounter');
    }
    if (problem) {
      const raw =
        received ??
        (nestedDeeperThan(body, MAX_JSON_DEPTH) ? '(nested too deeply to store)' : JSON.stringify(body ?? null));
      const d: Decision = { outcome: 'reject', httpStatus: 400, errors: [] };
      if (!(await storeRejected('fhir', raw, sender, d, problem.err, sha256Hex(raw)))) return FHIR_UNAVAILABLE;
      return { httpStatus: 400, outcome: problem.outcome };
    }
    const normalised = JSON.stringify(body);
    const text = received ?? normalised;
    const hash = sha256Hex(canonicalJson(body));
    let codeMap: CodeMap | null;
    try {
      codeMap = (await hospitalOf(ctx.keyHospitalOds))?.codeMap ?? null;
    } catch (err) {
      logger.error({ errorClass: (err as Error).constructor.name, transport: 'fhir' }, 'cannot read the hospital: retry later');
      return FHIR_UNAVAILABLE;
    }
    let event: AdmissionEvent;
    try {
      event = encounterToEvent(body, { receivedAt: now(), senderOds: ctx.keyHospitalOds, codeMap });
      if (UNSTORABLE_JSON_ESCAPE.test(normalised)) {
        throw new InputError('invalid', 'The resource contains a NUL character or an unpaired surrogate', 'Encounter');
      }
    } catch (err) {
      if (!(err instanceof InputError)) {
        logger.error({ errorClass: (err as Error).constructor.name, transport: 'fhir' }, 'cannot read an Encounter');
        return {
          httpStatus: 500,
          outcome: operationOutcome([
            { severity: 'error', code: 'exception', diagnostics: 'Something went wrong; it has been logged' },
          ]),
        };
      }
      const header = HEADER_ERRORS.has(err.code);
      const status = err.code === 'sender-mismatch' ? 403 : header ? 400 : 422;
      const d: Decision = { outcome: header ? 'reject' : 'error', httpStatus: status, errors: [] };
      if (!(await storeRejected('fhir', text, sender, d, err, hash))) return FHIR_UNAVAILABLE;
      return { httpStatus: status, outcome: outcomeForInputError(err) };
    }
    try {
      const stored = await store(
        'fhir',
        text,
        { hospitalOds: event.hospitalOds, controlId: event.messageControlId, enhanced: false, processingId: 'P' },
        event,
        undefined,
        hash,
      );
      if (stored.decision.outcome === 'accept') {
        return {
          httpStatus: 200,
          outcome: acceptedOutcome(`Stored as message ${stored.messageId}`),
          messageId: stored.messageId,
        };
      }
      const e = stored.decision.errors[0];
      const conflict = stored.decision.httpStatus === 409;
      return {
        httpStatus: stored.decision.httpStatus,
        outcome: operationOutcome([
          {
            severity: 'error',
            code: conflict ? 'conflict' : 'invalid',
            diagnostics: conflict
              ? `Encounter ${event.messageControlId.replace(/^fhir-/, '')} was already sent by this hospital with different content: give a changed resource a new meta.versionId`
              : (e?.message ?? 'rejected'),
            ...(conflict ? { expression: ['Encounter.meta.versionId'], detailCode: 'duplicate-control-id' } : {}),
          },
        ]),
      };
    } catch (err) {
      logger.error(
        { errorClass: (err as Error).constructor.name, transport: 'fhir' },
        'cannot store message: retry later',
      );
      return FHIR_UNAVAILABLE;
    }
  }

  /**
   * `POST /v1/fhir/Encounter` as received (UTF-8 text): a body that is not JSON is stored as rejected and answered
   * 400 `structure`; anything else goes to {@link ingestFhir}, with the text kept as the stored raw message.
   */
  async function ingestFhirText(
    received: string,
    ctx: { keyHospitalOds: string },
  ): Promise<{ httpStatus: number; outcome: OperationOutcome; messageId?: string }> {
    let body: unknown;
    try {
      body = JSON.parse(received);
    } catch {
      const diagnostics = 'The body is not valid JSON';
      const err = new InputError('invalid', diagnostics, 'Encounter');
      const d: Decision = { outcome: 'reject', httpStatus: 400, errors: [] };
      const sender = { sendingFacility: ctx.keyHospitalOds };
      if (!(await storeRejected('fhir', received, sender, d, err, sha256Hex(received)))) return FHIR_UNAVAILABLE;
      return {
        httpStatus: 400,
        outcome: operationOutcome([{ severity: 'error', code: 'structure', diagnostics, expression: ['Encounter'] }]),
      };
    }
    return ingestFhir(body, ctx, received);
  }

  return { ingestHl7, ingestFhir, ingestFhirText, codeMapChanged };
}

export type Ingest = ReturnType<typeof createIngest>;
