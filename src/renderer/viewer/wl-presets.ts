/** A named window/level: width and centre in modality units (HU for CT). */
export interface WlPreset {
  /** Stable id, used in test ids (`preset-<name>`). */
  name: string;
  label: string;
  windowWidth: number;
  windowCenter: number;
}

/** The usual CT windows (HU). Bone uses 2000/300: it keeps cortex and marrow apart without crushing soft tissue. */
export const CT_PRESETS: readonly WlPreset[] = [
  { name: 'brain', label: 'Brain', windowWidth: 80, windowCenter: 40 },
  { name: 'lung', label: 'Lung', windowWidth: 1500, windowCenter: -600 },
  { name: 'bone', label: 'Bone', windowWidth: 2000, windowCenter: 300 },
  { name: 'abdomen', label: 'Abdomen', windowWidth: 400, windowCenter: 50 },
  { name: 'mediastinum', label: 'Mediastinum', windowWidth: 350, windowCenter: 50 },
];

/**
 * The presets offered for a series: CT gets the fixed HU windows; every
 * modality also gets its image's own VOI (WindowCenter/Width), since fixed
 * numbers mean nothing for X-ray or MR pixel values.
 */
export function presetsFor(modality: string, imageVoi: { windowWidth: number; windowCenter: number } | undefined): WlPreset[] {
  const out: WlPreset[] = modality === 'CT' ? [...CT_PRESETS] : [];
  if (imageVoi && Number.isFinite(imageVoi.windowWidth) && Number.isFinite(imageVoi.windowCenter) && imageVoi.windowWidth > 0) {
    out.push({ name: 'default', label: 'Image default', ...imageVoi });
  }
  return out;
}

/** The overlay's window/level text, e.g. "W 1500 / L -600". */
export function formatWl(voi: { windowWidth: number; windowCenter: number }): string {
  return `W ${Math.round(voi.windowWidth)} / L ${Math.round(voi.windowCenter)}`;
}
