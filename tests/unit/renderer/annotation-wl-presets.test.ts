import { describe, expect, it } from 'vitest';
import { formatWl, presetsFor } from '../../../src/renderer/viewer/wl-presets';

describe('window/level presets', () => {
  it('offers the CT windows in HU plus the image own VOI for CT', () => {
    const p = presetsFor('CT', { windowWidth: 400, windowCenter: 40 });
    expect(p.map((x) => x.name)).toEqual(['brain', 'lung', 'bone', 'abdomen', 'mediastinum', 'default']);
    expect(p.find((x) => x.name === 'lung')).toMatchObject({ windowWidth: 1500, windowCenter: -600 });
    expect(p.find((x) => x.name === 'brain')).toMatchObject({ windowWidth: 80, windowCenter: 40 });
  });
  it('offers only the image VOI for X-ray, and nothing when the image has none', () => {
    expect(presetsFor('DX', { windowWidth: 3000, windowCenter: 1700 })).toEqual([
      { name: 'default', label: 'Image default', windowWidth: 3000, windowCenter: 1700 },
    ]);
    expect(presetsFor('DX', undefined)).toEqual([]);
  });
  it('formats the overlay text as the reader sees it', () => {
    expect(formatWl({ windowWidth: 1500, windowCenter: -600 })).toBe('W 1500 / L -600');
  });
});
