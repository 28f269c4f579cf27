import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import type { Locator, Page } from '@playwright/test';
import { CT_PIXEL_SPACING_MM, ctSliceHU, markerPosition } from '../fixtures/ct-phantom';
import { ellipsePixels, rectanglePixels } from '../../src/renderer/lib/measure';
import { loadCtStudy, startOrthanc } from '../support/orthanc';
import type { OrthancHandle } from '../support/orthanc';
import { dragOnImage, imagePointOnPage } from '../support/e2e/canvas';
import type { ImagePoint } from '../support/e2e/canvas';
import { writeSitesFile } from '../support/e2e/sites-file';
import { startWebHostProcess } from '../support/e2e/web-host-process';
import type { WebHostProcess } from '../support/e2e/web-host-process';

// Issue 5's measurement path in Chromium: scroll the whole stack, window it
// for lung, measure a feature of known size and a region of known HU, and
// find both measurements again after a reload and with the site stopped.
test.describe.configure({ mode: 'serial' });

const SLICES = 24;
const SIZE = 512;
const MIDDLE = Math.floor(SLICES / 2);
let orthanc: OrthancHandle;
let host: WebHostProcess;
let tmp: string;
let studyUid: string;
let page: Page;

/** The phantom's geometry on slice `k` (same formulas as ct-phantom.ts's `ctSliceHU`, 512 × 512). */
function phantomGeometry(k: number): { bodyCx: number; bodyCy: number; bodyAx: number; lungCx: number; lungCy: number; lungAx: number; lungAy: number } {
  const t = k / (SLICES - 1);
  const top = Math.max(72, 0.16 * SIZE + 40);
  const bottom = SIZE * 0.93;
  const cy = (top + bottom) / 2;
  const ay = (bottom - top) / 2;
  const ax = SIZE * 0.43 * (0.96 + 0.04 * Math.sin(Math.PI * t));
  const f = 0.5 + 0.5 * Math.sin(Math.PI * (0.1 + 0.85 * t));
  return {
    bodyCx: SIZE / 2,
    bodyCy: cy,
    bodyAx: ax,
    lungCx: SIZE / 2 - SIZE * 0.2,
    lungCy: cy - ay * 0.05,
    lungAx: SIZE * 0.145 * (0.55 + 0.45 * f),
    lungAy: ay * 0.62 * (0.5 + 0.5 * f),
  };
}

const IMAGE = { columns: SIZE, rows: SIZE };
const canvas = (): Locator => page.locator('[data-testid="viewport"] canvas');
const pageXY = (p: ImagePoint): Promise<ImagePoint> => imagePointOnPage(canvas(), IMAGE, p);
const drag = (from: ImagePoint, to: ImagePoint): Promise<void> => dragOnImage(canvas(), IMAGE, from, to);

const viewport = (): ReturnType<Page['locator']> => page.locator('[data-testid="viewport"]');
const measurement = (kind: string): ReturnType<Page['locator']> => page.locator(`[data-testid="measurement"][data-kind="${kind}"]`);

/** Waits until every measurement write has reached IndexedDB (a reload before that would lose it). */
async function saved(): Promise<void> {
  await expect(page.locator('[data-testid="measurement-list"]')).toHaveAttribute('data-pending-writes', '0');
}

async function openStudy(): Promise<void> {
  await page.locator(`[data-testid="worklist-row"][data-study-uid="${studyUid}"] [data-testid="open-study"]`).first().click();
  await expect(viewport()).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  await expect(viewport()).toHaveAttribute('data-image-index', String(MIDDLE));
}

const geo = phantomGeometry(MIDDLE);
const expectedLengthMm = 2 * geo.bodyAx * CT_PIXEL_SPACING_MM;
let lengthMm = 0;
let ellipseMean = 0;

