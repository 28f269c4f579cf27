// The codec test page: wires Cornerstone with the app's own initCornerstone
// (decode workers from the loader's standalone worker file) and exposes one
// function the spec calls per case. Bundled on the fly by tests/e2e/codecs.spec.ts.
import { createLogger } from '../../../../src/shared/log';
import { initCornerstone } from '../../../../src/renderer/viewer/cornerstone-setup';

export interface DecodedFrame {
  ok: boolean;
  error?: string;
  rows?: number;
  columns?: number;
  color?: boolean;
  invert?: boolean;
  slope?: number;
  intercept?: number;
  pixels?: number[];
}

const logs: string[] = [];
const imaging = initCornerstone(
  createLogger('codec-page', (r) => logs.push(`${r.level} ${r.message}`)),
  2,
  { host: window, url: new URL('/index.worker.bundle.min.worker.js', document.baseURI).href },
);

function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null) {
    const e = err as { error?: unknown; message?: unknown };
    if (e.error instanceof Error) return e.error.message;
    if (typeof e.message === 'string') return e.message;
    try {
      return JSON.stringify(err);
    } catch {
      return String(err);
    }
  }
  return String(err);
}

async function decodeCase(url: string, frames: number): Promise<DecodedFrame[]> {
  const response = await fetch(url);
  const blob = await response.blob();
  const imageId = imaging.addFile(blob);
  const out: DecodedFrame[] = [];
  for (let f = 0; f < frames; f++) {
    const id = frames > 1 ? `${imageId}?frame=${f}` : imageId;
    try {
      // The app's call; the ambient Image type leaves out what only this test reads.
      const image = (await imaging.cornerstone.loadAndCacheImage(id)) as Awaited<
        ReturnType<typeof imaging.cornerstone.loadAndCacheImage>
      > & { invert: boolean; getPixelData(): ArrayLike<number> };
      out.push({
        ok: true,
        rows: image.rows,
        columns: image.columns,
        color: image.color,
        invert: image.invert,
        slope: image.slope,
        intercept: image.intercept,
        pixels: Array.from(image.getPixelData()),
      });
    } catch (err) {
      out.push({ ok: false, error: describeError(err) });
    }
  }
  return out;
}

(window as unknown as { decodeCase: typeof decodeCase; codecLogs: string[] }).decodeCase = decodeCase;
(window as unknown as { codecLogs: string[] }).codecLogs = logs;
document.body.dataset.ready = 'true';
