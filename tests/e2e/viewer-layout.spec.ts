import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import type { Locator, Page } from '@playwright/test';
import { generateCtSeries, markerPosition } from '../fixtures/ct-phantom';
import { newUid, writePart10 } from '../fixtures/dicom-common';
import { loadCtStudy, startOrthanc } from '../support/orthanc';
import type { OrthancHandle } from '../support/orthanc';
import { stowInstances } from '../support/stow';
import { writeSitesFile } from '../support/e2e/sites-file';
import { startWebHostProcess } from '../support/e2e/web-host-process';
import type { WebHostProcess } from '../support/e2e/web-host-process';

// Issue 5's viewing in Chromium: a 2 × 2 layout, a series dragged into a
// viewport, scroll synchronised by slice position between two series of one
// frame of reference (checked on the phantom's slice marker), zoom / rotate /
// flip / invert on canvas pixels, cine, the shortcut help, and a broken image
// that fails in its own viewport only.
test.describe.configure({ mode: 'serial' });

const A_SLICES = 12; // z = 0 … -55
const B_SLICES = 8; // the same phantom, 4 slices (20 mm) lower: z = -20 … -55
const B_SHIFT_SLICES = 4;
const SIZE = 512;
const BROKEN_SERIES_NUMBER = 9;

interface DcmjsDict {
  dict: Record<string, { vr: string; Value: unknown[] }>;
  write(): ArrayBuffer;
}
const dcmjs = createRequire(import.meta.url)('dcmjs') as { data: { DicomMessage: { readFile(buf: ArrayBuffer): DcmjsDict } }; log?: { setLevel?(l: string): void } };
dcmjs.log?.setLevel?.('error');

let orthanc: OrthancHandle;
let host: WebHostProcess;
let tmp: string;
let studyUid: string;
let seriesA: string;
let seriesB: string;
let page: Page;

/** Series B: the phantom again, moved 20 mm down the table and put in series A's frame of reference. */
function shiftedSeries(study: string, frameOfReferenceUID: string): { seriesInstanceUID: string; files: Uint8Array[] } {
  const gen = generateCtSeries({ patientName: 'LAYOUT^LEA', patientId: 'LAY-1', slices: B_SLICES, seed: 2, seriesNumber: 3, studyInstanceUID: study });
  const files = gen.instances.map((inst) => {
    const file = dcmjs.data.DicomMessage.readFile(inst.bytes.slice().buffer);
    file.dict['00200052']!.Value = [frameOfReferenceUID];
    const ipp = file.dict['00200032']!.Value;
    ipp[2] = Number(ipp[2]) - B_SHIFT_SLICES * 5;
    file.dict['0008103E']!.Value = ['AXIAL LOW'];
    return new Uint8Array(file.write());
  });
  return { seriesInstanceUID: gen.seriesInstanceUID, files };
}

/** A Secondary Capture whose Pixel Data holds half of Rows × Columns: the loader cannot make an image of it. */
function truncatedInstance(study: string): Uint8Array {
  return writePart10(
    {
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.7',
      SOPInstanceUID: newUid(),
      StudyInstanceUID: study,
      SeriesInstanceUID: newUid(),
      Modality: 'OT',
      SeriesNumber: BROKEN_SERIES_NUMBER,
      SeriesDescription: 'BROKEN',
      InstanceNumber: 1,
      PatientName: 'LAYOUT^LEA',
      PatientID: 'LAY-1',
      ConversionType: 'WSD',
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      Rows: 64,
      Columns: 64,
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 0,
    },
    new Uint16Array(64 * 32).fill(1000),
  );
}

