import { describe, expect, it } from 'vitest';
import { formatBytes } from '../../../src/renderer/lib/format-bytes';

describe('sizes shown to people', () => {
  it('says a size in three figures at most, in decimal units', () => {
    expect(formatBytes(870)).toBe('870 B');
    expect(formatBytes(45_200)).toBe('45 kB');
    expect(formatBytes(4_230_000)).toBe('4.2 MB');
    expect(formatBytes(61_267_607)).toBe('61 MB');
    expect(formatBytes(1_340_000_000)).toBe('1.3 GB');
  });

  it('counts 1 MB as 1024 × 1024 bytes for the storage panel, as its budget field does', () => {
    expect(formatBytes(512 * 1024 * 1024, { binary: true })).toBe('512 MB');
    expect(formatBytes(1000, { binary: true })).toBe('1000 B');
    expect(formatBytes(20 * 1024 ** 3, { binary: true })).toBe('20.0 GB');
  });
});
