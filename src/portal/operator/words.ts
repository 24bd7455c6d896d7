/** How the operator pages say things: durations, channels, categories, links to the Temporal UI. Pure. */
import type { DestinationCategory, MethodCategory } from '../../domain/clinical.js';
import type { Channel } from '../../domain/admission-event.js';

/** "2 hours 5 minutes", "30 seconds", "1 day": whole units, largest first, at most two. */
export function durationWords(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s === 0) return '0 seconds';
  const units: [number, string][] = [
    [86_400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  const parts: string[] = [];
  let left = s;
  for (const [size, name] of units) {
    const n = Math.floor(left / size);
    if (n > 0) {
      parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
      left -= n * size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/** A status reason ("the NHS number fails …") as a sentence: its first letter a capital, the rest as it is. */
export function sentence(text: string | null | undefined): string {
  const t = (text ?? '').trim();
  return t === '' ? '' : t[0]!.toUpperCase() + t.slice(1);
}

const CHANNEL_WORDS: Record<Channel, string> = { sms: 'text message', email: 'email', webhook: 'webhook' };

/** "text message and email": the channels of a step, in words. */
export function channelWords(channels: readonly Channel[]): string {
  const words = channels.map((c) => CHANNEL_WORDS[c] ?? c);
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)!}`;
}

/** The channels a contact can be reached by (from which addresses it has), never the addresses. */
export function contactChannels(c: { phone: string | null; email: string | null; webhookUrl: string | null }): string {
  const channels: Channel[] = [];
  if (c.phone) channels.push('sms');
  if (c.email) channels.push('email');
  if (c.webhookUrl) channels.push('webhook');
  return channels.length === 0 ? 'none' : channelWords(channels);
}

const CATEGORY_WORDS: Record<DestinationCategory | MethodCategory, string> = {
  home: 'home',
  'care-home': 'care home or hospice',
  hospital: 'another hospital',
  died: 'died',
  unknown: 'not known',
  alive: 'did not die',
};

/** A code map category in words, with its code: "care home or hospice (care-home)". */
export function categoryWords(category: string): string {
  const words = Object.hasOwn(CATEGORY_WORDS, category)
    ? (CATEGORY_WORDS as Record<string, string>)[category]
    : undefined;
  return words === undefined || words === category ? category : `${words} (${category})`;
}

/**
 * A stay's workflow in the Temporal Web UI: `<ui>/namespaces/<namespace>/workflows/<workflow id>`; undefined when no
 * UI is configured (TEMPORAL_UI_URL).
 */
export function temporalWorkflowUrl(
  uiUrl: string | undefined,
  namespace: string,
  workflowId: string,
): string | undefined {
  if (!uiUrl) return undefined;
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/**
 * A SHA-256 fingerprint (64 hex digits) as `openssl x509 -fingerprint -sha256` prints it, in byte pairs, so a page
 * can break the line between any two.
 */
export function fingerprintPairs(hex: string): string[] {
  return hex.toUpperCase().match(/.{1,2}/g) ?? [];
}
