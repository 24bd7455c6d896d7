/** The HL7 v2 adapter: a {@link Decision} written as the ACK a sender gets (HTTP and MLLP alike). */
import { randomUUID } from 'node:crypto';
import { ackCodeFor, buildAck, isEnhancedMode, wantsAcceptAck, type AckCode } from '../hl7/ack.js';
import { readHeaderLenient, type Hl7Header } from '../hl7/adt.js';
import { decodeHl7Bytes } from '../hl7/message.js';
import type { Decision } from './decision.js';

export interface IngestResult {
  code: AckCode;
  httpStatus: number;
  ack: string;
  /** false when MSH-15 asked for no accept acknowledgement (MLLP only honours it) */
  sendAck: boolean;
  /** the stored row, when stored */
  messageId?: string;
}

/**
 * The ACK for a decision: MSA-1 in original (AA/AE/AR) or enhanced mode (CA/CE/CR, MSH-15 present), MSA-2 echoing
 * MSH-10, one ERR per problem, a fresh control id of its own.
 */
export function answerHl7(
  header: Partial<Hl7Header>,
  d: Decision,
  opts: { now: Date; messageId?: string | undefined },
): IngestResult {
  const code = ackCodeFor(d.outcome, isEnhancedMode(header));
  return {
    code,
    httpStatus: d.httpStatus,
    ack: buildAck({ inbound: header, code, errors: d.errors, controlId: randomUUID(), now: opts.now }),
    sendAck: wantsAcceptAck(header, d.outcome),
    messageId: opts.messageId,
  };
}

/** As much of the header as can be read, to address an answer to a message that was not (or not yet) parsed. */
export function headerToAnswer(body: Buffer | string): Partial<Hl7Header> {
  try {
    return readHeaderLenient(typeof body === 'string' ? body : decodeHl7Bytes(body));
  } catch {
    return {};
  }
}
