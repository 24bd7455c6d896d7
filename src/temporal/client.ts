import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from './search-attributes.js';

export interface TemporalHandle {
  client: Client;
  connection: Connection;
  namespace: string;
  taskQueue: string;
  close(): Promise<void>;
}

export async function connectTemporal(opts: {
  address: string;
  namespace: string;
  taskQueue: string;
}): Promise<TemporalHandle> {
  const connection = await Connection.connect({
    address: opts.address,
    connectTimeout: '10s',
    // after an outage, reconnect within a second of Temporal's return (gRPC's default backoff grows to 2 minutes,
    // which would hold back the relay's alerts and /health/ready for as long)
    channelArgs: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1000 },
  });
  const client = new Client({ connection, namespace: opts.namespace });
  return {
    client,
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    close: () => connection.close(),
  };
}

/**
 * Registers the search attributes on a real cluster (the dev server gets them as CLI flags). Idempotent:
 * existing ones are left alone.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const have = new Set(Object.keys(existing.customAttributes ?? {}));
  const { IndexedValueType } = proto.temporal.api.enums.v1;
  const types = {
    Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    KeywordList: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    Int: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  } as const;
  const missing = Object.fromEntries(
    Object.entries(SEARCH_ATTRIBUTES)
      .filter(([name]) => !have.has(name))
      .map(([name, type]) => [name, types[type]]),
  );
  if (Object.keys(missing).length > 0) {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  }
}

/** True when the Temporal frontend answers (for /health/ready). */
export async function temporalHealthy(connection: Connection): Promise<boolean> {
  try {
    await connection.withDeadline(Date.now() + 2000, () => connection.healthService.check({}));
    return true;
  } catch {
    return false;
  }
}
