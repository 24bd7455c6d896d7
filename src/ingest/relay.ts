/**
 * The relay: hands every committed, accepted event to its spell's workflow with signalWithStart, then marks the
 * row dispatched. A transactional outbox with a lease (ARCHITECTURE.md "Outbox, not a transaction around the
 * network", SQL in src/db/outbox.ts): a batch is claimed by setting `lease_until` (FOR UPDATE SKIP LOCKED, one
 * statement, committed), Temporal is called with no transaction open and no row locked, and the rows are then marked
 * dispatched, or their failure is recorded and the lease released early so that the next pass (after the relay's
 * backoff) retries them. Any number of relays can run. Temporal being down delays alerts (the rows wait, retried with
 * backoff) and never blocks ingestion: no pool connection is held while Temporal is slow.
 *
 * Delivery is at least once: a relay that dies (or loses its database) after signalling and before marking leaves
 * its rows leased; once the lease has expired ({@link RelayDeps.leaseMs}, 30 s by default) any relay claims them
 * again and signals them again. The workflow ignores an event whose message id it already has, so the effect
 * happens once. A call never runs past the lease (its deadline is the earlier of the two), and no call is started
 * with less than a second of the lease left, so a live relay does not race another relay for the same rows.
 *
 * Person-level identity corrections and merges (kinds `identity`, `merge`: A31 without a visit, A34, A40, A47) also
 * go to the patient's other open stays at the hospital ({@link linkFanOutStays}): each such stay is linked to the
 * message (stay_links, committed) and then signalled with the same event, before the row is marked dispatched; a
 * relay that dies in between does the whole fan-out again.
 *
 * Nothing NOTIFYs new rows (NOTIFY's commit-time lock would serialise ingestion): the relay in the process that
 * stored a message is woken by {@link Relay.kick}, and every relay polls every `pollMs`.
 */
import { Connection, type Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { Logger } from 'pino';
import type { AdmissionEvent, EventSummary } from '../domain/admission-event.js';
import { isLiveProcessingId } from '../domain/clinical.js';
import { toEventSummary } from '../domain/summary.js';
import type { Db } from '../db/client.js';
import {
  claimBatch,
  linkFanOutStays,
  markDispatched,
  recordFailures,
  type OutboxRow,
  type OutboxStay,
} from '../db/outbox.js';
import { signalStayEvent, type StayStartSettings } from '../temporal/stays.js';
import { FAN_OUT_KINDS } from './ingest.js';

/** Woken within this many coalescing waits of going idle, the relay waits once more to gather a batch. */
const STREAM_GAP_FACTOR = 5;

/**
 * Whether the relay, woken after resting `restedMs` since its last pass, waits `coalesceMs` for more messages: only
 * in a stream (woken soon after the last pass). After a longer rest the message is handed over at once, so an
 * alert's latency at a low rate does not pay the coalescing.
 */
export function waitsToCoalesce(restedMs: number, coalesceMs: number): boolean {
  return coalesceMs > 0 && restedMs < STREAM_GAP_FACTOR * coalesceMs;
}

/** How long a claimed row is the claiming relay's (default of {@link RelayDeps.leaseMs}). */
export const DEFAULT_LEASE_MS = 30_000;

/** No call to Temporal is started with less of the lease left than this (nor than `signalTimeoutMs`, if shorter). */
const MIN_CALL_MS = 1_000;

export interface RelayDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  logger: Logger;
  lingerSeconds: number;
  /** how long an unmatched stay waits in the review queue before the operators are told */
  reviewAlertSeconds?: number;
  maxStaySeconds?: number;
  historyLimit?: number;
  /** how often to look for undispatched rows when nothing wakes the relay (nothing NOTIFYs: kick() or this poll) */
  pollMs: number;
  batchSize?: number;
  /** how long one signalWithStart may take before it counts as failed (default 5 s; never past the lease) */
  signalTimeoutMs?: number;
  /**
   * how long claimed rows are this relay's (default {@link DEFAULT_LEASE_MS}, 30 s): if it dies after signalling
   * and before marking them, other relays claim them again once this has passed. Long enough for a batch's calls
   * (rows it has no lease time left for are released and claimed again), short enough to be a tolerable delay.
   */
  leaseMs?: number;
  /** the longest wait between retries while Temporal (or PostgreSQL) fails (default 5 s) */
  maxBackoffMs?: number;
  /**
   * how many workflows are signalled at once (default 8): enough to keep up with Temporal, few enough that a
   * backlog does not take the CPU from ingestion (an ACK waits for nothing the relay does)
   */
  concurrency?: number;
  /**
   * after waking from a short idle (messages arriving in a stream: woken within five times this of the last pass),
   * wait this long before claiming rows (default 20 ms), so that a steady stream of messages is handed over in
   * batches (one claim and one mark for several) rather than two statements per message; a message after a longer
   * quiet is handed over at once
   */
  coalesceMs?: number;
  /**
   * how many workflow tasks may wait in the stays' task queue (no worker free to take them) before the relay holds
   * back (default {@link DEFAULT_MAX_QUEUED}; 0: never). Temporal's figure (DescribeTaskQueue's approximate backlog)
   * is asked for when the room it last left is used up, at most every {@link QUEUE_FIGURE_EVERY_MS}: in between,
   * the relay holds back.
   * Rows held back stay in PostgreSQL, undispatched, and go as the workers catch up: signalling faster than the
   * workers take the tasks only moves the queue from PostgreSQL into Temporal, where every waiting task is written
   * to and read back from its store, and takes the CPU from ingestion.
   */
  maxQueued?: number;
}

