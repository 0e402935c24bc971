/** The group layer's public surface; runs unchanged in Node, browsers and React Native. */
export type { Group, GroupId, Rng, ScalarField, ScalarInput } from './types.js';
export { nobleP256, nobleRistretto255 } from './noble.js';
export { BackendNames, loadGroup } from './select.js';
export type { BackendName } from './select.js';
export { elementAt, packElements, packedCount, splitPacked } from './packed.js';
export { setGroupLogger, SlowPathReasons, type GroupLogger, type SlowPathReason } from './slow-path.js';
