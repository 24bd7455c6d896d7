/* global console, process, URL */
/**
 * Adds lockfile entries for the platform-specific optional packages (swc, rollup, esbuild, ... for macOS, Windows,
 * musl, arm) that the npm registry mirror on our build machines does not serve, so `npm install` there leaves them
 * out of package-lock.json and `npm ci` then refuses the lockfile ("Missing: @swc/core-darwin-arm64 from lock
 * file"). Each entry carries the `os`/`cpu`/`libc` npm uses to skip it on other platforms; the version is the one
 * its parent asks for. Run after `npm install` whenever the lockfile is regenerated: `node scripts/lock-platform-packages.mjs`.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;

const OS = ['darwin', 'win32', 'linux', 'android', 'freebsd', 'openbsd', 'netbsd', 'sunos', 'aix', 'openharmony'];
const CPU = { x64: 'x64', ia32: 'ia32', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips64el: 'mips64el', x86: 'ia32', universal: null };

function platformOf(name) {
  const base = name.split('/').pop();
  const parts = base.split('-');
  const os = parts.find((p) => OS.includes(p)) ?? (parts.includes('win') || parts.includes('windows') ? 'win32' : undefined);
  const cpuPart = parts.find((p) => p in CPU);
  if (!os) return undefined;
  const out = { os: [os] };
  if (cpuPart && CPU[cpuPart]) out.cpu = [CPU[cpuPart]];
  if (os === 'linux') out.libc = [parts.includes('musl') ? 'musl' : 'glibc'];
  return out;
}

let added = 0;
for (const [path, pkg] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const prefix = path === '' ? '' : `${path}/`;
    const candidates = [`${prefix}node_modules/${dep}`, `node_modules/${dep}`];
    if (candidates.some((c) => packages[c])) continue;
    const platform = platformOf(dep);
    if (!platform) continue;
    packages[`node_modules/${dep}`] = { version, ...platform, optional: true };
    added++;
  }
}
const sorted = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)));
lock.packages = sorted;
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`lock-platform-packages: ${added} entr${added === 1 ? 'y' : 'ies'} added`);
process.exit(0);
