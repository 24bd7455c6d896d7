/**
 * Test certificates for MLLP over TLS, made with the `openssl` command line (OpenSSL 3) in a temporary directory:
 * a CA, a server certificate for 127.0.0.1 / localhost signed by it, and client certificates signed by it or by
 * another CA. EC P-256 keys, valid for two days. Nothing is kept after {@link TestPki.remove}.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  /** PEM file paths */
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
  /** SHA-256 as Node prints it: `AB:CD:…` (upper-case, colons) */
  fingerprint256: string;
}

export interface TestPki {
  dir: string;
  ca: TestCert;
  server: TestCert;
  /** a client certificate signed by the CA */
  client(name: string): TestCert;
  /** a client certificate signed by a CA the service does not trust */
  foreignClient(name: string): TestCert;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(
      `openssl ${args[0]} failed (the TLS tests need the openssl command): ${e.stderr?.toString() ?? e.message}`,
    );
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function load(dir: string, name: string): TestCert {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  const cert = readFileSync(certFile);
  return {
    certFile,
    keyFile,
    cert,
    key: readFileSync(keyFile),
    fingerprint256: new X509Certificate(cert).fingerprint256,
  };
}

function makeCa(dir: string, name: string): TestCert {
  openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return load(dir, name);
}

function makeLeaf(dir: string, name: string, ca: string, ext: string): TestCert {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-set_serial',
      String(Date.now() + Math.floor(Math.random() * 1e6)),
      '-days',
      '2',
      '-sha256',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    ],
    dir,
  );
  return load(dir, name);
}

const CLIENT_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';

/** A CA, a server certificate for 127.0.0.1 and localhost, and a second CA the service will not trust. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'aa-mllp-pki-'));
  const ca = makeCa(dir, 'ca');
  makeCa(dir, 'foreign-ca');
  const server = makeLeaf(
    dir,
    'server',
    'ca',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  return {
    dir,
    ca,
    server,
    client: (name) => makeLeaf(dir, name, 'ca', CLIENT_EXT),
    foreignClient: (name) => makeLeaf(dir, name, 'foreign-ca', CLIENT_EXT),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
