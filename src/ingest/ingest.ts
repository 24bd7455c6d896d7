/**
 * Ingestion: parse → validate → store the raw message and its parsed event in one transaction → answer. The answer
 * is built only after COMMIT: an AA (or CA, or FHIR 200) is a promise that the message is never lost. Transport
 * (HTTP, MLLP) is the caller's. The parts: what to answer (decision.ts, pure), storing (src/db/messages.ts), and
 * writing the answer as an HL7 ACK (hl7-answer.ts) or a FHIR OperationOutcome (fhir-answer.ts).
 */
import type { Logger } from 'pino';
import * as hospitals from '../db/hospitals.js';
import * as messages from '../db/messages.js';
import type { Db } from '../db/client.js';
import type { AdmissionEvent } from '../domain/admission-event.js';
import type { CodeMap } from '../domain/clinical.js';
import { HEADER_ERRORS, InputError } from '../domain/errors.js';
import { canonicalJson, encounterToEvent } from '../fhir/encounter.js';
import { hasUnstorableEscape, MAX_JSON_DEPTH, nestedDeeperThan } from '../fhir/json.js';
import { sha256Hex } from '../hash.js';
import { ackCodeFor, isEnhancedMode, type AckCode } from '../hl7/ack.js';
import type { MllpSender } from '../mllp/sender-auth.js';
import { readHeader, readHeaderLenient, toAdmissionEvent, validateHeader, type Hl7Header } from '../hl7/adt.js';
import { canonicalSegments, decodeHl7Bytes, parseHl7 } from '../hl7/message.js';
import { UNKNOWN_HOSPITAL, type MetricTransport, type ServiceMetrics } from '../metrics/metrics.js';
import { createTtlCache } from '../ttl-cache.js';
import { ACCEPTED, afterStore, refused, relayRoute, UNAVAILABLE, type Decision } from './decision.js';
import {
  FHIR_EXCEPTION,
  FHIR_UNAVAILABLE,
  fhirAfterStore,
  fhirRefused,
  fhirStructureProblem,
  type FhirResult,
} from './fhir-answer.js';
import { answerHl7, type IngestResult } from './hl7-answer.js';

export { FAN_OUT_KINDS } from './decision.js';
export type { IngestResult } from './hl7-answer.js';
export type { FhirResult } from './fhir-answer.js';

export interface IngestDeps {
  db: Db;
  logger: Logger;
  now?: () => Date;
  /** counts each answer (transport, hospital, ACK code) and its time (CONTRACT.md "Metrics") */
  metrics?: ServiceMetrics;
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

/** The notification channel the relay listens on. */
export const INBOUND_CHANNEL = 'inbound_messages';

/**
 * How long a hospital's registration (and its code map) is remembered. A code map PUT through this process is seen
 * by the next message at once ({@link Ingest.codeMapChanged}); other processes see it within this time.
 */
export const HOSPITAL_CACHE_MS = 10_000;

/**
 * SHA-256 of the message as the parser reads it (segment separators, trailing whitespace and MLLP framing bytes
 * normalised), so a resend over another transport still matches.
 */
export function contentHash(text: string): string {
  return sha256Hex(canonicalSegments(text));
}

/** PostgreSQL could not take the message: answered "retry later". */
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
  const { db, logger } = deps;
  const now = deps.now ?? (() => new Date());

  /**
   * Stores a message that will not reach a workflow (rejected at the header, or by the sender check). False when
   * PostgreSQL could not take it: the caller then answers "retry later" rather than a rejection nobody could find
   * afterwards.
   */
  async function storeRejected(
    transport: messages.Transport,
    text: string,
    header: Partial<Hl7Header>,
    d: Decision,
    err: InputError,
    hash = contentHash(text),
  ): Promise<boolean> {
    try {
      await messages.storeRejected(db, {
        transport,
        text,
        contentHash: hash,
        hospitalOds: header.sendingFacility ?? null,
        controlId: header.controlId ?? null,
        // MSH-11 as sent (a refused one too), so operators can tell training traffic from live
        processingId: header.processingId || 'P',
        ackCode: ackCodeFor(d.outcome, isEnhancedMode(header)),
        httpStatus: d.httpStatus,
        error: err,
      });
      return true;
    } catch (e) {
      logger.error(
        { errorClass: (e as Error).constructor.name },
        'could not record a rejected message: answered retry later',
      );
      return false;
    }
  }

