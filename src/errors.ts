/**
 * Every error this library raises carries a stable `code` (part of the public API; the
 * codes are listed in spec/protocol.md) so integrators can branch on it without parsing
 * messages. `remote` tells a failure reported by the peer apart from one found locally.
 */
export class ContactPsiError extends Error {
  readonly code: string;
  readonly remote: boolean;

  constructor(code: string, message: string, options: { remote?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.remote = options.remote ?? false;
  }
}

/** A wire value that is not a valid group element or scalar. */
export class GroupError extends ContactPsiError {}

/** A failure in the OPRF layer: a proof that does not verify, a bad key, a bad input. */
export class OprfError extends ContactPsiError {}

/** A set encoding that cannot be built or parsed. */
export class SetEncodingError extends ContactPsiError {}
