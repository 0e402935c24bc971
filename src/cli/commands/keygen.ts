/**
 * `contact-psi keygen [--out <path>]`: a new epoch key file (mode 0600); prints the public key only.
 * `contact-psi keygen --kek --out kek`: a new key-encryption key for a PostgreSQL fleet (0600),
 * to copy to every node; never printed.
 */
import { randomBytes } from 'node:crypto';
import { createKeyFile, createKekFile } from '../../directory/index.js';
import { loadGroup } from '../../group/index.js';
import { createSuite, Modes } from '../../oprf/index.js';

export async function keygen(options: { out: string; kek?: boolean }): Promise<void> {
  if (options.kek) {
    createKekFile(options.out);
    console.log(`wrote key-encryption key ${options.out} (mode 0600): give every node of the fleet a copy (--kek-file), keep it out of the database and its backups`);
    return;
  }
  const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255'));
  const keys = suite.generateKeyPair((n) => new Uint8Array(randomBytes(n)));
  // createKeyFile refuses to overwrite and creates the file 0600; the secret is never printed.
  createKeyFile(options.out, { suite: suite.id, epoch: 1, secretKey: keys.secretKey });
  console.log(`wrote ${options.out} (mode 0600); public key ${Buffer.from(keys.publicKey).toString('hex')}`);
}