  /**
   * Registered hospitals and their code maps (`PUT /v1/hospitals/{id}/code-map`), remembered for
   * {@link HOSPITAL_CACHE_MS} once seen (hospitals are never deleted). Undefined for an ODS code that is no
   * registered hospital (not remembered, so a registration is seen at once).
   */
  const knownHospitals = createTtlCache<string, { codeMap: CodeMap | null } | undefined>({
    ttlMs: HOSPITAL_CACHE_MS,
    maxEntries: 1000,
  });
  const hospitalOf = (ods: string) =>
    knownHospitals.get(
      ods,
      async (o) => {
        const row = await hospitals.findByOds(db, o);
        return row && { codeMap: row.codeMap ?? null };
      },
      (h) => h !== undefined,
    );

  /**
   * A hospital's code map was changed in this process (the registry route calls this after its PUT): the next
   * message from it is classified with the new map. Other processes see it within {@link HOSPITAL_CACHE_MS}.
   */
  function codeMapChanged(ods: string): void {
    knownHospitals.forget(ods);
  }

  /**
   * Stores one message and its event (or its content error), recognising an exact resend and a reused control id.
   * Throws StoreUnavailable when PostgreSQL cannot take it.
   */
  async function store(
    transport: messages.Transport,
    text: string,
    header: { hospitalOds: string; controlId: string; enhanced: boolean; processingId: string },
    event: AdmissionEvent | undefined,
    contentError: InputError | undefined,
    hash = contentHash(text),
  ): Promise<{ decision: Decision; messageId?: string }> {
    const decided = event !== undefined ? ACCEPTED : refused(contentError!);
    let stored: messages.StoreOutcome;
    try {
      stored = await messages.store(db, {
        transport,
        text,
        contentHash: hash,
        hospitalOds: header.hospitalOds,
        controlId: header.controlId,
        processingId: header.processingId,
        event,
        contentError,
        ackCode: ackCodeFor(decided.outcome, header.enhanced),
        httpStatus: decided.httpStatus,
        conflictAckCode: ackCodeFor('error', header.enhanced),
        ...relayRoute(event, header.processingId),
      });
    } catch (err) {
      throw new StoreUnavailable((err as Error).message);
    }
    return afterStore(stored, decided, header.controlId);
  }

