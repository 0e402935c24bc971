/**
 * `serve --partial-labels <on|off>` (spec/operations.md §1): off unless asked, since clients
 * built before labelParts refuse a dir.info that carries it; any other value is refused
 * with a stable code rather than read as off.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { onOffOf } from '../src/cli/commands/serve.js';
import { SERVE_SETTINGS } from '../src/cli/config.js';

describe('serve --partial-labels', () => {
  it('is off by default and takes exactly on / off', () => {
    expect(SERVE_SETTINGS.partialLabels).toBe('off');
    expect(onOffOf(undefined, '--partial-labels')).toBe(false);
    expect(onOffOf('off', '--partial-labels')).toBe(false);
    expect(onOffOf('on', '--partial-labels')).toBe(true);
  });

  it('refuses every other value with invalid_option', () => {
    const other = fc.string({ maxLength: 8 }).filter((v) => v !== 'on' && v !== 'off');
    // The generator reaches the near misses an operator types.
    const near = ['ON', 'true', '1', 'yes', ''];
    fc.assert(
      fc.property(fc.oneof(other, fc.constantFrom(...near)), (value) => {
        expect(() => onOffOf(value, '--partial-labels')).toThrow(expect.objectContaining({ code: 'invalid_option' }));
      }),
    );
  });
});
