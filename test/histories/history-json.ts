/**
 * Workflow histories to and from Temporal's JSON history format (the format of `temporal workflow show --output
 * json` and the Web UI's download), for the recorded histories the replay test replays.
 *
 * Why not `historyToJSON` / `historyFromJSON` from `@temporalio/common`: with this dependency tree npm installs
 * two copies of protobufjs 8 (one under @temporalio/common, one under @temporalio/proto), and protojson then
 * refuses the other copy's types ("type must be a Type"). This uses the protojson of the copy that
 * @temporalio/proto itself loads, so types and converter agree.
 */
import { createRequire } from 'node:module';
import proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root.js';

type History = proto.temporal.api.history.v1.IHistory;

interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

const fromProtoPackage = createRequire(createRequire(import.meta.url).resolve('@temporalio/proto'));
const protojson = fromProtoPackage('protobufjs/ext/protojson') as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType(
  'temporal.api.history.v1.History',
);

/** A history as Temporal JSON (pretty-printed, as the CLI writes it). */
export function historyToJson(history: History): string {
  const message = proto.temporal.api.history.v1.History.fromObject(history as never);
  return `${JSON.stringify(protojson.toJson(historyType, message), null, 2)}\n`;
}

/** Temporal JSON (as written by {@link historyToJson} or the CLI) back to a History the replayer takes. */
export function historyFromJson(json: string): History {
  const parsed = JSON.parse(json) as { events?: Record<string, unknown>[] };
  if (!Array.isArray(parsed.events) || parsed.events.length === 0) throw new TypeError('not a workflow history');
  // the CLI writes enum values as PascalCase names (WorkflowExecutionStarted); protojson wants EVENT_TYPE_...
  for (const e of parsed.events) {
    const t = e['eventType'];
    if (typeof t === 'string' && !t.startsWith('EVENT_TYPE_')) {
      e['eventType'] = `EVENT_TYPE_${t.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
    }
  }
  return protojson.fromJson(historyType, parsed, { ignoreUnknownFields: true }) as History;
}
