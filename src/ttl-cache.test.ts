import { describe, expect, it } from 'vitest';
import { createTtlCache } from './ttl-cache.js';

function fixture(maxEntries = 10) {
  let t = 0;
  const loads: string[] = [];
  const cache = createTtlCache<string, string | undefined>({ ttlMs: 10_000, maxEntries, now: () => t });
  const load = async (k: string) => {
    loads.push(k);
    return k === 'unknown' ? undefined : `${k}@${t}`;
  };
  return { cache, load, loads, advance: (ms: number) => (t += ms) };
}

describe('createTtlCache', () => {
  it('answers from memory until the time is up, then asks again', async () => {
    const { cache, load, loads, advance } = fixture();
    expect(await cache.get('a', load)).toBe('a@0');
    advance(9_999);
    expect(await cache.get('a', load)).toBe('a@0');
    advance(1);
    expect(await cache.get('a', load)).toBe('a@10000');
    expect(loads).toEqual(['a', 'a']);
  });

  it('remembers only what `keep` accepts (an unknown key is asked about every time)', async () => {
    const { cache, load, loads } = fixture();
    const known = (v: string | undefined) => v !== undefined;
    await cache.get('unknown', load, known);
    await cache.get('unknown', load, known);
    expect(loads).toEqual(['unknown', 'unknown']);
  });

  it('forgets a key at once, and a look-up running meanwhile does not remember its older answer', async () => {
    const { cache, loads } = fixture();
    let release!: () => void;
    const slow = (k: string) =>
      new Promise<string>((resolve) => {
        loads.push(k);
        release = () => resolve('old');
      });
    const running = cache.get('a', slow);
    cache.forget('a');
    release();
    expect(await running).toBe('old');
    expect(await cache.get('a', async () => 'new')).toBe('new');
  });

  it('holds at most maxEntries (all forgotten when full)', async () => {
    const { cache, load, loads } = fixture(2);
    await cache.get('a', load);
    await cache.get('b', load);
    await cache.get('c', load); // full: a and b forgotten
    await cache.get('a', load);
    expect(loads).toEqual(['a', 'b', 'c', 'a']);
  });
});
