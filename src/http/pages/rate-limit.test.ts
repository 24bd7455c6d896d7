import { describe, expect, it } from 'vitest';
import { createSlidingWindowLimiter } from './rate-limit.js';

describe('sliding-window rate limiter', () => {
  it('allows max hits in any window and says when the next one will be allowed', () => {
    const limiter = createSlidingWindowLimiter(10_000);
    const key = [{ key: 'token:a', max: 2 }];
    expect(limiter.hit(key, 0)).toEqual({ allowed: true });
    expect(limiter.hit(key, 4_000)).toEqual({ allowed: true });
    expect(limiter.hit(key, 5_000)).toEqual({ allowed: false, retryAfterS: 5 });
    expect(limiter.hit(key, 10_001)).toEqual({ allowed: true }); // the hit at 0 has left the window
    expect(limiter.hit(key, 10_002)).toEqual({ allowed: false, retryAfterS: 4 });
  });

  it('a request is refused when any of its keys is at its limit, and then counts against none', () => {
    const limiter = createSlidingWindowLimiter(10_000);
    expect(limiter.hit([{ key: 'ip:1', max: 1 }], 0).allowed).toBe(true);
    expect(
      limiter.hit(
        [
          { key: 'ip:1', max: 1 },
          { key: 'token:b', max: 1 },
        ],
        1,
      ).allowed,
    ).toBe(false);
    expect(limiter.hit([{ key: 'token:b', max: 1 }], 2).allowed).toBe(true);
  });

  it('holds a bounded number of keys', () => {
    const limiter = createSlidingWindowLimiter(10_000, 100);
    for (let i = 0; i < 1_000; i++) limiter.hit([{ key: `token:${i}`, max: 5 }], i);
    expect(limiter.size()).toBeLessThanOrEqual(100);
  });
});
