import type { Locator, Page } from '@playwright/test';

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

export interface ImagePoint {
  x: number;
  y: number;
}

/**
 * Page (CSS) coordinates of an image point on `canvas`: Cornerstone fits the
 * image to the canvas and centres it.
 */
export async function imagePointOnPage(canvas: Locator, image: { columns: number; rows: number }, p: ImagePoint): Promise<ImagePoint> {
  const box = await canvas.boundingBox();
  if (!box) throw new Error('no canvas');
  const dims = await canvas.evaluate((c: HTMLCanvasElement) => ({ w: c.width, h: c.height }));
  const scale = Math.min(dims.w / image.columns, dims.h / image.rows);
  const offX = (dims.w - image.columns * scale) / 2;
  const offY = (dims.h - image.rows * scale) / 2;
  return { x: box.x + ((offX + p.x * scale) * box.width) / dims.w, y: box.y + ((offY + p.y * scale) * box.height) / dims.h };
}

/** Drags the primary button on `canvas` from one image point to another, by way of the midpoint. */
export async function dragOnImage(canvas: Locator, image: { columns: number; rows: number }, from: ImagePoint, to: ImagePoint): Promise<void> {
  const mouse = canvas.page().mouse;
  const a = await imagePointOnPage(canvas, image, from);
  const b = await imagePointOnPage(canvas, image, to);
  await mouse.move(a.x, a.y);
  await mouse.down();
  await mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 5 });
  await mouse.move(b.x, b.y, { steps: 5 });
  await mouse.up();
}
