/**
 * One long-running workflow per hospital, id `feed-<ODS>-<hospital id>` (CONTRACT.md "Feeds"): it sleeps until the
 * hospital's feed would pass its `silenceAlertSeconds`, looks (an activity), and decides with the pure rules of
 * src/domain/feed.ts; a change of state is recorded in PostgreSQL (`hospitals.feed_silent_since`) and told once to
 * the operator contacts (`feed-silent`, `feed-resumed`). While silent it looks again every minute (or every
 * threshold, if shorter) for the feed's return. A `feedSettingsChanged` signal (a PATCH of the threshold) makes it
 * look at once. It continues as new to keep its history short, carrying the silence it knows of.
 *
 * Durable: Temporal keeps its timer and its state across restarts of every process; the decision of each look is in
 * the history, so a message decided is sent (and, by its id, sent once) whatever crashes in between.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { FeedActivities } from '../activities/feeds.js';
import { durationWords, planFeed } from '../src/domain/feed.js';
import { feedSettingsChangedSignal, type FeedWatchInput } from './feed-definitions.js';

const DEFAULT_HISTORY_LIMIT = 2_000;

const acts = proxyActivities<FeedActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

export async function feedWatchWorkflow(input: FeedWatchInput): Promise<void> {
  const { hospitalId, odsCode } = input;
  let changed = false;
  setHandler(feedSettingsChangedSignal, () => {
    changed = true;
  });
  let known: string | null | undefined = input.known;
  // a fresh start (no carried state) makes sure a silence recorded by an earlier run was told
  let ensure = input.known === undefined;

  for (;;) {
    changed = false;
    const facts = await acts.readFeed.executeWithOptions({ summary: `read the feed of ${odsCode}` }, [{ hospitalId }]);
    if (!facts) return; // the hospital is gone
    known ??= facts.recordedSilentSince;
    const plan = planFeed(facts, known, Date.now(), ensure);
    ensure = false;
    if (plan.silentSince !== facts.recordedSilentSince) {
      await acts.recordFeedSilence.executeWithOptions(
        { summary: plan.silentSince ? `record ${odsCode} silent` : `record ${odsCode} speaking` },
        [{ hospitalId, silentSince: plan.silentSince }],
      );
    }
    for (const m of plan.messages) {
      await acts.notifyFeed.executeWithOptions({ summary: `tell the operators: ${m.kind} ${odsCode}` }, [
        {
          hospitalId,
          kind: m.kind,
          silentSince: m.silentSince,
          lastMessageAt: facts.lastMessageAt,
          silenceAlertSeconds: facts.silenceAlertSeconds,
        },
      ]);
    }
    known = plan.silentSince;
    setCurrentDetails(
      [
        `**${odsCode}**: ${plan.silentSince ? `silent since ${plan.silentSince}` : 'speaking'}`,
        `last message: ${facts.lastMessageAt ?? 'none yet'}`,
        `threshold: ${facts.silenceAlertSeconds === 0 ? 'off' : durationWords(facts.silenceAlertSeconds)}`,
      ].join('\n\n'),
    );
    const wait = Math.round(plan.wakeInMs / 1000);
    await condition(() => changed, plan.wakeInMs, {
      summary: plan.silentSince ? `wait ${wait} s, then look for ${odsCode}'s return` : `wait ${wait} s for silence`,
    });
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > (input.historyLimit ?? DEFAULT_HISTORY_LIMIT)) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof feedWatchWorkflow>({ ...input, known });
    }
  }
}