/**
 * Temporal's backlog is asked for at most this often, and no sooner than this after the room the last figure left
 * was used up. Temporal counts a new workflow task a moment after it has answered the signal (its transfer queue),
 * and caches a task queue's statistics for `matching.TaskQueueInfoByBuildIdTTL` (5 s by default; the dev server
 * that `npm start` and the tests run is given 500 ms, src/temporal/dev-server.ts): so every figure the relay acts on
 * counts the rows it handed over on the last one, and the backlog stays within the limit. With Temporal's default
 * TTL it may pass the limit by what the relay hands over in 5 s (set the TTL to 500 ms, or lower RELAY_MAX_QUEUED).
 */
export const QUEUE_FIGURE_EVERY_MS = 500;

/** Default of {@link RelayDeps.maxQueued}: a few seconds of a worker's work at this machine's rates. */
export const DEFAULT_MAX_QUEUED = 200;

/**
 * How many more rows the relay may hand over before it asks Temporal again, given the task queue's backlog of
 * workflow tasks (`queued`; undefined when Temporal cannot say) and the limit (`maxQueued`, above 0): the room the
 * limit leaves, none at or over it. A backlog Temporal cannot report counts as empty (the relay never stops for
 * want of the figure), and is asked for again after `maxQueued` rows.
 */
export function handOverBudget(queued: number | undefined, maxQueued: number): number {
  return Math.max(0, maxQueued - (queued ?? 0));
}

export interface Relay {
  /**
   * Wakes the relay (e.g. after an insert in this process). Cheap and safe to call once per message: kicks that
   * arrive while a batch is running are folded into one more pass, and kicks are ignored while the relay is
   * backing off after a failure, so a burst of messages never becomes a burst of calls to a Temporal that is down.
   */
  kick(): void;
  stop(): Promise<void>;
  /**
   * resolves once a pass found nothing to claim (for tests and graceful shutdown); rows under another relay's lease
   * are not waited for
   */
  drained(): Promise<void>;
}

/**
 * Everything a message says identifies its patient, for finding their other stays: the PID NHS number (PID-3, else
 * PID-2), PID's other identifiers (`value^authority`), and, for A34/A40/A47, the merged patient's MRG-1 identifiers
 * (`value^authority`, and an NHS number bare as well).
 */
export function personIdentifiers(ev: AdmissionEvent): string[] {
  const ids = new Set<string>();
  if (ev.patient.nhsNumber) ids.add(ev.patient.nhsNumber);
  for (const id of ev.patient.otherIdentifiers ?? []) ids.add(id);
  for (const id of ev.mergedFrom ?? []) ids.add(id);
  ids.delete('');
  return [...ids];
}

/** True when the relay hands this event to the patient's other open stays too (live identity and merge events). */
export function fansOut(ev: AdmissionEvent): boolean {
  return FAN_OUT_KINDS.has(ev.kind) && isLiveProcessingId(ev.processingId);
}

