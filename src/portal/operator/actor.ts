/** Who did it, for the audit trail, when an operator acts in the portal. */
import type { PortalUser } from '../session.js';

/** `operator:<email>`: the signed-in operator (the API's token is audited as plain `operator`). */
export function operatorActor(user: Pick<PortalUser, 'email'>): string {
  return `operator:${user.email}`;
}
