/**
 * What the Temporal client's errors mean for a stay, by type and gRPC status, never by message text.
 */
import { isGrpcServiceError, ServiceError, WorkflowNotFoundError } from '@temporalio/client';

/** gRPC status codes (grpc/status.h) Temporal answers with. */
const GRPC_NOT_FOUND = 5;
const GRPC_FAILED_PRECONDITION = 9;

/**
 * True when the stay's workflow is not running (completed, or never started): the caller records the change in
 * PostgreSQL directly (and a later event reopens the stay). Temporal answers NOT_FOUND for an execution that has
 * closed, which the client raises as {@link WorkflowNotFoundError}; an Update that reached a run as it closed
 * (continue-as-new or completion) is answered NOT_FOUND or FAILED_PRECONDITION inside a {@link ServiceError}.
 */
export function isWorkflowClosed(err: unknown): boolean {
  if (err instanceof WorkflowNotFoundError) return true;
  const cause = err instanceof ServiceError ? err.cause : err;
  return isGrpcServiceError(cause) && (cause.code === GRPC_NOT_FOUND || cause.code === GRPC_FAILED_PRECONDITION);
}
