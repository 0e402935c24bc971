/**
 * The demo web page's script (served by `contact-psi demo --web`, bundled with esbuild):
 * a person picks a vCard or CSV file, the page parses it here, syncs it with
 * `syncAddressBook` of contact-psi/browser (IndexedDB cache) and shows which contacts are
 * registered, with the timings. The file never leaves the page: the only bytes sent are the
 * protocol's messages, whose contacts are blinded group elements (the page's
 * Content-Security-Policy allows no other connection than the directory's WebSocket).
 *
 * For tests, the last outcome is on `window.contactPsiDemo` and `document.body.dataset.state`
 * is `done` (or `failed`) when a sync has finished.
 */
import { ContactPsiError } from '../../errors.js';
import { parseAddressBook, type AddressBookFormat } from '../../contacts/index.js';
import { loadGroup, setGroupLogger } from '../../group/index.js';
import { IndexedDbSyncCache } from '../indexeddb-cache.js';
import { syncAddressBook } from '../sync.js';

export interface DemoOutcome {
  contacts: number;
  identifiersChecked: number;
  invalid: number;
  matches: { name: string; identifier: string; userId: string; label: string }[];
  snapshot: 'downloaded' | 'cached' | 'delta';
  downloadedBytes: number;
  backend: string;
  warnings: string[];
  timings: Record<string, number>;
}

declare global {
  interface Window {
    contactPsiDemo?: { outcome?: DemoOutcome; error?: { code: string; message: string } };
  }
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const config = JSON.parse($('demo-config').textContent ?? '{}') as { server: string; region?: string };
const warnings: string[] = [];
setGroupLogger({
  warn: (message) => {
    warnings.push(message);
    console.warn(message);
  },
});

const formatOf = (name: string): AddressBookFormat | undefined => (/\.vcf$|\.vcard$/i.test(name) ? 'vcard' : /\.csv$/i.test(name) ? 'csv' : undefined);

/** A label as text: UTF-8 when it is, else a hex preview (labels are bytes). */
function labelText(label: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(label);
  } catch {
    return `0x${[...label.slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('')}${label.length > 16 ? '…' : ''}`;
  }
}

function cell(row: HTMLTableRowElement, text: string, className?: string): void {
  const td = row.insertCell();
  td.textContent = text; // never innerHTML: names and labels are untrusted text
  if (className) td.className = className;
}

function render(outcome: DemoOutcome): void {
  $('summary').textContent =
    `${outcome.matches.length} matches among your ${outcome.contacts} contacts ` +
    `(${outcome.identifiersChecked} phone numbers and e-mail addresses checked` +
    `${outcome.invalid ? `, ${outcome.invalid} entries skipped` : ''}). ` +
    `Snapshot: ${outcome.snapshot}${outcome.snapshot === 'downloaded' ? ` (${(outcome.downloadedBytes / 1024).toFixed(0)} KiB)` : ''}; group backend: ${outcome.backend}.`;
  const timings = $<HTMLTableElement>('timings');
  timings.replaceChildren();
  for (const [label, ms] of Object.entries(outcome.timings)) {
    const row = timings.insertRow();
    cell(row, label);
    cell(row, `${ms.toFixed(0)} ms`, 'num');
  }
  const table = $<HTMLTableElement>('matches');
  table.tBodies[0].replaceChildren();
  for (const m of outcome.matches) {
    const row = table.tBodies[0].insertRow();
    cell(row, m.name);
    cell(row, m.identifier);
    cell(row, m.userId);
    cell(row, m.label);
  }
  $('warnings').textContent = outcome.warnings.join('\n');
}

async function run(file: File): Promise<void> {
  document.body.dataset.state = 'running';
  $('summary').textContent = `Reading ${file.name} here, in the page…`;
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const text = await file.text();
  const region = $<HTMLInputElement>('region').value.trim().toUpperCase() || undefined;
  const book = parseAddressBook(text, { format: formatOf(file.name), defaultRegion: region as never });
  timings['parse and normalize'] = performance.now() - t0;
  const t1 = performance.now();
  const group = await loadGroup('ristretto255', 'auto');
  timings['load the group backend (WebAssembly)'] = performance.now() - t1;
  const cache = await IndexedDbSyncCache.open();
  const t2 = performance.now();
  $('summary').textContent = `Checking ${book.contacts.length} contacts against ${config.server}…`;
  const outcome = await syncAddressBook({ server: config.server, book, cache });
  timings['sync (blind, evaluate, match)'] = performance.now() - t2;
  timings.total = performance.now() - t0;
  cache.close();
  const { result } = outcome;
  const demo: DemoOutcome = {
    contacts: book.contacts.length,
    identifiersChecked: outcome.identifiersChecked,
    invalid: book.invalid.length,
    matches: outcome.matches.map((m) => ({ name: m.name, identifier: m.identifier, userId: m.userId, label: labelText(m.label) })),
    snapshot: result.deltaApplied ? 'delta' : result.cacheHit ? 'cached' : 'downloaded',
    downloadedBytes: result.downloadedBytes,
    backend: group.backend,
    warnings: [...warnings],
    timings,
  };
  window.contactPsiDemo = { outcome: demo };
  render(demo);
  document.body.dataset.state = 'done';
}

$<HTMLInputElement>('book').addEventListener('change', (event) => {
  const input = event.target as HTMLInputElement;
  const file = input.files?.[0];
  if (!file) return;
  run(file).catch((err: unknown) => {
    const code = err instanceof ContactPsiError ? err.code : 'error';
    const message = err instanceof Error ? err.message : String(err);
    window.contactPsiDemo = { error: { code, message } };
    $('summary').textContent = `Failed (${code}): ${message}`;
    document.body.dataset.state = 'failed';
  });
  input.value = ''; // picking the same file again syncs again (from the cache)
});
$('server').textContent = config.server;
document.body.dataset.state = 'ready';
