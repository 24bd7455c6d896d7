import { describe, expect, it } from 'vitest';
import { formatDateTime } from './view.js';

describe('dates on the acknowledgement pages', () => {
  it('are shown in UK time, NHS style', () => {
    expect(formatDateTime('2026-11-22T09:20:00Z')).toBe('Sunday 22 November 2026 at 9:20am');
    expect(formatDateTime('2026-07-01T13:00:00Z')).toBe('Wednesday 1 July 2026 at 2pm'); // BST
    expect(formatDateTime('2026-07-01T23:05:00Z')).toBe('Thursday 2 July 2026 at 12:05am');
    expect(formatDateTime('2026-11-22T12:00:00Z')).toBe('Sunday 22 November 2026 at midday');
    expect(formatDateTime('2026-11-22T00:00:00Z')).toBe('Sunday 22 November 2026 at midnight');
  });

  it('leave a value that is not a date as it is', () => {
    expect(formatDateTime('soon')).toBe('soon');
  });
});
