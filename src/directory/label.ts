/**
 * Labels in directory files are text: a plain string is its UTF-8 bytes, and `base64:…`
 * carries binary labels such as public keys. Strict base64 (standard alphabet, padding
 * optional, no whitespace) because Node's decoder silently skips bad characters, which
 * would turn a typo into a different key.
 */
import { MAX_SEALED_LABEL_BYTES, sealedLabelBytes, SIV_BYTES } from '../protocol/discovery/labels.js';
import { MAX_LABEL_BYTES } from './users.js';

export const BASE64_LABEL_PREFIX = 'base64:';

export type LabelResult = { readonly ok: true; readonly label: Uint8Array } | { readonly ok: false; readonly code: string; readonly reason: string };

const utf8 = new TextEncoder();
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

export function parseLabel(text: string): LabelResult {
  let label: Uint8Array;
  if (text.startsWith(BASE64_LABEL_PREFIX)) {
    const body = text.slice(BASE64_LABEL_PREFIX.length).trim();
    if (!BASE64.test(body)) return { ok: false, code: 'bad_label', reason: 'label after "base64:" is not valid base64' };
    label = new Uint8Array(Buffer.from(body, 'base64'));
  } else {
    label = utf8.encode(text);
  }
  if (label.length > MAX_LABEL_BYTES) return { ok: false, code: 'label_too_long', reason: `label is ${label.length} bytes, at most ${MAX_LABEL_BYTES}` };
  return { ok: true, label };
}

/**
 * A user's label is served sealed together with the user id (protocol/discovery/labels.ts),
 * and a client refuses a sealed label over MAX_SEALED_LABEL_BYTES: so what binds is the
 * sealed size, user id included, checked here at import rather than found at every sync.
 */
export function checkSealedLabelSize(userId: string, label: Uint8Array): LabelResult {
  const userIdBytes = Buffer.byteLength(userId, 'utf8');
  const sealed = sealedLabelBytes(userIdBytes, label.length);
  if (sealed <= MAX_SEALED_LABEL_BYTES) return { ok: true, label };
  return {
    ok: false,
    code: 'label_too_long',
    reason:
      `label of ${label.length} bytes with a user id of ${userIdBytes} bytes seals to ${sealed} bytes ` +
      `(a ${SIV_BYTES}-byte synthetic IV and the user id's length added), more than the ${MAX_SEALED_LABEL_BYTES} a client accepts`,
  };
}
