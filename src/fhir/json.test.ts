import { describe, expect, it } from 'vitest';
import { hasUnstorableEscape, MAX_JSON_DEPTH, nestedDeeperThan } from './json.js';

function nested(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? { a: v } : [v];
  return v;
}

describe('nestedDeeperThan', () => {
  it('counts objects and arrays alike; scalars are no level', () => {
    expect(nestedDeeperThan('x', 0)).toBe(false);
    expect(nestedDeeperThan({}, 0)).toBe(true);
    expect(nestedDeeperThan({ a: [1] }, 2)).toBe(false);
    expect(nestedDeeperThan({ a: [{}] }, 2)).toBe(true);
  });

  it('accepts a resource nested exactly to the limit and refuses one level more', () => {
    expect(nestedDeeperThan(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(nestedDeeperThan(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
  });

  it('answers for a value nested far deeper than the stack would allow recursion', () => {
    expect(nestedDeeperThan(nested(200_000), MAX_JSON_DEPTH)).toBe(true);
  });
});

describe('hasUnstorableEscape', () => {
  it('finds a NUL and an unpaired surrogate as JSON.stringify writes them', () => {
    expect(hasUnstorableEscape(JSON.stringify({ a: 'x\u0000y' }))).toBe(true);
    expect(hasUnstorableEscape(JSON.stringify({ a: 'Ward \ud800' }))).toBe(true);
  });

  it('lets paired surrogates, other escapes and an escaped backslash before "u0000" through', () => {
    expect(hasUnstorableEscape(JSON.stringify({ a: '😀 \u0001 tab\t' }))).toBe(false);
    expect(hasUnstorableEscape(JSON.stringify({ a: '\\u0000' }))).toBe(false);
  });
});
