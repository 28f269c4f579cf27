import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import type { Locator, Page } from '@playwright/test';
import { generateChestXray } from '../fixtures/chest-xray';
import { startOrthanc } from '../support/orthanc';
import type { OrthancHandle } from '../support/orthanc';
import { dragOnImage, imagePointOnPage } from '../support/e2e/canvas';
import type { ImagePoint } from '../support/e2e/canvas';
import { writeSitesFile } from '../support/e2e/sites-file';
import { startWebHostProcess } from '../support/e2e/web-host-process';
import type { WebHostProcess } from '../support/e2e/web-host-process';

// Issue 5's annotation tools in Chromium on a radiograph without any pixel
// spacing: it reads "uncalibrated" until the reader calibrates it on a
// reference object; a Cobb angle of known geometry, an arrow whose text is
// typed in the app's own dialog, undo and redo, and a key-image flag, all of
// which must be there again after a reload.
test.describe.configure({ mode: 'serial' });

const SIZE = 512;
let orthanc: OrthancHandle;
let host: WebHostProcess;
let tmp: string;
let studyUid: string;
let page: Page;

interface DcmjsRead {
  data: { DicomMessage: { readFile(buffer: ArrayBuffer): { dict: Record<string, unknown>; write(): ArrayBuffer } } };
  log?: { setLevel?(level: string): void };
}
const dcmjs = createRequire(import.meta.url)('dcmjs') as DcmjsRead;
dcmjs.log?.setLevel?.('error');

/** The chest X-ray fixture (which has ImagerPixelSpacing) with that attribute removed: no calibration at all. */
function uncalibratedXray(): { studyInstanceUID: string; bytes: Uint8Array } {
  const xr = generateChestXray({ patientName: 'ANNOTATE^ANA', patientId: 'ANN-1', rows: SIZE, columns: SIZE, studyDescription: 'XR SPINE' });
  const src = xr.instances[0]!.bytes;
  const msg = dcmjs.data.DicomMessage.readFile(src.buffer.slice(src.byteOffset, src.byteOffset + src.byteLength) as ArrayBuffer);
  delete msg.dict['00181164'];
  delete msg.dict['00280030'];
  return { studyInstanceUID: xr.studyInstanceUID, bytes: new Uint8Array(msg.write()) };
}

const IMAGE = { columns: SIZE, rows: SIZE };
const canvas = (): Locator => page.locator('[data-testid="viewport"] canvas');
const pageXY = (p: ImagePoint): Promise<ImagePoint> => imagePointOnPage(canvas(), IMAGE, p);
const drag = (from: ImagePoint, to: ImagePoint): Promise<void> => dragOnImage(canvas(), IMAGE, from, to);

const viewport = (): ReturnType<Page['locator']> => page.locator('[data-testid="viewport"]');
const measurement = (kind: string): ReturnType<Page['locator']> => page.locator(`[data-testid="measurement"][data-kind="${kind}"]`);
type Handles = { start: { x: number; y: number }; end: { x: number; y: number } };
const handlesOf = async (kind: string): Promise<Handles> => JSON.parse((await measurement(kind).first().getAttribute('data-handles'))!) as Handles;
const pxLength = (h: Handles): number => Math.hypot(h.end.x - h.start.x, h.end.y - h.start.y);

/** Waits until every annotation write has reached IndexedDB (a reload before that would lose it). */
async function saved(): Promise<void> {
  await expect(page.locator('[data-testid="measurement-list"]')).toHaveAttribute('data-pending-writes', '0');
}

async function openStudy(): Promise<void> {
  await page.locator(`[data-testid="worklist-row"][data-study-uid="${studyUid}"] [data-testid="open-study"]`).first().click();
  await expect(viewport()).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
}

const LENGTH = { from: { x: 60, y: 420 }, to: { x: 460, y: 420 } };
const REFERENCE = { from: { x: 60, y: 470 }, to: { x: 260, y: 470 }, mm: 50 };
let expectedLengthMm = 0;

