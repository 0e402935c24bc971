/**
 * `contact-psi directory remove <user_id> --db <sqlite path | postgres://...>`: take a user
 * out of the directory. Their identifiers, label and tags go; the new directory version
 * reaches clients as a delta (a server picks it up at its next refresh, a fleet through its
 * change feed). An unknown user id is `unknown_user` (exit 1), so a typo is not a silent no-op.
 */
import { ContactPsiError } from '../../errors.js';
import { openDirectory } from '../open-directory.js';
import { escapeControlChars } from '../terminal-text.js';

export interface RemoveOptions {
  db: string;
  kekFile?: string;
}

export async function directoryRemove(userId: string, options: RemoveOptions): Promise<void> {
  // No pool: a removal computes no tag, it only prunes.
  const opened = await openDirectory(options.db, 'auto', false, { kekFile: options.kekFile });
  const { directory } = opened;
  try {
    if (!(await directory.removeUser(userId))) {
      throw new ContactPsiError('unknown_user', `no user ${JSON.stringify(userId)} in the directory`);
    }
    const { pruned } = await directory.precompute();
    const version = await directory.version();
    console.log(escapeControlChars(`removed ${userId}: ${pruned} tags pruned; epoch ${directory.epoch} version ${version}`));
  } finally {
    await opened.close();
  }
}