test.beforeAll(async ({ browser }) => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-e2e-layout-'));
  orthanc = await startOrthanc();
  const a = await loadCtStudy(orthanc, { patientName: 'LAYOUT^LEA', patientId: 'LAY-1', slices: A_SLICES, studyDescription: 'CT CHEST' });
  studyUid = a.studyInstanceUID;
  seriesA = a.seriesInstanceUID;
  const aFirst = await (await fetch(`${orthanc.baseUrl}/instances/${a.orthancIds[0]}/tags?simplify`, { headers: { authorization: basic() } })).json();
  const b = shiftedSeries(studyUid, (aFirst as { FrameOfReferenceUID: string }).FrameOfReferenceUID);
  seriesB = b.seriesInstanceUID;
  for (const f of b.files) await orthanc.upload(f);
  const stow = await stowInstances(orthanc.dicomWebUrl, basic(), [truncatedInstance(studyUid)]);
  expect(stow.failed).toEqual([]);
  const sitesFile = writeSitesFile(tmp, orthanc);
  host = await startWebHostProcess(['--data-dir', path.join(tmp, 'data'), '--sites', sitesFile]);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
});

function basic(): string {
  return `Basic ${Buffer.from(`${orthanc.username}:${orthanc.password}`).toString('base64')}`;
}

