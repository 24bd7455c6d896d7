/* global console, process */
/**
 * postinstall: fixes a postgres.js (3.4.x) defect that a database outage turns into a crash or a hang
 * (porsager/postgres issues 1066, 1154, 1208; unfixed in every release up to 3.4.9).
 *
 * Small writes are flushed by a setImmediate. When the socket closes first, `closed()` cancels that immediate but
 * leaves its handle set, so the connection never flushes again (its next startup message waits for
 * connect_timeout, for ever: a pool slot that hangs every query it gets); and a write made after the close (a
 * transaction's next statement) schedules a flush onto a null socket, an uncaught TypeError that ends the process.
 * And a connection whose idle socket fails is still in the pool until the socket's 'close' event: a query handed to
 * it in between is written to a dead socket, and `closed()` does not reject it (it assumes the 'error' did), so it
 * waits for ever.
 * The fix: forget the pending write when the socket closes, fail the queries of a write that finds no socket, and
 * fail whatever query the connection still holds when its socket closes.
 *
 * Idempotent; fails the install loudly if postgres.js no longer has the code it patches (then check whether the
 * new version fixed it and drop this script).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const MARK = '/* admission-alerts: socket-closed write fix */';
const require = createRequire(import.meta.url);
let root;
try {
  // the CommonJS entry is <root>/cjs/src/index.js (the package's exports hide package.json)
  root = dirname(dirname(dirname(require.resolve('postgres'))));
} catch {
  console.log('patch-postgres: postgres is not installed; nothing to patch');
  process.exit(0);
}

const edits = [
  [
    '  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)\n',
    `  function nextWrite(fn) {\n    ${MARK}\n    if (!socket) {\n      chunk = nextWriteTimer = null\n      error(Errors.connection('CONNECTION_CLOSED', options))\n      return false\n    }\n    const x = socket.write(chunk, fn)\n`,
    1,
  ],
  // closed() and terminate(): forget the cancelled flush and its bytes
  ['    clearImmediate(nextWriteTimer)\n', '    clearImmediate(nextWriteTimer)\n    nextWriteTimer = chunk = null\n', 2],
  // closed(): a query handed to the connection between its socket's 'error' and 'close' was never rejected
  [
    "    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
    "    if (query || sent.length) error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
    1,
  ],
];

let patched = 0;
for (const rel of ['src/connection.js', 'cjs/src/connection.js', 'cf/src/connection.js']) {
  const file = join(root, rel);
  if (!existsSync(file)) continue;
  let text = readFileSync(file, 'utf8');
  if (text.includes(MARK)) continue;
  for (const [from, to, expected] of edits) {
    const count = text.split(from).length - 1;
    if (count !== expected) {
      console.error(`patch-postgres: ${rel} does not look like postgres.js 3.4.x (found ${count} of ${JSON.stringify(from)})`);
      process.exit(1);
    }
    text = text.split(from).join(to);
  }
  writeFileSync(file, text);
  patched++;
}
console.log(`patch-postgres: ${patched} file(s) patched`);