  /**
   * Handles one HL7 v2 message. Never throws: every outcome, including the database being down, is an ACK.
   */
  async function ingestHl7(
    raw: Buffer | string,
    ctx: IngestContext,
    /** for the metrics: the ODS code of MSH-4 once it is known to be a registered hospital */
    seen: { hospital?: string } = {},
  ): Promise<IngestResult> {
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
      if (hospital) seen.hospital = full.sendingFacility;
      if (ctx.transport === 'mllp' && !hospital) {
        throw new InputError('unknown-sender', `MSH-4 ${full.sendingFacility} is not a registered hospital`, 'MSH-4');
      }
      if (ctx.transport === 'mllp' && !(await ctx.mllpSender?.mayActFor(full.sendingFacility))) {
        return answerHl7(full, senderNotAllowed(full.sendingFacility, ctx.mllpSender), { now: now() });
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
      return answerHl7(full, stored.decision, { now: now(), messageId: stored.messageId });
    } catch (err) {
      if (err instanceof StoreUnavailable || !(err instanceof InputError)) {
        // the error class only: a driver message may quote the values it could not store
        logger.error(
          { errorClass: (err as Error).constructor.name, transport: ctx.transport },
          'cannot store message: answered AR, retry later',
        );
        return answerHl7(header, UNAVAILABLE, { now: now() });
      }
      const d = refused(err);
      if (!(await storeRejected(ctx.transport, text, header, d, err))) {
        return answerHl7(header, UNAVAILABLE, { now: now() });
      }
      return answerHl7(header, d, { now: now() });
    }
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
  ): Promise<FhirResult> {
    const sender = { sendingFacility: ctx.keyHospitalOds };
    const structural = (diagnostics: string, expression: string) => ({
      err: new InputError('invalid', diagnostics, expression),
      answer: fhirStructureProblem(diagnostics, expression),
    });
    let problem: ReturnType<typeof structural> | undefined;
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
      return problem.answer;
    }
    const normalised = JSON.stringify(body);
    const text = received ?? normalised;
    const hash = sha256Hex(canonicalJson(body));
    let codeMap: CodeMap | null;
    try {
      codeMap = (await hospitalOf(ctx.keyHospitalOds))?.codeMap ?? null;
    } catch (err) {
      logger.error(
        { errorClass: (err as Error).constructor.name, transport: 'fhir' },
        'cannot read the hospital: retry later',
      );
      return FHIR_UNAVAILABLE;
    }
    let event: AdmissionEvent;
    try {
      event = encounterToEvent(body, { receivedAt: now(), senderOds: ctx.keyHospitalOds, codeMap });
      if (hasUnstorableEscape(normalised)) {
        throw new InputError('invalid', 'The resource contains a NUL character or an unpaired surrogate', 'Encounter');
      }
    } catch (err) {
      if (!(err instanceof InputError)) {
        logger.error({ errorClass: (err as Error).constructor.name, transport: 'fhir' }, 'cannot read an Encounter');
        return FHIR_EXCEPTION;
      }
      const d: Decision = { ...refused(err), errors: [] };
      if (!(await storeRejected('fhir', text, sender, d, err, hash))) return FHIR_UNAVAILABLE;
      return fhirRefused(err);
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
      return fhirAfterStore(stored.decision, stored.messageId, event.messageControlId);
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
  async function ingestFhirText(received: string, ctx: { keyHospitalOds: string }): Promise<FhirResult> {
    let body: unknown;
    try {
      body = JSON.parse(received);
    } catch {
      const problem = fhirStructureProblem('The body is not valid JSON', 'Encounter');
      const err = new InputError('invalid', 'The body is not valid JSON', 'Encounter');
      const d: Decision = { outcome: 'reject', httpStatus: 400, errors: [] };
      const sender = { sendingFacility: ctx.keyHospitalOds };
      if (!(await storeRejected('fhir', received, sender, d, err, sha256Hex(received)))) return FHIR_UNAVAILABLE;
      return problem;
    }
    return ingestFhir(body, ctx, received);
  }

  const metrics = deps.metrics;
  if (!metrics) return { ingestHl7, ingestFhir, ingestFhirText, codeMapChanged };

  /** The time to answer and the answer's ACK code, by transport and hospital (a registered ODS code, else unknown). */
  const counted = (transport: MetricTransport, hospital: string | undefined, ackCode: AckCode, started: number) =>
    metrics.messageAnswered({
      transport,
      hospital: hospital ?? UNKNOWN_HOSPITAL,
      ackCode,
      seconds: (performance.now() - started) / 1000,
    });
  return {
    async ingestHl7(raw: Buffer | string, ctx: IngestContext): Promise<IngestResult> {
      const started = performance.now();
      const seen: { hospital?: string } = {};
      const result = await ingestHl7(raw, ctx, seen);
      counted(ctx.transport, ctx.keyHospitalOds ?? seen.hospital, result.code, started);
      return result;
    },
    async ingestFhir(...args: Parameters<typeof ingestFhir>): Promise<FhirResult> {
      const started = performance.now();
      const result = await ingestFhir(...args);
      counted('fhir', args[1].keyHospitalOds, fhirAckCode(result.httpStatus), started);
      return result;
    },
    async ingestFhirText(...args: Parameters<typeof ingestFhirText>): Promise<FhirResult> {
      const started = performance.now();
      const result = await ingestFhirText(...args);
      counted('fhir', args[1].keyHospitalOds, fhirAckCode(result.httpStatus), started);
      return result;
    },
    codeMapChanged,
  };
}

/**
 * A FHIR answer as the ACK code an HL7 message with the same outcome gets: 200 AA; 409 and 422 AE (stored, refused
 * for its content); anything else AR (not a readable Encounter, another hospital's, or "retry later").
 */
function fhirAckCode(httpStatus: number): AckCode {
  if (httpStatus === 200) return 'AA';
  return httpStatus === 409 || httpStatus === 422 ? 'AE' : 'AR';
}

export type Ingest = ReturnType<typeof createIngest>;
