import { homedir } from 'node:os';
import { join } from 'node:path';

/** The per-user cache directory, as each platform defines it, with a `contact-psi` folder. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'contact-psi', 'Cache');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'contact-psi');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'contact-psi');
}
