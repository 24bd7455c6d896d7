import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { HttpProblem } from './problem.js';
import { oneOf, pagingQuery, parseQuery } from './query.js';

const req = (query: Record<string, unknown>) => ({ query }) as unknown as Request;
const shape = { status: oneOf('status', ['open', 'all'] as const).default('all'), ...pagingQuery };

function problemOf(query: Record<string, unknown>): HttpProblem {
  try {
    parseQuery(req(query), shape);
  } catch (err) {
    if (err instanceof HttpProblem) return err;
    throw err;
  }
  throw new Error('expected a 400');
}

describe('parseQuery', () => {
  it('defaults: limit 100, offset 0; values within bounds as numbers', () => {
    expect(parseQuery(req({}), shape)).toEqual({ status: 'all', limit: 100, offset: 0 });
    expect(parseQuery(req({ status: 'open', limit: '1000', offset: '7', other: 'x' }), shape)).toEqual({
      status: 'open',
      limit: 1000,
      offset: 7,
    });
  });

  it.each([
    ['limit', 'abc'],
    ['limit', '0'],
    ['limit', '5000'],
    ['limit', '1.5'],
    ['limit', ''],
    ['limit', ' 5'],
    ['offset', '-1'],
    ['offset', 'x'],
    ['status', 'bogus'],
  ])('%s=%j is 400 naming the parameter', (name, value) => {
    const p = problemOf({ [name]: value });
    expect(p.status).toBe(400);
    expect(p.extra).toEqual({ parameter: name });
    expect(p.detail).toContain(name);
  });

  it('a parameter given twice or as an object is 400', () => {
    expect(problemOf({ limit: ['1', '2'] }).extra).toEqual({ parameter: 'limit' });
    expect(problemOf({ offset: { a: '1' } }).extra).toEqual({ parameter: 'offset' });
  });
});
