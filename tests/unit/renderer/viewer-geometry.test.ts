// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { directionLetters, nearestSliceIndex, orientationMarkers, slicePositionMm } from '../../../src/renderer/viewer/viewer-geometry';

const AXIAL = [1, 0, 0, 0, 1, 0];
const SAGITTAL = [0, 1, 0, 0, 0, -1];
const CORONAL = [1, 0, 0, 0, 0, -1];
const plain = { rotation: 0, hflip: false, vflip: false };

describe('orientation markers', () => {
  it('read A at the top, L on the right of an unturned axial image (patient right on the viewer left)', () => {
    expect(orientationMarkers(AXIAL, plain)).toEqual({ top: 'A', right: 'L', bottom: 'P', left: 'R' });
  });

  it('read H at the top of sagittal and coronal images', () => {
    expect(orientationMarkers(SAGITTAL, plain)).toEqual({ top: 'H', right: 'P', bottom: 'F', left: 'A' });
    expect(orientationMarkers(CORONAL, plain)).toEqual({ top: 'H', right: 'L', bottom: 'F', left: 'R' });
  });

  it('follow a clockwise quarter turn: what was on top moves to the right', () => {
    expect(orientationMarkers(AXIAL, { ...plain, rotation: 90 })).toEqual({ top: 'R', right: 'A', bottom: 'L', left: 'P' });
    expect(orientationMarkers(AXIAL, { ...plain, rotation: 180 })).toEqual({ top: 'P', right: 'R', bottom: 'A', left: 'L' });
    expect(orientationMarkers(AXIAL, { ...plain, rotation: 270 })).toEqual(orientationMarkers(AXIAL, { ...plain, rotation: -90 }));
    expect(orientationMarkers(AXIAL, { ...plain, rotation: 360 })).toEqual(orientationMarkers(AXIAL, plain));
  });

  it('swap left and right on a horizontal flip, top and bottom on a vertical one', () => {
    expect(orientationMarkers(AXIAL, { ...plain, hflip: true })).toEqual({ top: 'A', right: 'R', bottom: 'P', left: 'L' });
    expect(orientationMarkers(AXIAL, { ...plain, vflip: true })).toEqual({ top: 'P', right: 'L', bottom: 'A', left: 'R' });
  });

  it('apply the flip before the turn, as Cornerstone paints it', () => {
    // Flipped horizontally then turned clockwise: the image's right (now R) goes to the bottom.
    expect(orientationMarkers(AXIAL, { rotation: 90, hflip: true, vflip: false })).toEqual({ top: 'L', right: 'A', bottom: 'R', left: 'P' });
  });

  it('name an oblique direction by its strongest axes and leave weak ones out', () => {
    const c = Math.SQRT1_2;
    expect(directionLetters([c, c, 0])).toMatch(/^(LP|PL)$/);
    expect(directionLetters([0.9, 0.1, -0.42])).toBe('LF');
  });

  it('give nothing without a usable orientation', () => {
    expect(orientationMarkers(undefined, plain)).toBeUndefined();
    expect(orientationMarkers([1, 0, 0], plain)).toBeUndefined();
  });
});

describe('nearest slice for synchronised scroll', () => {
  const stack = (zs: number[]): { position: number[]; orientation: number[] }[] => zs.map((z) => ({ position: [-100, -100, z], orientation: AXIAL }));

  it('finds the slice at the same table position in a series shifted by two slices', () => {
    const target = stack([-10, -15, -20, -25, -30]);
    expect(nearestSliceIndex({ position: [0, 0, -20] }, target)).toBe(2);
    expect(nearestSliceIndex({ position: [0, 0, -22] }, target)).toBe(2);
    expect(nearestSliceIndex({ position: [0, 0, -23] }, target)).toBe(3);
  });

  it('clamps to the end of a shorter series and works for the opposite sort order', () => {
    expect(nearestSliceIndex({ position: [0, 0, -90] }, stack([0, -5, -10]))).toBe(2);
    expect(nearestSliceIndex({ position: [0, 0, -5] }, stack([-10, -5, 0]))).toBe(1);
  });

  it('matches thin to thick slices by distance along the normal, ignoring in-plane offsets', () => {
    const thick = stack([0, -10, -20, -30]);
    expect(nearestSliceIndex({ position: [50, -40, -18] }, thick)).toBe(2);
  });

  it('gives up when the source or every target slice lacks a position', () => {
    expect(nearestSliceIndex({}, stack([0, -5]))).toBeUndefined();
    expect(nearestSliceIndex({ position: [0, 0, 0] }, [{ orientation: AXIAL }, {}])).toBeUndefined();
  });

  it('reports the slice location along the normal in mm', () => {
    expect(slicePositionMm({ position: [-100, -100, -17.5], orientation: AXIAL })).toBeCloseTo(-17.5);
    expect(slicePositionMm({ position: [12, 0, 0], orientation: SAGITTAL })).toBeCloseTo(-12); // the normal of this orientation points to the patient's right
  });
});
