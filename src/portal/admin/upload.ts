/**
 * The roster upload's file, read from a `multipart/form-data` body (RFC 7578) without JavaScript in the browser and
 * without another dependency: one file field is all the form sends. Pure.
 */

/** The boundary of a `multipart/form-data` content type, or undefined. */
function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

/**
 * The content and file name of the part named `field` in a multipart body; undefined when the body is not
 * multipart or has no such part. A file input left empty gives an empty content and file name.
 */
export function uploadedFile(
  body: Buffer,
  contentType: string | undefined,
  field: string,
): { fileName: string; content: Buffer } | undefined {
  const boundary = boundaryOf(contentType);
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString('latin1') === '--') return undefined; // the closing delimiter
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`, 'latin1'), start);
    if (next < 0) return undefined;
    const part = body.subarray(start + 2, next); // after the delimiter's CRLF
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd >= 0) {
      const headers = part.subarray(0, headerEnd).toString('utf8');
      const disposition = /^content-disposition:\s*form-data(.*)$/im.exec(headers)?.[1] ?? '';
      const name = /;\s*name="([^"]*)"/i.exec(disposition)?.[1];
      if (name === field) {
        return {
          fileName: /;\s*filename="([^"]*)"/i.exec(disposition)?.[1] ?? '',
          content: part.subarray(headerEnd + 4),
        };
      }
    }
    at = next + 2;
  }
  return undefined;
}

/** Windows-1252's characters for bytes 0x80 to 0x9F (the rest match Latin-1), as WHATWG's encoding index has them. */
const CP1252_HIGH =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/**
 * A text file's content: UTF-8 (with or without a byte order mark) when it is valid UTF-8, else Windows-1252, which
 * is how Excel on Windows saves "CSV" (so "Zoë" and "€" stay as they were). Node's own `windows-1252` decoder reads
 * 0x80 to 0x9F as Latin-1, hence the table.
 */
export function decodeText(content: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    let out = '';
    for (const byte of content)
      out += byte >= 0x80 && byte < 0xa0 ? CP1252_HIGH[byte - 0x80] : String.fromCharCode(byte);
    return out;
  }
}
