import { describe, expect, it } from 'vitest';
import {
  categoryWords,
  channelWords,
  contactChannels,
  durationWords,
  fingerprintPairs,
  sentence,
  temporalWorkflowUrl,
} from './words.js';

describe('operator page words', () => {
  it('durations in whole units, largest first, at most two', () => {
    expect(durationWords(0)).toBe('0 seconds');
    expect(durationWords(1)).toBe('1 second');
    expect(durationWords(120)).toBe('2 minutes');
    expect(durationWords(7200)).toBe('2 hours');
    expect(durationWords(3600 + 5 * 60 + 7)).toBe('1 hour 5 minutes');
    expect(durationWords(86_400 + 3600)).toBe('1 day 1 hour');
  });

  it('a status reason starts with a capital and keeps the rest as written', () => {
    expect(sentence('the NHS number fails the modulus 11 check')).toBe('The NHS number fails the modulus 11 check');
    expect(sentence(null)).toBe('');
  });

  it('channels in words, and a contact by the channels it has, never its addresses', () => {
    expect(channelWords(['webhook'])).toBe('webhook');
    expect(channelWords(['sms', 'email', 'webhook'])).toBe('text message, email and webhook');
    expect(contactChannels({ phone: '07700900123', email: null, webhookUrl: 'https://x.example/h' })).toBe(
      'text message and webhook',
    );
    expect(contactChannels({ phone: null, email: null, webhookUrl: null })).toBe('none');
  });

  it('code map categories in words with their code', () => {
    expect(categoryWords('care-home')).toBe('care home or hospice (care-home)');
    expect(categoryWords('died')).toBe('died');
    expect(categoryWords('toString')).toBe('toString');
  });

  it('links a stay to its workflow in the Temporal UI, or not at all without a UI', () => {
    expect(temporalWorkflowUrl('http://localhost:8233', 'default', 'admission-RX1-SPL 1/2')).toBe(
      'http://localhost:8233/namespaces/default/workflows/admission-RX1-SPL%201%2F2',
    );
    expect(temporalWorkflowUrl(undefined, 'default', 'admission-RX1-1')).toBeUndefined();
  });

  it('fingerprints in byte pairs', () => {
    expect(fingerprintPairs('ab12cd')).toEqual(['AB', '12', 'CD']);
  });
});
