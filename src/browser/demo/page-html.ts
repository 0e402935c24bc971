/**
 * The demo page's HTML (one string, so it ships in dist/ with no asset to copy). The
 * Content-Security-Policy is the page's promise made checkable: scripts only from this
 * origin (plus WebAssembly compilation), connections only to the directory's WebSocket, so
 * the address book cannot be sent anywhere else, and no inline script can be injected.
 */

export interface DemoPageOptions {
  /** ws:// URL of the directory server. */
  server: string;
  /** Default region for numbers written without a country code. */
  region?: string;
  /** Path of the bundled page script (page.ts). */
  script: string;
  /** A sample address book the page offers for download (the person may pick their own). */
  sample?: string;
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The Content-Security-Policy header value for the page. */
export function demoPagePolicy(server: string): string {
  const origin = new URL(server);
  return [
    "default-src 'none'",
    "script-src 'self' 'wasm-unsafe-eval'",
    `connect-src ${origin.protocol}//${origin.host}`,
    "style-src 'unsafe-inline'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function demoPageHtml(options: DemoPageOptions): string {
  // JSON in a non-executed script element; `<` escaped so no string can close the element.
  const config = JSON.stringify({ server: options.server, region: options.region }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>contact-psi: which of my contacts are registered?</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1d232b; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  .lead { color: #4a5563; margin-top: 0; }
  .pick { display: flex; gap: 1.5rem; align-items: center; padding: 1rem; background: #f3f6f9; border-radius: 8px; margin: 1rem 0; }
  #summary { font-weight: 600; min-height: 1.4em; }
  table { border-collapse: collapse; margin: .6rem 0 1.2rem; }
  #matches { width: 100%; }
  th, td { text-align: left; padding: .25rem .6rem; border-bottom: 1px solid #e1e6eb; }
  th { background: #f3f6f9; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  #warnings { color: #9a3412; white-space: pre-wrap; }
  code { background: #f3f6f9; padding: 0 .25rem; border-radius: 3px; }
</style>
</head>
<body data-state="loading">
<h1>Which of my contacts are registered?</h1>
<p class="lead">Private contact discovery (RFC 9497 OPRF). Your file is read in this page; the only thing sent to
<code id="server"></code> is each phone number and e-mail address as a blinded group element, which the server cannot reverse.</p>
<div class="pick">
  <label>Address book (vCard or CSV): <input id="book" type="file" accept=".vcf,.vcard,.csv,text/vcard,text/csv"></label>
  <label>Default region: <input id="region" size="3" value="${escapeHtml(options.region ?? '')}"></label>
  ${options.sample ? `<a href="${escapeHtml(options.sample)}" download>sample address book</a>` : ''}
</div>
<p id="summary">Pick a file to start.</p>
<div id="warnings"></div>
<h2>Timings</h2>
<table id="timings"></table>
<h2>Registered contacts</h2>
<table id="matches"><thead><tr><th>Name</th><th>Identifier</th><th>User</th><th>Label</th></tr></thead><tbody></tbody></table>
<script id="demo-config" type="application/json">${config}</script>
<script type="module" src="${escapeHtml(options.script)}"></script>
</body>
</html>
`;
}
