import type { Page } from '@playwright/test';

export interface CanvasProbe {
  width: number;
  height: number;
  /** Mean luminance (0–255) of a small square around a point given in image pixels. */
  lumAtImagePoint: number;
  stdDev: number;
}

/**
 * Reads the viewport's canvas pixels and maps an image-space point to canvas
 * space the way Cornerstone's default viewport places an image: scaled to fit
 * and centred.
 */
export async function probeViewportCanvas(
  page: Page,
  image: { columns: number; rows: number },
  point: { x: number; y: number },
): Promise<CanvasProbe> {
  return page.evaluate(
    ({ image, point }) => {
      const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="viewport"] canvas');
      if (!canvas) throw new Error('no canvas in the viewport');
      const ctx = canvas.getContext('2d');
      if (!ctx) throw new Error('canvas has no 2d context');
      const { width, height } = canvas;
      const data = ctx.getImageData(0, 0, width, height).data;
      const lum = (i: number): number => 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
      let sum = 0;
      let sum2 = 0;
      const n = width * height;
      for (let i = 0; i < data.length; i += 4) {
        const l = lum(i);
        sum += l;
        sum2 += l * l;
      }
      const mean = sum / n;
      const scale = Math.min(width / image.columns, height / image.rows);
      const offX = (width - image.columns * scale) / 2;
      const offY = (height - image.rows * scale) / 2;
      const cx = Math.round(offX + (point.x + 0.5) * scale);
      const cy = Math.round(offY + (point.y + 0.5) * scale);
      let s = 0;
      let c = 0;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const x = cx + dx;
          const y = cy + dy;
          if (x < 0 || y < 0 || x >= width || y >= height) continue;
          s += lum((y * width + x) * 4);
          c++;
        }
      return { width, height, lumAtImagePoint: c ? s / c : 0, stdDev: Math.sqrt(Math.max(0, sum2 / n - mean * mean)) };
    },
    { image, point },
  );
}
