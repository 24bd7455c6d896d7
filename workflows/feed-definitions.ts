/** The feed watcher's name, input and signal, shared with the client side (src/temporal/feeds.ts). */
import { defineSignal } from '@temporalio/workflow';

export interface FeedWatchInput {
  hospitalId: string;
  /** the hospital's ODS code: for summaries only */
  odsCode: string;
  /**
   * the silence the previous run knew of (continue-as-new); absent on a fresh start, which then takes the recorded
   * one and makes sure it was told
   */
  known?: string | null;
  /** a run continues as new past this many history events (default 2,000; Temporal may suggest it earlier) */
  historyLimit?: number;
}

export const FEED_WATCH_WORKFLOW = 'feedWatchWorkflow';
/** The hospital's `silenceAlertSeconds` changed (`PATCH /v1/hospitals/{id}`): look again now. */
export const feedSettingsChangedSignal = defineSignal('feedSettingsChanged');

/** The feed watcher's workflow id: `feed-<ODS>-<hospital id>` (the id keeps deployments sharing a namespace apart). */
export function feedWatchId(hospital: { id: string; odsCode: string }): string {
  return `feed-${hospital.odsCode}-${hospital.id}`;
}
