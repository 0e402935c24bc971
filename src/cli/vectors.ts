import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { discoveryMessageVectors, messageVectors, sessionVectors } from '../protocol/known-answers.js';

/** `contact-psi vectors <dir>`: (re)writes the known-answer vectors of spec/protocol.md §7. */
export function writeVectors(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'messages.json'), JSON.stringify(messageVectors(), null, 1) + '\n');
  writeFileSync(join(dir, 'sessions.json'), JSON.stringify(sessionVectors(), null, 1) + '\n');
  writeFileSync(join(dir, 'discovery-messages.json'), JSON.stringify(discoveryMessageVectors(), null, 1) + '\n');
  console.log(`wrote ${join(dir, 'messages.json')} and ${join(dir, 'sessions.json')}`);
}
