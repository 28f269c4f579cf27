// First step of `npm test`, `npm run demo` and `npm run start:web` on a fresh
// Debian machine: install the Debian packages the app and its tests need
// (apt-get when root; otherwise print the exact command and stop), and run
// `npm ci` when node_modules is absent. Dependency-free on purpose: it runs
// before node_modules exists.
import { existsSync, statSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** Each Debian package with a file that proves it is installed. */
export const DEBIAN_PACKAGES = [
  { name: 'chromium', probe: '/usr/bin/chromium', why: 'browser tests (Playwright drives Debian Chromium)' },
  { name: 'orthanc', probe: '/usr/sbin/Orthanc', why: 'the remote site in tests and the demo' },
  { name: 'orthanc-dicomweb', probe: '/usr/share/orthanc/plugins/libOrthancDicomWeb.so', why: 'DICOMweb for Orthanc' },
  { name: 'dcmtk', probe: '/usr/bin/dcmdump', why: 'DICOM fixtures in every transfer syntax' },
  { name: 'dicom3tools', probe: '/usr/bin/dciodvfy', why: 'dciodvfy checks the reports, notes and de-identified files the app writes' },
  { name: 'fonts-dejavu-core', probe: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', why: 'text in screenshots' },
  { name: 'rsyslog', probe: '/usr/sbin/rsyslogd', why: 'the Audit Record Repository the audit trail is forwarded to in tests and the bench' },
  { name: 'rsyslog-openssl', probe: '/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so', why: 'TLS (RFC 5425) for that rsyslog' },
  { name: 'openssl', probe: '/usr/bin/openssl', why: 'the test CA and server certificate for that TLS' },
];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`\n${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal}).`);
    process.exit(r.status || 1);
  }
}

/** @param {{packages?: string[]}} [opts] limit to some packages (by name). */
export function ensureDebianPackages(opts = {}) {
  const wanted = DEBIAN_PACKAGES.filter((p) => !opts.packages || opts.packages.includes(p.name));
  const missing = wanted.filter((p) => !existsSync(p.probe));
  if (missing.length === 0) return;
  const names = missing.map((p) => p.name);
  for (const p of missing) console.error(`missing Debian package ${p.name}: ${p.why}`);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    console.error('\nInstall them first, then run this command again:\n');
    console.error(`  sudo apt-get update && sudo apt-get install -y ${names.join(' ')}\n`);
    process.exit(1);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update'], { env });
  run('apt-get', ['install', '-y', ...names], { env });
}

export function ensureNodeModules(root) {
  if (existsSync(path.join(root, 'node_modules', '.package-lock.json'))) return;
  console.error('node_modules is absent: running npm ci');
  run('npm', ['ci'], { cwd: root });
}

function newestMtime(dir) {
  let newest = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  if (existsSync(dir)) walk(dir);
  return newest;
}

/** Builds dist/ when it is missing or older than any source file. Build output goes to stderr. */
export function ensureBuilt(root, { force = false } = {}) {
  const marker = path.join(root, 'dist', 'main', 'web-host.mjs');
  const fresh =
    !force &&
    existsSync(marker) &&
    existsSync(path.join(root, 'dist', 'renderer', 'index.html')) &&
    statSync(marker).mtimeMs >= newestMtime(path.join(root, 'src'));
  if (fresh) return;
  console.error('building the app (npm run build)…');
  run('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
}

export function prepare(root, opts = {}) {
  ensureDebianPackages(opts);
  ensureNodeModules(root);
}
