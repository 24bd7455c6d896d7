/** Reading the roster upload's file from a multipart form body as Chromium sends it. */
import { describe, expect, it } from 'vitest';
import { decodeText, uploadedFile } from './upload.js';

const boundary = '----WebKitFormBoundaryx7Ab';
const type = `multipart/form-data; boundary=${boundary}`;

function multipart(parts: { name: string; fileName?: string; content: string | Buffer }[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.fileName !== undefined ? `; filename="${p.fileName}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n`));
    if (p.fileName !== undefined) chunks.push(Buffer.from('Content-Type: text/csv\r\n'));
    chunks.push(Buffer.from('\r\n'), Buffer.from(p.content), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

describe('uploadedFile', () => {
  it('finds the named file among the parts, its line ends and a trailing line break kept', () => {
    const csv = 'nhs_number,date_of_birth\r\n9995260182,12/03/1941\r\n';
    const body = multipart([
      { name: 'note', content: 'x' },
      { name: 'file', fileName: 'clients.csv', content: csv },
    ]);
    const file = uploadedFile(body, type, 'file');
    expect(file?.fileName).toBe('clients.csv');
    expect(file?.content.toString('utf8')).toBe(csv);
  });

  it('a file input left empty is an empty file; no such part, or not multipart, is undefined', () => {
    const empty = multipart([{ name: 'file', fileName: '', content: '' }]);
    expect(uploadedFile(empty, type, 'file')).toEqual({ fileName: '', content: Buffer.alloc(0) });
    expect(uploadedFile(empty, type, 'other')).toBeUndefined();
    expect(uploadedFile(empty, 'application/x-www-form-urlencoded', 'file')).toBeUndefined();
    expect(uploadedFile(empty, undefined, 'file')).toBeUndefined();
    expect(uploadedFile(Buffer.from('garbage'), type, 'file')).toBeUndefined();
    expect(uploadedFile(empty, `multipart/form-data; boundary="${boundary}"`, 'file')?.fileName).toBe('');
  });
});

describe('decodeText', () => {
  it('reads UTF-8, and Windows-1252 when the bytes are not UTF-8 (Excel on Windows)', () => {
    expect(decodeText(Buffer.from('Zoë,Łukasz', 'utf8'))).toBe('Zoë,Łukasz');
    expect(decodeText(Buffer.from([0x5a, 0x6f, 0xeb, 0x2c, 0x80]))).toBe('Zoë,€');
  });
});