test.beforeAll(async ({ browser }) => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-e2e-annotate-'));
  orthanc = await startOrthanc();
  const xr = uncalibratedXray();
  studyUid = xr.studyInstanceUID;
  await orthanc.upload(xr.bytes);
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

test('an X-ray without spacing reads "uncalibrated"; calibrating on a reference of known size turns a length elsewhere into mm', async () => {
  await page.goto(host.url);
  await openStudy();
  await expect(page.getByTestId('calibration-status')).toHaveText('uncalibrated');
  await page.getByRole('button', { name: 'Length', exact: true }).click();
  await drag(LENGTH.from, LENGTH.to);
  await expect(measurement('length')).toHaveCount(1);
  await expect(measurement('length')).toContainText('px (uncalibrated)');
  await expect(measurement('length')).toHaveAttribute('data-uncalibrated', 'true');

  await page.getByRole('button', { name: 'Calibrate', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Calibrate', exact: true })).toHaveAttribute('aria-pressed', 'true');
  await drag(REFERENCE.from, REFERENCE.to);
  const dialog = page.getByRole('dialog', { name: 'Calibrate this image' });
  await expect(dialog).toBeVisible();
  const size = dialog.getByLabel('Known size of the reference object (mm)');
  await expect(size).toBeFocused();
  // A wrong entry is refused with the reason; the dialog stays.
  await size.fill('fifty');
  await size.press('Enter');
  await expect(dialog.getByRole('alert')).toContainText('not a size in millimetres');
  await size.fill(String(REFERENCE.mm));
  await size.press('Enter');
  await expect(dialog).toHaveCount(0);

  await expect(page.getByTestId('calibration-status')).toHaveText(`calibrated manually: ${REFERENCE.mm.toFixed(1)} mm reference`);
  await expect(measurement('length')).toContainText(`mm (calibrated manually: ${REFERENCE.mm.toFixed(1)} mm reference)`);
  // The truth: the drawn length's pixels × the reference's mm per pixel, both as the handles landed.
  const ref = pxLength(await handlesOf('calibration'));
  const len = pxLength(await handlesOf('length'));
  expect(Math.abs(ref - 200)).toBeLessThan(2); // the lines landed where they were drawn
  expect(Math.abs(len - 400)).toBeLessThan(2);
  expectedLengthMm = (len * REFERENCE.mm) / ref;
  const shown = Number(await measurement('length').getAttribute('data-length-mm'));
  expect(Math.abs(shown - expectedLengthMm)).toBeLessThan(1e-6);
  expect(Math.abs(shown - 100)).toBeLessThan(1.5); // 400 px at 0.25 mm/px
  test.info().annotations.push({ type: 'figure', description: `length ${shown.toFixed(2)} mm after calibration (${ref.toFixed(1)} px = ${REFERENCE.mm} mm)` });
});

test('a Cobb angle of known geometry reads within 0.5°', async () => {
  await page.getByRole('button', { name: 'Cobb angle', exact: true }).click();
  const rad = (d: number): number => (d * Math.PI) / 180;
  // Endplate lines at +10° and −20° from horizontal: 30° between them.
  await drag({ x: 100, y: 100 }, { x: 100 + 250 * Math.cos(rad(10)), y: 100 + 250 * Math.sin(rad(10)) });
  await drag({ x: 100, y: 260 }, { x: 100 + 250 * Math.cos(rad(-20)), y: 260 + 250 * Math.sin(rad(-20)) });
  await expect(measurement('cobb')).toHaveCount(1);
  const deg = Number(await measurement('cobb').getAttribute('data-angle-deg'));
  expect(Math.abs(deg - 30)).toBeLessThan(0.5);
  await expect(measurement('cobb')).toContainText(/\d+\.\d°/);
  test.info().annotations.push({ type: 'figure', description: `Cobb angle ${deg.toFixed(2)}°, drawn 30°` });
});

test("an arrow and a free-text label take their text from the app's dialog", async () => {
  await page.getByRole('button', { name: 'Arrow with text', exact: true }).click();
  await drag({ x: 380, y: 250 }, { x: 440, y: 320 });
  const dialog = page.getByRole('dialog', { name: 'Arrow label' });
  await expect(dialog).toBeVisible();
  await dialog.getByLabel('Text of the arrow').fill('rib fracture');
  await dialog.getByRole('button', { name: 'OK' }).click();
  await expect(measurement('arrow')).toHaveAttribute('data-label', 'rib fracture');

  // Free text: a click places it, the dialog names it; Edit in the list changes it.
  await page.getByRole('button', { name: 'Text', exact: true }).click();
  const at = await pageXY({ x: 250, y: 40 });
  await page.mouse.click(at.x, at.y);
  const textDialog = page.getByRole('dialog', { name: 'Text on the image' });
  await textDialog.getByLabel('Text').fill('R');
  await textDialog.getByLabel('Text').press('Enter');
  await expect(measurement('text')).toHaveAttribute('data-label', 'R');
  await measurement('text').getByRole('button', { name: /^Edit the text/ }).click();
  const edit = page.getByRole('dialog', { name: 'Change the text' });
  await expect(edit.getByLabel('Text')).toHaveValue('R');
  await edit.getByLabel('Text').fill('RIGHT');
  await edit.getByRole('button', { name: 'OK' }).click();
  await expect(measurement('text')).toHaveAttribute('data-label', 'RIGHT');
});

test('undo removes the last measurement and redo restores it; an undone one stays gone after a reload', async () => {
  await page.getByRole('button', { name: 'Length', exact: true }).click();
  await drag({ x: 60, y: 30 }, { x: 200, y: 30 });
  await expect(measurement('length')).toHaveCount(2);
  await expect(page.getByTestId('annotation-undo')).toHaveAccessibleName('Undo draw length');
  await page.getByTestId('annotation-undo').click();
  await expect(measurement('length')).toHaveCount(1);
  await page.getByTestId('annotation-redo').click();
  await expect(measurement('length')).toHaveCount(2);
  await page.getByTestId('annotation-undo').click();
  await expect(measurement('length')).toHaveCount(1);
  // The same from the keyboard: Ctrl+Y redoes, Ctrl+Z undoes.
  await viewport().focus();
  await page.keyboard.press('Control+y');
  await expect(measurement('length')).toHaveCount(2);
  await page.keyboard.press('Control+z');
  await expect(measurement('length')).toHaveCount(1);
  await page.getByRole('button', { name: 'Left button: Window/level', exact: true }).click();

  const keyImage = page.getByRole('button', { name: 'Key image', exact: true });
  await keyImage.click();
  await expect(keyImage).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('key-image')).toHaveCount(1);
  // K toggles it too.
  await viewport().focus();
  await page.keyboard.press('k');
  await expect(keyImage).toHaveAttribute('aria-pressed', 'false');
  await expect(page.getByTestId('key-image')).toHaveCount(0);
  await page.keyboard.press('k');
  await expect(keyImage).toHaveAttribute('aria-pressed', 'true');
  await saved();

  await page.reload();
  await openStudy();
  await expect(measurement('length')).toHaveCount(1);
  await expect(measurement('cobb')).toHaveCount(1);
  await expect(measurement('arrow')).toHaveAttribute('data-label', 'rib fracture');
  await expect(page.getByTestId('calibration-status')).toHaveText(`calibrated manually: ${REFERENCE.mm.toFixed(1)} mm reference`);
  expect(Math.abs(Number(await measurement('length').getAttribute('data-length-mm')) - expectedLengthMm)).toBeLessThan(1e-6);
  await expect(page.getByRole('button', { name: 'Key image', exact: true })).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('key-image')).toHaveCount(1);
});

test('removing the calibration turns the length back to uncalibrated px; a locked annotation can be neither moved nor deleted, and an unlocked move is undone', async () => {
  await measurement('calibration').getByTestId('delete-measurement').click();
  await expect(measurement('length')).toContainText('px (uncalibrated)');
  await expect(page.getByTestId('calibration-status')).toHaveText('uncalibrated');
  const lock = measurement('arrow').getByTestId('lock-measurement');
  await lock.click();
  await expect(lock).toHaveAttribute('aria-pressed', 'true');
  await expect(measurement('arrow').getByTestId('delete-measurement')).toBeDisabled();
  // A locked arrow's handle does not follow a drag; unlocked it does, and undo puts it back.
  const before = await handlesOf('arrow');
  await drag(before.end, { x: before.end.x - 60, y: before.end.y + 60 });
  expect(await handlesOf('arrow')).toEqual(before);
  await lock.click();
  await expect(lock).toHaveAttribute('aria-pressed', 'false');
  await drag(before.end, { x: before.end.x - 60, y: before.end.y + 60 });
  await expect.poll(async () => (await handlesOf('arrow')).end.x).toBeLessThan(before.end.x - 50);
  await expect(page.getByTestId('annotation-undo')).toHaveAccessibleName('Undo move arrow');
  await page.getByTestId('annotation-undo').click();
  await expect.poll(async () => (await handlesOf('arrow')).end.x).toBeCloseTo(before.end.x, 6);
  // Undo brings the calibration back.
  await page.getByTestId('annotation-undo').click();
  await expect(page.getByTestId('calibration-status')).toHaveText(`calibrated manually: ${REFERENCE.mm.toFixed(1)} mm reference`);
  await saved();
});