test.afterAll(async () => {
  await page?.close();
  await host?.stop();
  await orthanc?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const vp = (slot: number): Locator => page.locator(`[data-testid="viewport"][data-slot="${slot}"]`);
const cell = (slot: number): Locator => page.locator(`[data-testid="viewport-cell"][data-slot="${slot}"]`);

interface View {
  zoom?: number;
  rotation?: number;
  hflip?: boolean;
  /** Moved by this many canvas pixels. */
  pan?: { x: number; y: number };
}

/**
 * Mean luminance around an image point on viewport `slot`'s canvas, placed
 * as Cornerstone places it: fit and centred, then zoomed, flipped and turned
 * about the centre.
 */
async function lumAt(slot: number, point: { x: number; y: number }, view: View = {}): Promise<number> {
  return page.evaluate(
    ({ slot, point, view, size }) => {
      const canvas = document.querySelector<HTMLCanvasElement>(`[data-testid="viewport"][data-slot="${slot}"] canvas`);
      if (!canvas) throw new Error('no canvas');
      const ctx = canvas.getContext('2d')!;
      const { width, height } = canvas;
      const scale = Math.min(width / size, height / size) * (view.zoom ?? 1);
      let dx = point.x + 0.5 - size / 2;
      const dy = point.y + 0.5 - size / 2;
      if (view.hflip) dx = -dx;
      const t = ((view.rotation ?? 0) * Math.PI) / 180;
      const rx = dx * Math.cos(t) - dy * Math.sin(t);
      const ry = dx * Math.sin(t) + dy * Math.cos(t);
      const cx = Math.round(width / 2 + rx * scale + (view.pan?.x ?? 0));
      const cy = Math.round(height / 2 + ry * scale + (view.pan?.y ?? 0));
      const d = ctx.getImageData(cx - 1, cy - 1, 3, 3).data;
      let s = 0;
      for (let i = 0; i < d.length; i += 4) s += 0.299 * d[i]! + 0.587 * d[i + 1]! + 0.114 * d[i + 2]!;
      return s / 9;
    },
    { slot, point, view, size: SIZE },
  );
}

/** Whether slice `k` of an `n`-slice phantom is what viewport `slot` paints: its marker bright, slice 0's … dark. */
async function expectMarker(slot: number, k: number, n: number, view: View = {}): Promise<void> {
  await expect.poll(() => lumAt(slot, markerPosition(k, n), view), { timeout: 10_000 }).toBeGreaterThan(180);
  const other = markerPosition(k === 0 ? n - 1 : 0, n);
  expect(await lumAt(slot, other, view)).toBeLessThan(60);
}

test('the study opens in one viewport; 2 × 2 shows four, each series in its own', async () => {
  await page.goto(host.url);
  await page.locator(`[data-testid="worklist-row"][data-study-uid="${studyUid}"] [data-testid="open-study"]`).first().click();
  await expect(vp(0)).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  await expect(page.locator('[data-testid="viewport"]')).toHaveCount(1);
  await expect(vp(0)).toHaveAttribute('data-series-uid', seriesA);
  await expectMarker(0, A_SLICES / 2, A_SLICES);
  await page.getByRole('button', { name: 'Layout 2 × 2' }).click();
  await expect(page.locator('[data-testid="viewport"]')).toHaveCount(4);
  await expect(page.getByRole('button', { name: 'Layout 2 × 2' })).toHaveAttribute('aria-pressed', 'true');
  await expect(vp(1)).toHaveAttribute('data-series-uid', seriesB);
  await expect(vp(1)).toHaveAttribute('data-state', 'ready');
  // Thumbnails: one per image series, each painted from its middle image.
  await expect(page.getByTestId('series-thumb')).toHaveCount(3);
  await expect(vp(1)).toHaveAccessibleName(/^Viewport 2: CT #3 AXIAL LOW, image \d+ of 8$/);
});

test('a viewport that cannot decode its image says why, in that viewport only, while the others paint', async () => {
  await expect(cell(2).getByTestId('viewport-error')).toContainText('Image 1/1 could not be decoded: the pixel data is truncated: 2048 values where Rows × Columns needs 4096');
  await expect(vp(2)).toHaveAttribute('data-state', 'error');
  await expect(page.getByTestId('viewport-error')).toHaveCount(1);
  await page.screenshot({ path: 'test-results/viewer-layout-2x2.png' });
  await expect(page.getByTestId('viewer-message')).toHaveCount(0);
  await expect(vp(0)).toHaveAttribute('data-state', 'ready');
  await expectMarker(0, A_SLICES / 2, A_SLICES);
});

test('Enter on a thumbnail loads it into the active viewport; a thumbnail dragged onto viewport 2 loads there', async () => {
  await vp(1).click();
  await expect(cell(1)).toHaveAttribute('data-active', 'true');
  const thumbA = page.locator(`[data-testid="series-thumb"][data-series-uid="${seriesA}"]`);
  await thumbA.focus();
  await page.keyboard.press('Enter');
  await expect(vp(1)).toHaveAttribute('data-series-uid', seriesA);
  await expect(vp(1)).toHaveAttribute('data-state', 'ready');
  await page.locator(`[data-testid="series-thumb"][data-series-uid="${seriesB}"]`).dragTo(vp(1));
  await expect(vp(1)).toHaveAttribute('data-series-uid', seriesB);
  await expect(vp(1)).toHaveAttribute('data-image-index', String(B_SLICES / 2));
  await expectMarker(1, B_SLICES / 2, B_SLICES);
});

test('scrolling series A moves series B to the slice at the same table position', async () => {
  await vp(0).click();
  await expect(vp(0)).toHaveAttribute('data-image-index', String(A_SLICES / 2));
  await page.keyboard.press('ArrowDown'); // A slice 7: z = -35 → B slice 3
  await expect(vp(0)).toHaveAttribute('data-image-index', '7');
  await expect(vp(1)).toHaveAttribute('data-image-index', String(7 - B_SHIFT_SLICES));
  await expectMarker(1, 7 - B_SHIFT_SLICES, B_SLICES);
  await page.keyboard.press('End'); // A slice 11 → B slice 7
  await expect(vp(1)).toHaveAttribute('data-image-index', String(A_SLICES - 1 - B_SHIFT_SLICES));
  await expectMarker(1, A_SLICES - 1 - B_SHIFT_SLICES, B_SLICES);
  await page.keyboard.press('Home'); // A slice 0: above B's first slice, which is the nearest
  await expect(vp(1)).toHaveAttribute('data-image-index', '0');
  await page.getByRole('button', { name: 'Synchronised scroll' }).click();
  await expect(page.getByRole('button', { name: 'Synchronised scroll' })).toHaveAttribute('aria-pressed', 'false');
  await vp(0).click();
  await page.keyboard.press('PageDown');
  await expect(vp(0)).toHaveAttribute('data-image-index', '5');
  await expect(vp(1)).toHaveAttribute('data-image-index', '0');
  await page.getByRole('button', { name: 'Synchronised scroll' }).click();
});

test('zoom, rotate, flip, pan and invert change the canvas as expected; reset restores it', async () => {
  await page.getByRole('button', { name: 'Layout 1 × 1' }).click();
  await expect(page.locator('[data-testid="viewport"]')).toHaveCount(1);
  await vp(0).click();
  await page.keyboard.press('End');
  await expect(vp(0)).toHaveAttribute('data-image-index', String(A_SLICES - 1));
  const k = A_SLICES - 1;
  const marker = markerPosition(k, A_SLICES);
  await expectMarker(0, k, A_SLICES);
  await expect(page.getByTestId('orient-top')).toHaveText('A');
  await expect(page.getByTestId('orient-left')).toHaveText('R');

  const zoom = Number((await page.getByTestId('overlay-zoom').innerText()).match(/(\d+)%/)![1]);
  await page.getByRole('button', { name: 'Zoom out' }).click();
  // The overlay rounds to whole percent: the shown figure times 0.8 is within 1 of the new one.
  await expect
    .poll(async () => Math.abs(Number((await page.getByTestId('overlay-zoom').innerText()).match(/(\d+)%/)![1]) - zoom * 0.8))
    .toBeLessThanOrEqual(1);
  // Zoomed out about the centre, the marker moved inwards; where it was is now outside the image.
  await expect.poll(() => lumAt(0, marker, { zoom: 0.8 })).toBeGreaterThan(180);
  expect(await lumAt(0, marker)).toBeLessThan(60);
  await page.getByRole('button', { name: 'Reset the view' }).click();
  await expect(page.getByTestId('overlay-zoom')).toHaveText(`Zoom ${zoom}%`);

  await page.getByRole('button', { name: 'Rotate 90° clockwise' }).click();
  await expect(vp(0)).toHaveAttribute('data-rotation', '90');
  await expect.poll(() => lumAt(0, marker, { rotation: 90 })).toBeGreaterThan(180);
  await expect(page.getByTestId('orient-top')).toHaveText('R');
  await page.getByRole('button', { name: 'Reset the view' }).click();

  await page.getByRole('button', { name: 'Flip horizontally' }).click();
  await expect(page.getByRole('button', { name: 'Flip horizontally' })).toHaveAttribute('aria-pressed', 'true');
  await expect.poll(() => lumAt(0, marker, { hflip: true })).toBeGreaterThan(180);
  expect(await lumAt(0, { x: SIZE - 1 - marker.x, y: marker.y }, { hflip: true })).toBeLessThan(60);
  await expect(page.getByTestId('orient-left')).toHaveText('L');
  await page.getByRole('button', { name: 'Reset the view' }).click();

  // Left button in pan mode moves the image with the mouse; right-drag zooms; the magnifier shows while held.
  await page.getByRole('button', { name: 'Left button: Pan' }).click();
  await expect(page.getByRole('button', { name: 'Left button: Pan' })).toHaveAttribute('aria-pressed', 'true');
  const box = (await vp(0).boundingBox())!;
  const ratio = await vp(0).evaluate((el) => {
    const c = el.querySelector('canvas')!;
    return c.width / c.getBoundingClientRect().width;
  });
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 - 40, box.y + box.height / 2 + 30, { steps: 4 });
  await page.mouse.up();
  await expect.poll(() => lumAt(0, marker, { pan: { x: -40 * ratio, y: 30 * ratio } })).toBeGreaterThan(180);
  expect(await lumAt(0, marker)).toBeLessThan(60);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down({ button: 'right' });
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2 - 40, { steps: 4 });
  await page.mouse.up({ button: 'right' });
  await expect(page.getByTestId('overlay-zoom')).not.toHaveText(`Zoom ${zoom}%`);
  await page.getByRole('button', { name: 'Left button: Magnify' }).click();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await expect(page.getByTestId('loupe')).toBeVisible();
  await page.mouse.up();
  await expect(page.getByTestId('loupe')).toBeHidden();
  await page.getByRole('button', { name: 'Left button: Window/level' }).click();
  await page.getByRole('button', { name: 'Reset the view' }).click();
  await expect(page.getByTestId('overlay-zoom')).toHaveText(`Zoom ${zoom}%`);

  await page.getByRole('button', { name: 'Invert' }).click();
  await expect.poll(() => lumAt(0, marker)).toBeLessThan(60);
  await page.keyboard.press('i');
  await expect.poll(() => lumAt(0, marker)).toBeGreaterThan(180);
  await expectMarker(0, k, A_SLICES);
});

test('cine plays through the stack at the chosen rate, loops, and stops', async () => {
  await page.getByLabel('Cine frames per second').selectOption('20');
  // Every slice number the viewport shows during two seconds of cine, recorded in the page.
  const recording = page.evaluate(
    () =>
      new Promise<number[]>((resolve) => {
        const el = document.querySelector('[data-testid="viewport"][data-slot="0"]')!;
        const seen: number[] = [];
        const obs = new MutationObserver(() => seen.push(Number(el.getAttribute('data-image-index'))));
        obs.observe(el, { attributes: true, attributeFilter: ['data-image-index'] });
        setTimeout(() => {
          obs.disconnect();
          resolve(seen);
        }, 2000);
      }),
  );
  await page.getByRole('button', { name: 'Play cine' }).click();
  await expect(page.getByRole('button', { name: 'Stop cine' })).toHaveAttribute('aria-pressed', 'true');
  const seen = await recording;
  // It steps forward one slice at a time and loops: every slice comes round.
  expect(new Set(seen).size).toBe(A_SLICES);
  for (let i = 1; i < seen.length; i++) expect(seen[i]).toBe((seen[i - 1]! + 1) % A_SLICES);
  test.info().annotations.push({ type: 'figure', description: `cine at 20 fps: ${seen.length} slices in 2 s` });
  await page.getByRole('button', { name: 'Stop cine' }).click();
  const stopped = await vp(0).getAttribute('data-image-index');
  await page.waitForTimeout(300);
  await expect(vp(0)).toHaveAttribute('data-image-index', stopped!);
});

test('"?" opens the shortcut help as a dialog and Escape closes it; the tool bars fit at 1280 × 800', async () => {
  await vp(0).focus();
  await page.keyboard.press('?');
  const dialog = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('Next image');
  await expect(dialog).toContainText('Synchronised scroll');
  // Modal: Tab keeps the focus inside; closing gives it back to the viewport it came from.
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await expect(page.getByTestId('close-help')).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(vp(0)).toBeFocused();
  await page.screenshot({ path: 'test-results/viewer-layout.png' });
  // Grouped, not a mess: no button's label breaks over two lines, none is cut off, nothing scrolls sideways,
  // and both tool bars together leave the images most of the height.
  let barsHeight = 0;
  for (const name of ['Viewer', 'Image tools']) {
    const bar = page.getByRole('toolbar', { name, exact: true });
    const box = (await bar.boundingBox())!;
    barsHeight += box.height;
    expect(await bar.evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(1);
    for (const button of await bar.getByRole('button').all()) {
      const b = (await button.boundingBox())!;
      expect(b.height, `${(await button.getAttribute('aria-label')) ?? (await button.innerText())} on one line`).toBeLessThan(34);
      expect(b.x + b.width).toBeLessThanOrEqual(box.x + box.width + 1);
    }
  }
  expect(barsHeight).toBeLessThan(800 * 0.25);
});