test.beforeAll(async ({ browser }) => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-e2e-measure-'));
  orthanc = await startOrthanc();
  studyUid = (await loadCtStudy(orthanc, { patientName: 'MEASURE^MIA', patientId: 'MEA-1', slices: SLICES, studyDescription: 'CT CHEST' })).studyInstanceUID;
  const sitesFile = writeSitesFile(tmp, orthanc);
  host = await startWebHostProcess(['--data-dir', path.join(tmp, 'data'), '--sites', sitesFile]);
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
});

test.afterAll(async () => {
  await page?.close();
  await host?.stop();
  await orthanc?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('every slice of the stack can be scrolled to and back, and the lung preset sets W 1500 / L -600', async () => {
  await page.goto(host.url);
  await openStudy();
  await viewport().focus();
  for (let i = MIDDLE; i < SLICES - 1; i++) await page.keyboard.press('ArrowDown');
  await expect(viewport()).toHaveAttribute('data-image-index', String(SLICES - 1));
  for (let i = SLICES - 1; i > 0; i--) await page.keyboard.press('ArrowUp');
  await expect(viewport()).toHaveAttribute('data-image-index', '0');
  for (let i = 0; i < MIDDLE; i++) await page.keyboard.press('ArrowDown');
  await expect(viewport()).toHaveAttribute('data-image-index', String(MIDDLE));
  await expect(viewport()).toHaveAttribute('data-state', 'ready');

  await expect(page.locator('[data-testid="overlay-wl"]')).toHaveText('W 400 / L 40'); // the image's own VOI
  await page.getByTestId('preset-lung').click();
  await expect(page.locator('[data-testid="overlay-wl"]')).toHaveText('W 1500 / L -600');
  await page.getByTestId('preset-default').click();
  await expect(page.locator('[data-testid="overlay-wl"]')).toHaveText('W 400 / L 40');
  await page.getByTestId('preset-lung').click();
  await expect(page.locator('[data-testid="overlay-wl"]')).toHaveText('W 1500 / L -600');
});

test('a length drawn across the body reads its known width in mm within 1 %', async () => {
  await page.getByTestId('tool-length').click();
  await drag({ x: geo.bodyCx - geo.bodyAx, y: geo.bodyCy }, { x: geo.bodyCx + geo.bodyAx, y: geo.bodyCy });
  await expect(measurement('length')).toHaveCount(1);
  await expect(measurement('length')).toContainText(/\d+\.\d mm/);
  lengthMm = Number(await measurement('length').getAttribute('data-length-mm'));
  expect(Math.abs(lengthMm - expectedLengthMm) / expectedLengthMm).toBeLessThan(0.01);
  test.info().annotations.push({ type: 'figure', description: `length ${lengthMm.toFixed(2)} mm, expected ${expectedLengthMm.toFixed(2)} mm` });
  // The overlay's W/L is untouched by drawing.
  await expect(page.locator('[data-testid="overlay-wl"]')).toHaveText('W 1500 / L -600');
});

test('an ellipse inside the left lung reads the mean HU of its pixels within 1 HU', async () => {
  await page.getByTestId('tool-ellipse').click();
  await drag(
    { x: geo.lungCx - geo.lungAx * 0.5, y: geo.lungCy - geo.lungAy * 0.5 },
    { x: geo.lungCx + geo.lungAx * 0.5, y: geo.lungCy + geo.lungAy * 0.5 },
  );
  await expect(measurement('ellipse')).toHaveCount(1);
  await expect(measurement('ellipse')).toContainText(/mean -?\d+\.\d HU/);
  ellipseMean = Number(await measurement('ellipse').getAttribute('data-mean'));
  // The truth: the generator's HU over the pixels the drawn ellipse covers.
  const { start, end } = JSON.parse((await measurement('ellipse').getAttribute('data-handles'))!) as {
    start: { x: number; y: number };
    end: { x: number; y: number };
  };
  const hu = ctSliceHU(MIDDLE, SLICES);
  let sum = 0;
  let n = 0;
  for (const { i, j } of ellipsePixels(start, end, SIZE, SIZE)) {
    sum += hu[j * SIZE + i]!;
    n++;
  }
  expect(n).toBeGreaterThan(1000);
  expect(Math.abs(ellipseMean - sum / n)).toBeLessThan(1);
  test.info().annotations.push({ type: 'figure', description: `ellipse mean ${ellipseMean.toFixed(2)} HU, truth ${(sum / n).toFixed(2)} HU over ${n} px` });
  expect(ellipseMean).toBeLessThan(-700); // lung, not soft tissue
  await page.getByTestId('mode-wl').click();
});

test('after a reload the measurements are still on the slice', async () => {
  await saved();
  await page.reload();
  await openStudy();
  await expect(measurement('length')).toHaveCount(1);
  await expect(measurement('ellipse')).toHaveCount(1);
  expect(Number(await measurement('length').getAttribute('data-length-mm'))).toBeCloseTo(lengthMm, 6);
  expect(Number(await measurement('ellipse').getAttribute('data-mean'))).toBeCloseTo(ellipseMean, 6);
  // Another slice has none; back on this one they are there again.
  await viewport().focus();
  await page.keyboard.press('ArrowDown');
  await expect(viewport()).toHaveAttribute('data-image-index', String(MIDDLE + 1));
  await expect(page.locator('[data-testid="measurement"]')).toHaveCount(0);
  await page.keyboard.press('ArrowUp');
  await expect(viewport()).toHaveAttribute('data-image-index', String(MIDDLE));
  await expect(page.locator('[data-testid="measurement"]')).toHaveCount(2);
});

test('with the site stopped, a reload still shows them; a deleted one stays deleted', async () => {
  await orthanc.stop();
  await page.reload();
  await openStudy();
  await expect(measurement('length')).toHaveCount(1);
  await expect(measurement('ellipse')).toHaveCount(1);
  expect(Number(await measurement('ellipse').getAttribute('data-mean'))).toBeCloseTo(ellipseMean, 6);
  await measurement('length').getByTestId('delete-measurement').click();
  await expect(measurement('length')).toHaveCount(0);
  await saved();
  await page.reload();
  await openStudy();
  await expect(measurement('ellipse')).toHaveCount(1);
  await expect(measurement('length')).toHaveCount(0);
});

test('a rectangle in the right lung reads its mean HU within 1 HU; a probe reads the marker pixel it was clicked on', async () => {
  await page.getByTestId('tool-rectangle').click();
  const rx = SIZE - geo.lungCx; // the right lung mirrors the left
  await drag({ x: rx - geo.lungAx * 0.4, y: geo.lungCy - geo.lungAy * 0.4 }, { x: rx + geo.lungAx * 0.4, y: geo.lungCy + geo.lungAy * 0.4 });
  await expect(measurement('rectangle')).toHaveCount(1);
  const { start, end } = JSON.parse((await measurement('rectangle').getAttribute('data-handles'))!) as {
    start: { x: number; y: number };
    end: { x: number; y: number };
  };
  const hu = ctSliceHU(MIDDLE, SLICES);
  let sum = 0;
  let n = 0;
  for (const { i, j } of rectanglePixels(start, end, SIZE, SIZE)) {
    sum += hu[j * SIZE + i]!;
    n++;
  }
  expect(n).toBeGreaterThan(1000);
  expect(Math.abs(Number(await measurement('rectangle').getAttribute('data-mean')) - sum / n)).toBeLessThan(1);

  await page.getByTestId('tool-probe').click();
  const marker = markerPosition(MIDDLE, SLICES);
  const at = await pageXY({ x: marker.x + 0.5, y: marker.y + 0.5 });
  await page.mouse.click(at.x, at.y);
  await expect(measurement('probe')).toHaveCount(1);
  const probed = JSON.parse((await measurement('probe').getAttribute('data-handles'))!) as { end: { x: number; y: number } };
  const truth = hu[Math.floor(probed.end.y) * SIZE + Math.floor(probed.end.x)]!;
  expect(Number(await measurement('probe').getAttribute('data-value'))).toBe(truth);
  expect(truth).toBeGreaterThan(1900); // the marker disc, 2000 HU
  await page.getByTestId('mode-wl').click();
});

