/** `contact-psi keygen [--out <path>]`: a new epoch key file (mode 0600); prints the public key only. */
import { randomBytes } from 'node:crypto';
import { createKeyFile } from '../../directory/index.js';
import { loadGroup } from '../../group/index.js';
import { createSuite, Modes } from '../../oprf/index.js';

export async function keygen(options: { out: string }): Promise<void> {
  const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255'));
  const keys = suite.generateKeyPair((n) => new Uint8Array(randomBytes(n)));
  // createKeyFile refuses to overwrite and creates the file 0600; the secret is never printed.
  createKeyFile(options.out, { suite: suite.id, epoch: 1, secretKey: keys.secretKey });
  console.log(`wrote ${options.out} (mode 0600); public key ${Buffer.from(keys.publicKey).toString('hex')}`);
}
