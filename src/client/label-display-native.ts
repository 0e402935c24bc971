/**
 * `labelDisplay` (protocol/discovery/label-text.ts) on Node's buffer functions: the label's
 * text when it is valid UTF-8, else `base64:` and its bytes in base64. The runtime-neutral
 * one finds a binary label by catching the fatal decoder's exception and builds base64
 * from a string of char codes: ~10 µs per label of a 10,000-contact sync's 2,500 matches,
 * after the last message (issue 13 §1). `isUtf8` checks what the fatal decoder checks
 * (WHATWG UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF);
 * test/label-display-native.test.ts compares the two on any bytes.
 */
import { Buffer, isUtf8 } from 'node:buffer';

// ignoreBOM: a leading U+FEFF is part of the label, as labelText keeps it.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export function labelDisplayNative(label: Uint8Array): string {
  if (isUtf8(label)) return decoder.decode(label);
  return `base64:${Buffer.from(label.buffer, label.byteOffset, label.byteLength).toString('base64')}`;
}
