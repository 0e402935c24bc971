/**
 * fsync of a folder, so that a file just created or renamed in it survives a power loss
 * (the new name is part of the folder). Best effort: not every platform can open a folder
 * (Windows cannot), and the file itself is already synced by its writer.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';

export function syncFolder(folder: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(folder, 'r');
    fsyncSync(fd);
  } catch {
    // best effort (see above)
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
