/**
 * bench:stays' ceiling: the most trivial workflow a stay could be. Started by signalWithStart, it waits for its
 * signal, runs one activity and completes (two workflow tasks, one activity task). Not part of the service's bundle.
 */
import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';

export const goSignal = defineSignal<[string]>('go');

export interface CeilingActivities {
  touch(id: string): Promise<void>;
}

const { touch } = proxyActivities<CeilingActivities>({ startToCloseTimeout: '30s' });

export async function trivialWorkflow(): Promise<void> {
  let id: string | undefined;
  setHandler(goSignal, (x) => {
    id = x;
  });
  await condition(() => id !== undefined);
  await touch(id!);
}
