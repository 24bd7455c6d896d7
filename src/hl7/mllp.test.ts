import { describe, expect, it } from 'vitest';
import { CR, FS, FrameTooLargeError, MllpDeframer, VT, frame } from './mllp.js';

const A01 = 'MSH|^~\\&|PAS|RX1|AA|AA|20261122092000||ADT^A01|MSG0001|P|2.4\rPID|1||9995260182^^^NHS^NH\r';
const A03 = 'MSH|^~\\&|PAS|RX1|AA|AA|20261122102000||ADT^A03|MSG0002|P|2.4\rPID|1||9995260182^^^NHS^NH\r';

const text = (frames: Buffer[]): string[] => frames.map((f) => f.toString('utf8'));

/** Feeds `bytes` to a fresh deframer in pieces cut at `cuts`, collecting every payload. */
function feed(bytes: Buffer, cuts: number[], d = new MllpDeframer()): string[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(...d.push(bytes.subarray(prev, cut)));
    prev = cut;
  }
  return text(out);
}

describe('frame', () => {
  it('wraps a message as 0x0B payload 0x1C 0x0D', () => {
    expect([...frame('MSH|x')]).toEqual([VT, ...Buffer.from('MSH|x'), FS, CR]);
  });

  it('encodes a string payload as UTF-8', () => {
    expect(frame('É').subarray(1, -2)).toEqual(Buffer.from([0xc3, 0x89]));
  });

  it('refuses a payload containing a framing byte, which would corrupt the stream', () => {
    expect(() => frame(Buffer.from([0x41, FS, 0x42]))).toThrow(RangeError);
    expect(() => frame(Buffer.from([0x41, VT]))).toThrow(RangeError);
  });
});

describe('MllpDeframer', () => {
  it('returns one payload, without its framing bytes, for one whole frame', () => {
    expect(text(new MllpDeframer().push(frame(A01)))).toEqual([A01]);
  });

  it('returns every payload, in order, when several frames arrive in one chunk', () => {
    const chunk = Buffer.concat([frame(A01), frame(A03), frame('third')]);
    expect(text(new MllpDeframer().push(chunk))).toEqual([A01, A03, 'third']);
  });

  it('reassembles a frame split across several chunks', () => {
    const bytes = frame(A01);
    expect(feed(bytes, [1, 10, 40])).toEqual([A01]);
  });

  it('reassembles a frame delivered one byte at a time', () => {
    const bytes = Buffer.concat([frame(A01), frame(A03)]);
    const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    expect(feed(bytes, cuts)).toEqual([A01, A03]);
  });

  it('delivers the payload at 0x1C when a chunk ends between 0x1C and 0x0D, and the stray 0x0D changes nothing', () => {
    const bytes = Buffer.concat([frame(A01), frame(A03)]);
    const d = new MllpDeframer();
    const endOfFirst = frame(A01).length - 1; // the first chunk ends just after 0x1C
    expect(text(d.push(bytes.subarray(0, endOfFirst)))).toEqual([A01]);
    expect(text(d.push(bytes.subarray(endOfFirst, endOfFirst + 1)))).toEqual([]);
    expect(text(d.push(bytes.subarray(endOfFirst + 1)))).toEqual([A03]);
  });

  it('reassembles frames whatever the chunk boundaries (every single cut point)', () => {
    const bytes = Buffer.concat([frame(A01), Buffer.from('\r\n'), frame(A03)]);
    for (let cut = 0; cut <= bytes.length; cut += 1) {
      expect(feed(bytes, [cut])).toEqual([A01, A03]);
    }
  });

  it('discards garbage before 0x0B and whitespace or newlines between frames', () => {
    const bytes = Buffer.concat([
      Buffer.from('GET / HTTP/1.1\r\n\x00\xff'),
      frame(A01),
      Buffer.from('\r\n \n'),
      frame(A03),
      Buffer.from('\n'),
    ]);
    expect(feed(bytes, [5, 30])).toEqual([A01, A03]);
  });

  it('ends a frame at 0x1C even when 0x0D does not follow (tolerant of senders that omit it)', () => {
    const bytes = Buffer.from([VT, 0x41, FS, VT, 0x42, FS, 0x0a, VT, 0x43, FS, CR]);
    expect(text(new MllpDeframer().push(bytes))).toEqual(['A', 'B', 'C']);
  });

  it('drops an unfinished frame when a new 0x0B starts another, rather than gluing the two messages together', () => {
    const d = new MllpDeframer();
    const bytes = Buffer.concat([Buffer.from([VT]), Buffer.from('MSH|half'), frame(A03)]);
    expect(feed(bytes, [4], d)).toEqual([A03]);
    expect(d.abandonedFrames).toBe(1);
  });

  it('returns an empty payload for an empty frame (the caller decides what it means)', () => {
    expect(text(new MllpDeframer().push(Buffer.from([VT, FS, CR])))).toEqual(['']);
  });

  it('accepts a payload of exactly maxFrameBytes', () => {
    const payload = 'x'.repeat(64);
    expect(feed(frame(payload), [10], new MllpDeframer({ maxFrameBytes: 64 }))).toEqual([payload]);
  });

  it('throws FrameTooLargeError as soon as a payload passes maxFrameBytes, before its end arrives', () => {
    const d = new MllpDeframer({ maxFrameBytes: 64 });
    expect(d.push(Buffer.concat([Buffer.from([VT]), Buffer.alloc(60, 0x41)]))).toEqual([]);
    expect(() => d.push(Buffer.alloc(5, 0x41))).toThrow(FrameTooLargeError);
    // The stream cannot be trusted after that: the deframer stays failed.
    expect(() => d.push(frame('small'))).toThrow(FrameTooLargeError);
  });

  it('throws FrameTooLargeError for a frame over the default 1 MiB limit arriving in one chunk', () => {
    const d = new MllpDeframer();
    expect(() => d.push(frame(Buffer.alloc(1024 * 1024 + 1, 0x41)))).toThrow(FrameTooLargeError);
  });

  it('returns copies that later chunks cannot alter', () => {
    const d = new MllpDeframer();
    const chunk = Buffer.from(frame('abc'));
    const [payload] = d.push(chunk);
    chunk.fill(0x5a);
    expect(payload?.toString()).toBe('abc');
  });

  it('reassembles 1 MiB delivered in 1-byte and 16-byte chunks (its speed: npm run bench:parse)', () => {
    const payload = Buffer.alloc(1024 * 1024 - 1, 0x41);
    const bytes = frame(payload);
    for (const size of [1, 16]) {
      const d = new MllpDeframer();
      const got: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) got.push(...d.push(bytes.subarray(i, i + size)));
      expect(got).toHaveLength(1);
      expect(got[0]?.equals(payload)).toBe(true);
    }
  });
});
