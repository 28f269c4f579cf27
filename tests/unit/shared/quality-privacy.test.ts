import { describe, expect, it } from 'vitest';
import { burnedInAnnotation } from '../../../src/shared/quality/checks/privacy';
import { ctSeriesFacts } from '../../fixtures/quality';

describe('privacy check', () => {
  const series = (): ReturnType<typeof ctSeriesFacts> => {
    const s = ctSeriesFacts({ slices: 3 });
    s[0]!.burnedInAnnotation = 'YES';
    return s;
  };

  it('blocks burned-in annotation on a case marked for de-identification', () => {
    const [f] = burnedInAnnotation.run(series(), { markedForDeidentification: true });
    expect(f!.severity).toBe('blocker');
    expect(f!.evidence.instances.map((e) => e.instanceNumber)).toEqual([1]);
  });

  it('lets it pass when the case keeps its identity, or no image carries burned-in text', () => {
    expect(burnedInAnnotation.run(series(), { markedForDeidentification: false })).toEqual([]);
    expect(burnedInAnnotation.run(ctSeriesFacts({ slices: 3 }), { markedForDeidentification: true })).toEqual([]);
  });
});
