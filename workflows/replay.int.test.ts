/**
 * Determinism guard (ARCHITECTURE.md "Determinism is guarded", STYLE.md rule 8): the recorded histories of
 * representative stays in test/histories are replayed against the current workflow bundle. A change to
 * workflows/ (or to the pure modules it imports: src/domain/spell.ts, src/domain/alert-plan.ts, ...) that makes
 * a running workflow take a different path fails here.
 *
 * When it fails: if the change is meant to alter what workflows do, guard the new path with `patched('<id>')`
 * (old histories keep the old path), then re-record with `npm run histories:record` and keep the previous
 * histories beside the new ones (e.g. `full-story.v1.json`) for as long as workflows that started on the old code
 * may still be running. If the change was not meant to alter behaviour, it is a bug: fix the code, not the history.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { beforeAll, describe, expect, it, inject } from 'vitest';
import { historyFromJson } from '../test/histories/history-json.js';

const dir = new URL('../test/histories/', import.meta.url);
const recorded = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();
const load = (file: string) => historyFromJson(readFileSync(new URL(file, dir), 'utf8'));

let workflowBundle: { code: string };

beforeAll(() => {
  workflowBundle = { code: readFileSync(inject('workflowBundlePath'), 'utf8') };
  try {
    // the tampered history below makes the SDK's core warn about the nondeterminism it finds: expected, so quiet
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
    });
  } catch {
    // a runtime is already installed in this process
  }
});

describe('recorded workflow histories replay against the current workflow code', () => {
  it('has the representative stays recorded', () => {
    const stays = [
      'full-story',
      'unacknowledged',
      'cancelled',
      'discharge-cancelled',
      'reopened-stay',
      'no-care-package',
    ];
    // v1: recorded before the clinical-safety rules (codes, death, identity corrections, review queue)
    const clinical = ['death-replaces-discharge', 'wrong-patient', 'review-resolved', 'newer-stay-open'];
    // a stay that continued as new: the run that handed its state over, and a run that started from it
    clinical.push('continued-as-new.first', 'continued-as-new.second');
    // v2: recorded before the Temporal UI summaries and details, cancellation from the UI and resends
    const operators = ['resent', 'cancelled-from-ui', 'closed-reopened'];
    const current = [...stays, ...clinical];
    // v3: recorded before a stay of nobody's client completed at once (README "Work per stay")
    const v3 = [...current, ...operators].map((s) => `${s}.v3`);
    for (const name of [
      ...current,
      ...stays.map((s) => `${s}.v1`),
      ...current.map((s) => `${s}.v2`),
      ...operators,
      ...v3,
    ]) {
      expect(recorded, `test/histories/${name}.json (npm run histories:record)`).toContain(`${name}.json`);
    }
  });

  it('every recorded history replays without a nondeterminism error', async () => {
    const histories = recorded.map((file) => ({ workflowId: file.replace(/\.json$/, ''), history: load(file) }));
    const results: Record<string, string> = {};
    for await (const r of Worker.runReplayHistories({ workflowBundle }, histories)) {
      results[r.workflowId] = r.error ? `${r.error.name}: ${r.error.message}` : 'ok';
    }
    expect(results).toEqual(Object.fromEntries(histories.map((h) => [h.workflowId, 'ok'])));
  });

  it('notices when code and history disagree: a history whose first activity is not the one the code schedules fails', async () => {
    // (v3: the stay's first steps were still activity tasks then; they are local activities now)
    const history = load('full-story.v3.json');
    const first = history.events?.find((e) => e.activityTaskScheduledEventAttributes);
    expect(first?.activityTaskScheduledEventAttributes?.activityType?.name).toBe('openAdmission');
    first!.activityTaskScheduledEventAttributes!.activityType!.name = 'matchProviders';
    await expect(Worker.runReplayHistory({ workflowBundle }, history, 'tampered')).rejects.toBeInstanceOf(
      DeterminismViolationError,
    );
  });
});
