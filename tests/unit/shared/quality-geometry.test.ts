import { describe, expect, it } from 'vitest';
import { inconsistentOrientation, inconsistentThickness, missingSlices, mixedFrameOfReference } from '../../../src/shared/quality/checks/geometry';
import { ctSeriesFacts, withoutSlices } from '../../fixtures/quality';

describe('series geometry checks', () => {
  it('blocks a series with a missing slice, by instance number and by position', () => {
    const series = withoutSlices(ctSeriesFacts({ slices: 10 }), 6);
    const [f, ...rest] = missingSlices.run(series, {});
    expect(rest).toEqual([]);
    expect(f!.severity).toBe('blocker');
    expect(f!.message).toContain('instance number 7 absent');
    expect(f!.message).toContain('a gap of 10 mm where slices are 5 mm apart (≈ 1 slice missing between images 8 and 6)');
  });

  it('finds the hole when only three slices are left around it', () => {
    const [f] = missingSlices.run(withoutSlices(ctSeriesFacts({ slices: 4 }), 2), {});
    expect(f!.severity).toBe('blocker');
    expect(f!.evidence.values!.positionGaps).toBe(1);
  });

  it('only warns when the numbering skips but the positions are continuous', () => {
    const series = ctSeriesFacts({ slices: 6 });
    series.slice(3).forEach((f) => (f.instanceNumber! += 1));
    const [f] = missingSlices.run(series, {});
    expect(f!.severity).toBe('warning');
  });

  it('finds nothing missing in a complete series, in whatever order its files come', () => {
    expect(missingSlices.run(ctSeriesFacts({ slices: 10 }).reverse(), {})).toEqual([]);
  });

  it('warns of a slice thicker than the rest of its series', () => {
    const series = ctSeriesFacts({ slices: 5 });
    series[1]!.sliceThickness = 2.5;
    const [f] = inconsistentThickness.run(series, {});
    expect(f!.message).toContain('2.5 mm, 5 mm');
    expect(f!.evidence.instances.map((e) => e.instanceNumber)).toEqual([2]);
    expect(inconsistentThickness.run(ctSeriesFacts({ slices: 5 }), {})).toEqual([]);
  });

  it('warns of a tilted slice in an axial series', () => {
    const series = ctSeriesFacts({ slices: 4 });
    series[3]!.imageOrientationPatient = [1, 0, 0, 0, 0.9848, -0.1736];
    expect(inconsistentOrientation.run(series, {})[0]!.evidence.instances.map((e) => e.instanceNumber)).toEqual([4]);
    expect(inconsistentOrientation.run(ctSeriesFacts({ slices: 4 }), {})).toEqual([]);
  });

  it('warns of two frames of reference in one series', () => {
    const series = ctSeriesFacts({ slices: 4 });
    series[0]!.frameOfReferenceUID = '1.2.3.4';
    expect(mixedFrameOfReference.run(series, {})[0]!.message).toMatch(/^2 frames of reference in one CT series/);
    expect(mixedFrameOfReference.run(ctSeriesFacts({ slices: 4 }), {})).toEqual([]);
  });
});
