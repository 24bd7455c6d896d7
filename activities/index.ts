import type { Db } from '../src/db/client.js';
import { createAdmissionActivities } from './admissions.js';
import { createAlertActivities } from './alerts.js';
import { createDeliveryActivities, type DeliveryDeps } from './deliveries.js';
import { createFeedActivities, type FeedActivities } from './feeds.js';
import { createOperatorActivities, type OperatorContacts } from './operator.js';
import type { AdmissionActivities } from './types.js';

export type ActivityDeps = DeliveryDeps & { db: Db; operator?: OperatorContacts };

/** All activities, built from their dependencies (STYLE.md: factories, no singletons). */
export function createActivities(deps: ActivityDeps): AdmissionActivities & FeedActivities {
  return {
    ...createAdmissionActivities(deps),
    ...createAlertActivities(deps),
    ...createDeliveryActivities(deps),
    ...createOperatorActivities(deps),
    ...createFeedActivities(deps),
  };
}
