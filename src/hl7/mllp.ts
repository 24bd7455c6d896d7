/**
 * MLLP framing (HL7 v2 Minimal Lower Layer Protocol, HL7 v2.5.1 Implementation Guide, Appendix C, "MLLP Release 2"
 * block format): a message travels as `<VT> payload <FS><CR>`, i.e. `0x0B … 0x1C 0x0D`.
 *
 * Pure: no sockets here. `src/mllp/server.ts` feeds socket chunks into a {@link MllpDeframer} and writes
 * {@link frame}d ACKs.
 */

/** Start block: vertical tab. */
export const VT = 0x0b;
/** End block, first byte: file separator. */
export const FS = 0x1c;
/** End block, second byte: carriage return. */
export const CR = 0x0d;

/** Default largest payload accepted in one frame (1 MiB, the same bound as `POST /v1/hl7`). */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/**
 * Wraps one message as `0x0B message 0x1C 0x0D`. A string is encoded as UTF-8.
 *
 * @throws RangeError when the payload itself contains 0x0B or 0x1C: the receiver would cut the message there, so
 *   sending it would corrupt the stream (HL7 ER7 never contains these bytes unescaped).
 */
export function frame(message: Buffer | string): Buffer {
  const payload = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  if (payload.includes(VT) || payload.includes(FS)) {
    throw new RangeError('MLLP payload must not contain 0x0B or 0x1C');
  }
  const out = Buffer.allocUnsafe(payload.length + 3);
  out[0] = VT;
  payload.copy(out, 1);
  out[payload.length + 1] = FS;
  out[payload.length + 2] = CR;
  return out;
}

/** A frame's payload grew past `maxFrameBytes`; the stream cannot be resynchronised safely, so close it. */
export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError';
  constructor(readonly maxFrameBytes: number) {
    super(`MLLP frame exceeds ${maxFrameBytes} bytes`);
  }
}

const EMPTY = Buffer.alloc(0);
const INITIAL_CAPACITY = 4096;
const RETAINED_CAPACITY = 64 * 1024;

/**
 * Turns a TCP byte stream into MLLP payloads. Feed it every chunk, in order, with {@link MllpDeframer.push}.
 *
 * Decisions (the tolerant reading most interface engines use):
 * - Bytes outside a frame (before a 0x0B: stray garbage, the CR/LF some senders put between frames, a CR that did
 *   not directly follow its 0x1C) are discarded.
 * - 0x1C ends the frame whatever follows it. The 0x0D that should follow is then just an out-of-frame byte and is
 *   discarded like any other, so a chunk boundary between 0x1C and 0x0D changes nothing, and a sender that omits
 *   the 0x0D still gets its message through. The payload is delivered as soon as 0x1C arrives.
 * - A 0x0B inside an unfinished frame starts a new frame: the sender evidently abandoned the first one, which is
 *   dropped unacknowledged (so the sender resends it) rather than glued to the next message. Counted in
 *   {@link MllpDeframer.abandonedFrames}.
 * - A payload longer than `maxFrameBytes` makes `push` throw {@link FrameTooLargeError}, as soon as the limit is
 *   passed (nothing beyond it is buffered). The deframer is then dead: every later `push` throws again. Payloads
 *   completed earlier in the same chunk are dropped too, since the caller is about to close the connection and
 *   could not acknowledge them.
 *
 * O(n) in bytes: a partial frame is copied into one owned buffer that grows by doubling (amortised O(1) per byte, and
 * no per-chunk overhead when a sender trickles bytes one at a time); a frame wholly inside one chunk is copied once.
 * Returned payloads are fresh copies, never views on the caller's chunks.
 */
export class MllpDeframer {
  readonly maxFrameBytes: number;
  /** Frames dropped because a new 0x0B arrived before their 0x1C. */
  abandonedFrames = 0;

  #inFrame = false;
  #buf: Buffer = EMPTY;
  #len = 0;
  #failed: FrameTooLargeError | undefined;

  constructor(opts: { maxFrameBytes?: number } = {}) {
    const max = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError('maxFrameBytes must be a positive integer');
    this.maxFrameBytes = max;
  }

  /** True while a frame has started (0x0B seen) but not ended. */
  get inFrame(): boolean {
    return this.#inFrame;
  }

  /** Bytes of the unfinished frame held so far. */
  get bufferedBytes(): number {
    return this.#len;
  }

  /**
   * Consumes one chunk; returns the payloads (framing bytes removed) of the frames it completed, in order.
   *
   * @throws FrameTooLargeError when a payload passes `maxFrameBytes` (and on every call after that).
   */
  push(chunk: Buffer): Buffer[] {
    if (this.#failed) throw this.#failed;
    const out: Buffer[] = [];
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (!this.#inFrame) {
        const start = chunk.indexOf(VT, pos);
        if (start === -1) break; // the rest is out-of-frame bytes: discard
        this.#inFrame = true;
        pos = start + 1;
        continue;
      }
      const fs = chunk.indexOf(FS, pos);
      const stop = fs === -1 ? end : fs;
      // A 0x0B before this frame's end restarts the frame.
      const restart = chunk.subarray(pos, stop).lastIndexOf(VT);
      if (restart !== -1) {
        this.abandonedFrames += 1;
        this.#reset();
        pos += restart + 1;
        this.#inFrame = true;
      }
      const slice = chunk.subarray(pos, stop);
      if (fs !== -1 && this.#len === 0) {
        // The whole frame is in this chunk: copy it out once.
        this.#check(slice.length);
        out.push(Buffer.from(slice));
        this.#inFrame = false;
      } else {
        this.#append(slice);
        if (fs === -1) break;
        out.push(this.#take());
      }
      pos = fs + 1;
    }
    return out;
  }

  #append(slice: Buffer): void {
    if (slice.length === 0) return;
    const needed = this.#len + slice.length;
    this.#check(needed);
    if (needed > this.#buf.length) {
      let capacity = Math.max(this.#buf.length * 2, INITIAL_CAPACITY);
      while (capacity < needed) capacity *= 2;
      const grown = Buffer.allocUnsafe(Math.min(capacity, this.maxFrameBytes));
      this.#buf.copy(grown, 0, 0, this.#len);
      this.#buf = grown;
    }
    slice.copy(this.#buf, this.#len);
    this.#len = needed;
  }

  #check(payloadBytes: number): void {
    if (payloadBytes <= this.maxFrameBytes) return;
    this.#reset();
    this.#failed = new FrameTooLargeError(this.maxFrameBytes);
    throw this.#failed;
  }

  /** Ends the current frame and returns a copy of its payload. */
  #take(): Buffer {
    const payload = Buffer.allocUnsafe(this.#len);
    this.#buf.copy(payload, 0, 0, this.#len);
    this.#reset();
    return payload;
  }

  #reset(): void {
    this.#inFrame = false;
    this.#len = 0;
    // Keep a modest buffer for the next frame; let a big one go.
    if (this.#buf.length > RETAINED_CAPACITY) this.#buf = EMPTY;
  }
}
