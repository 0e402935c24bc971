/**
 * The early start of `contact-psi sync` (sync-entry.ts, the bin's entry): the upgrade put on
 * the wire before commander, ws or the client load (issue 13 §1). Kept apart from the entry
 * so tests can call it without running the command.
 */
import { SUBPROTOCOL } from '../transport/ws/auth.js';
import { earlySyncPlan } from './sync-entry-argv.js';
import { EarlyUpgrade, setStartedSync } from './early-upgrade.js';
import { upgradeTarget } from './early-upgrade-wire.js';
import { resolveClientToken } from './token-source.js';

/** Starts the sync's upgrade when this command line is one for the early path; true when it did. */
export function startEarlySync(args: readonly string[], env: NodeJS.ProcessEnv): boolean {
  const plan = earlySyncPlan(args);
  const target = plan && upgradeTarget(plan.server);
  if (!plan || !target) return false;
  // Warnings are printed only if the path is taken: otherwise main.ts resolves the token
  // again and prints them (or the error) itself, once.
  const warnings: string[] = [];
  let token: string | undefined;
  try {
    token = resolveClientToken(plan.tokenOptions, env, (m) => warnings.push(m));
  } catch {
    return false;
  }
  let upgrade: EarlyUpgrade;
  try {
    upgrade = new EarlyUpgrade(plan.server, target, { protocol: SUBPROTOCOL, token });
  } catch {
    return false;
  }
  for (const m of warnings) console.error(`warning: ${m}`);
  setStartedSync({ server: plan.server, token, upgrade });
  return true;
}
