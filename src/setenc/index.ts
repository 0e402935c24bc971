/**
 * Set encodings of OPRF tags (spec/setenc.md): build one from the server's tags, send
 * serialize(), and parseEncoding() on the client, which validates every length, limit and
 * ordering before it allocates. Every failure is a SetEncodingError with a stable code.
 */
import { SetEncodingError } from '../errors.js';
import { buildBloom, parseBloom } from './bloom.js';
import { buildFuse, parseFuse } from './fuse.js';
import { buildGcs, parseGcs } from './gcs.js';
import { checkParams } from './params.js';
import { buildRaw, parseRaw } from './raw.js';
import { readHeader, resolveLimits } from './serialize.js';
import type { EncodingParams, ParseLimits, SetEncoding, TagInput } from './types.js';

export type {
  BloomParams,
  EncodingKind,
  EncodingParams,
  FuseParams,
  GcsParams,
  ParseLimits,
  RawParams,
  SetEncoding,
  TagInput,
} from './types.js';
export { EncodingKinds } from './types.js';
export {
  deriveParameters,
  expectedBitsPerEntry,
  expectedByteLength,
  perLookupFalsePositiveRate,
  type DeriveOptions,
} from './params.js';
export { DEFAULT_MAX_BYTES, DEFAULT_MAX_COUNT, FORMAT_VERSION } from './serialize.js';
export { RawEncoding } from './raw.js';
export { GcsEncoding } from './gcs.js';
export { BloomEncoding } from './bloom.js';
export { FuseEncoding } from './fuse.js';

/**
 * Encodes the distinct tags (raw: distinct after truncation; the others: distinct 16-byte
 * prefixes). Throws `bad_parameters`, `bad_tag`, `too_large` or, for fuse after 100
 * seeds, `build_failed`.
 */
export function buildEncoding(params: EncodingParams, tags: TagInput): SetEncoding {
  checkParams(params);
  switch (params.kind) {
    case 'raw':
      return buildRaw(params, tags);
    case 'gcs':
      return buildGcs(params, tags);
    case 'bloom':
      return buildBloom(params, tags);
    case 'fuse':
      return buildFuse(params, tags);
  }
}

/**
 * Parses and fully validates an encoding. Throws only SetEncodingError: `bad_input`,
 * `bad_magic`, `bad_version`, `bad_kind`, `truncated`, `trailing_bytes`, `too_large`,
 * `bad_parameters`, `not_sorted` or `corrupt`.
 */
export function parseEncoding(bytes: Uint8Array, limits?: ParseLimits): SetEncoding {
  const resolved = resolveLimits(limits);
  const header = readHeader(bytes, resolved);
  switch (header.kind) {
    case 'raw':
      return parseRaw(bytes, header, resolved);
    case 'gcs':
      return parseGcs(bytes, header, resolved);
    case 'bloom':
      return parseBloom(bytes, header, resolved);
    case 'fuse':
      return parseFuse(bytes, header, resolved);
    default:
      throw new SetEncodingError('bad_kind', 'unknown encoding kind');
  }
}