interface BatchOutcome {
  claimed: number;
  done: number;
  failed: { id: string; error: string }[];
  /** rows not tried (a workflow's events after one that failed, or no lease time left), released with the failed */
  untried: number;
  /** the claim took as many rows as it was allowed (a full batch, or the room left in Temporal's queue): look again */
  limited: boolean;
}

/** The rows were signalled but could not be marked: they are signalled again once their lease expires. */
class MarkFailed extends Error {}

/** Too little of the claim's lease is left to start a call: the row is released, not failed. */
class LeaseSpent extends Error {}

export function startRelay(deps: RelayDeps): Relay {
  const { db, logger } = deps;
  const batchSize = deps.batchSize ?? 100;
  const signalTimeoutMs = deps.signalTimeoutMs ?? 5_000;
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  const maxBackoffMs = deps.maxBackoffMs ?? 5_000;
  const concurrency = deps.concurrency ?? 8;
  const coalesceMs = deps.coalesceMs ?? 20;
  const maxQueued = deps.maxQueued ?? DEFAULT_MAX_QUEUED;
  const minCallMs = Math.min(MIN_CALL_MS, signalTimeoutMs);
  if (!Number.isInteger(leaseMs) || leaseMs < 2 * minCallMs) {
    throw new Error(`relay leaseMs must be a whole number of milliseconds, at least ${2 * minCallMs}: ${leaseMs}`);
  }
  const stays: StayStartSettings = {
    taskQueue: deps.taskQueue,
    lingerSeconds: deps.lingerSeconds,
    ...(deps.reviewAlertSeconds !== undefined ? { reviewAlertSeconds: deps.reviewAlertSeconds } : {}),
    ...(deps.maxStaySeconds !== undefined ? { maxStaySeconds: deps.maxStaySeconds } : {}),
    ...(deps.historyLimit !== undefined ? { historyLimit: deps.historyLimit } : {}),
  };
  let running = true;
  /** a kick arrived since the last batch started: look again before sleeping */
  let pending = false;
  let failures = 0;
  let lastPartialLog = 0;
  let wake: (() => void) | undefined;
  let stopping: Promise<void> | undefined;
  /** rows the relay may still hand over before it asks Temporal for the task queue's backlog again */
  let budget = 0;
  /** Temporal's backlog is not asked for before this (a newer figure than the last, counting what was handed over) */
  let figureDueAt = 0;
  /** the relay holds back for the workers: no room left (Temporal's backlog at or over maxQueued, or no newer figure) */
  const holding = () => maxQueued > 0 && budget <= 0;
  let queueUnknownLogged = false;
  let lastHoldLog = 0;

  const kick = () => {
    pending = true;
    if (failures === 0 && !holding()) wake?.();
  };

  /**
   * Claims up to batchSize undispatched rows (committed), signals them with no transaction open (one workflow's in
   * order), then marks those handed over and releases the others.
   */
  async function dispatchBatch(): Promise<BatchOutcome> {
    let limit = batchSize;
    if (maxQueued > 0) {
      if (budget <= 0 && Date.now() >= figureDueAt) {
        figureDueAt = Date.now() + QUEUE_FIGURE_EVERY_MS;
        const queued = await queuedWorkflowTasks();
        budget = handOverBudget(queued, maxQueued);
        if (budget <= 0 && Date.now() - lastHoldLog > 60_000) {
          lastHoldLog = Date.now();
          logger.info(
            { queued, maxQueued },
            'relay holds back: the workers are behind (events wait in PostgreSQL; logged at most once a minute)',
          );
        }
      }
      if (holding()) return { claimed: 0, done: 0, failed: [], untried: 0, limited: true };
      limit = Math.min(batchSize, budget);
    }
    // measured before the claim, so this relay's idea of its lease ends no later than PostgreSQL's
    const leaseEnd = Date.now() + leaseMs;
    const { rows, lease } = await claimBatch(db, { limit, leaseMs });
    if (rows.length === 0 || lease === null) return { claimed: 0, done: 0, failed: [], untried: 0, limited: false };
    // one workflow's events in order; different workflows in parallel (a message with no stay of its own alone)
    const byWorkflow = new Map<string, OutboxRow[]>();
    for (const r of rows) {
      const key = r.workflow_id ?? `message:${String(r.id)}`;
      const list = byWorkflow.get(key);
      if (list) list.push(r);
      else byWorkflow.set(key, [r]);
    }
    const done: string[] = [];
    const failed: { id: string; error: string }[] = [];
    const untried: string[] = [];
    const lists = [...byWorkflow.values()];
    const lane = async () => {
      for (let list = lists.shift(); list; list = lists.shift()) {
        for (const [i, r] of list.entries()) {
          try {
            await handOver(r, leaseEnd);
            done.push(String(r.id));
          } catch (err) {
            // the rest of this workflow's events wait for the next pass, so they still arrive in order
            if (err instanceof LeaseSpent) untried.push(String(r.id));
            else failed.push({ id: String(r.id), error: (err as Error).message });
            for (const later of list.slice(i + 1)) untried.push(String(later.id));
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, lists.length) }, lane));
    budget -= done.length;
    // Temporal counts a new workflow task a moment after it answers the signal: the next figure waits a while
    if (maxQueued > 0 && budget <= 0) figureDueAt = Math.max(figureDueAt, Date.now() + QUEUE_FIGURE_EVERY_MS);
    try {
      await markDispatched(db, done);
    } catch (err) {
      throw new MarkFailed((err as Error).message);
    }
    // the failed and untried are released early (else they would wait for the lease to expire)
    await recordFailures(db, lease, failed, untried);
    return { claimed: rows.length, done: done.length, failed, untried: untried.length, limited: rows.length >= limit };
  }

  /**
   * One message to every stay it concerns: its own stay's workflow (PV1-19), and, for a live identity or merge
   * event, each other open stay of the patient at the hospital (linked first). Throws when any signal fails: the row
   * stays undispatched and all of it is done again (the workflows ignore a message id they already have).
   */
  async function handOver(r: OutboxRow, leaseEnd: number): Promise<void> {
    const summary = toEventSummary(String(r.id), r.parsed, r.received_at);
    if (r.admission_id !== null && r.hospital_ods !== null && r.visit_number !== null && r.workflow_id !== null) {
      const own: OutboxStay = {
        admission_id: r.admission_id,
        hospital_ods: r.hospital_ods,
        visit_number: r.visit_number,
        workflow_id: r.workflow_id,
      };
      await signal(own, summary, leaseEnd);
    }
    if (!fansOut(r.parsed)) return;
    const others = await linkFanOutStays(
      db,
      { id: String(r.id), hospitalOds: r.parsed.hospitalOds, admissionId: r.admission_id },
      personIdentifiers(r.parsed),
    );
    for (const stay of others) await signal(stay, summary, leaseEnd);
  }

  /** signalWithStart with the relay's deadline: signalTimeoutMs, and never past the lease. */
  async function signal(stay: OutboxStay, summary: EventSummary, leaseEnd: number): Promise<void> {
    const now = Date.now();
    if (leaseEnd - now < minCallMs) throw new LeaseSpent();
    await signalStayEvent(
      deps.temporal,
      stays,
      {
        admissionId: stay.admission_id,
        hospitalOds: stay.hospital_ods,
        visitNumber: stay.visit_number,
        workflowId: stay.workflow_id,
      },
      summary,
      Math.min(now + signalTimeoutMs, leaseEnd),
    );
  }

  /**
   * Temporal's approximate backlog of workflow tasks in the stays' task queue (tasks no worker has taken yet);
   * undefined when it cannot say (an older server, or the call failed: the relay then does not hold back).
   */
  async function queuedWorkflowTasks(): Promise<number | undefined> {
    try {
      const res = await deps.temporal.connection.withDeadline(Date.now() + 2_000, () =>
        deps.temporal.workflowService.describeTaskQueue({
          namespace: deps.temporal.options.namespace,
          taskQueue: { name: deps.taskQueue },
          taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
          reportStats: true,
        }),
      );
      const n = res.stats?.approximateBacklogCount;
      if (n === undefined || n === null) throw new Error('no backlog figure in the answer');
      return Number(n);
    } catch (err) {
      if (!queueUnknownLogged) {
        queueUnknownLogged = true;
        logger.warn(
          { err: (err as Error).message },
          "relay cannot read the task queue's backlog from Temporal; it hands events over without holding back",
        );
      }
      return undefined;
    }
  }

  /** After a failure: does Temporal answer its health check? Cheap, and claims no rows while it does not. */
  async function temporalAnswers(): Promise<boolean> {
    const { connection } = deps.temporal;
    if (!(connection instanceof Connection)) return true; // no health service to ask: the batch will tell
    try {
      await connection.withDeadline(Date.now() + 2_000, () => connection.healthService.check({}));
      return true;
    } catch {
      return false;
    }
  }

  let idleResolvers: (() => void)[] = [];
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    }).finally(() => {
      wake = undefined;
    });

  const loop = (async () => {
    while (running) {
      if (failures > 0 && !(await temporalAnswers())) {
        // still down: wait, without holding rows or a connection
        failures++;
        if (running) await sleep(Math.min(maxBackoffMs, 250 * 2 ** Math.min(failures - 1, 7)));
        continue;
      }
      pending = false;
      let outcome: BatchOutcome | undefined;
      try {
        outcome = await dispatchBatch();
      } catch (err) {
        // PostgreSQL failed. At the claim: nothing was claimed (or the claim committed and its answer was lost: those
        // rows wait for their lease). At the mark, after the signals: the rows stay leased and undispatched, and are
        // signalled again once the lease expires. Releasing the failed ones: they wait for the lease.
        failures++;
        if (failures === 1 || failures % 20 === 0) {
          const msg =
            err instanceof MarkFailed
              ? 'relay could not mark events dispatched; they will be signalled again when their lease expires'
              : 'relay could not reach PostgreSQL; will retry';
          logger.warn({ err: (err as Error).message, failures, leaseMs }, msg);
        }
      }
      if (outcome) {
        const notHandedOver = outcome.failed.length;
        if (notHandedOver > 0 && outcome.done === 0) {
          // nothing got through: Temporal is down (or slow); back off and probe its health before the next try
          failures++;
          if (failures === 1 || failures % 20 === 0) {
            logger.warn(
              { err: outcome.failed[0]!.error, notHandedOver, failures },
              'relay could not hand events to Temporal; will retry',
            );
          }
        } else {
          if (failures > 0) logger.info({ failures }, 'relay is handing events to Temporal again');
          failures = 0;
          // some got through and some did not: those wait for the next poll (logged at most once a minute)
          if (notHandedOver > 0 && Date.now() - lastPartialLog > 60_000) {
            lastPartialLog = Date.now();
            logger.warn(
              { err: outcome.failed[0]!.error, notHandedOver, handedOver: outcome.done },
              'relay could not hand some events to Temporal; will retry',
            );
          }
        }
      }
      if (!running) break;
      if (failures > 0) {
        await sleep(Math.min(maxBackoffMs, 250 * 2 ** Math.min(failures - 1, 7)));
        continue;
      }
      if (holding()) {
        // the workers are behind: look again when a newer figure is due (the rows wait in PostgreSQL; kicks change
        // nothing)
        await sleep(Math.max(figureDueAt - Date.now(), 10));
        continue;
      }
      // a full batch (or one that used up the room in Temporal's queue) means there may be more; so do rows released
      // untried for want of lease time (when the batch got somewhere: else the poll paces the retries); a kick means
      // something was stored while this batch ran
      if (outcome?.limited) continue;
      if (outcome && outcome.failed.length === 0 && outcome.untried > 0 && outcome.done > 0) continue;
      if (pending) continue;
      for (const r of idleResolvers) r();
      idleResolvers = [];
      const idleSince = Date.now();
      await sleep(deps.pollMs);
      if (running && waitsToCoalesce(Date.now() - idleSince, coalesceMs)) {
        await new Promise((r) => setTimeout(r, coalesceMs));
      }
    }
    for (const r of idleResolvers) r();
    idleResolvers = [];
  })();

  return {
    kick,
    stop() {
      stopping ??= (async () => {
        running = false;
        wake?.();
        await loop;
      })();
      return stopping;
    },
    drained() {
      return new Promise<void>((resolve) => {
        idleResolvers.push(resolve);
        kick();
      });
    },
  };
}
