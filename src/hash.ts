import { createHash } from 'node:crypto';

/**
 * SHA-256 as lowercase hex: how API keys and acknowledgement-link tokens are stored (never in plain), and the
 * content fingerprint that recognises a resent message.
 */
export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');
