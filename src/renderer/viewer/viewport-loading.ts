import type { Image, VOI, Viewport } from 'cornerstone-core';
import { describeError } from './study-session';
import type { SliceQuality } from './study-session';
import { presetsFor } from './wl-presets';
import { slicePositionMm } from './viewer-geometry';
import { beginDecode, endDecode, imageIdOf, isCurrent, setStack, setState, stopPreloader, syncViewportState } from './viewport-context';
import type { ViewportCtx } from './viewport-context';
import type { StackEntry, ViewportState } from './viewport-types';

/** Slices either side of the reader whose previews are read ahead. */
const PREVIEW_READ_AHEAD = 8;
/** The identity window a preview is painted with: its 8-bit pixels as the site rendered them. */
const PREVIEW_VOI: VOI = { windowWidth: 256, windowCenter: 128 };

function firstNumber(v: number | number[] | undefined): number | undefined {
  const n = Array.isArray(v) ? v[0] : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function numbersOf(image: Image, tag: string): number[] | undefined {
  const s = image.data?.string(tag);
  if (!s) return undefined;
  const v = s.split('\\').map(Number);
  return v.every(Number.isFinite) ? v : undefined;
}

/**
 * Throws when a decoded image holds fewer pixel values than Rows × Columns:
 * the image loader hands a truncated or wrongly sized Pixel Data over as a
 * short array, which Cornerstone would paint as garbage.
 */
export function assertDecodedSize(image: Pick<Image, 'rows' | 'columns' | 'getPixelData'>): void {
  const have = image.getPixelData().length;
  const need = image.rows * image.columns;
  if (!(need > 0)) throw new Error(`the image has no size (Rows ${image.rows}, Columns ${image.columns})`);
  if (have < need) throw new Error(`the pixel data is truncated: ${have} values where Rows × Columns needs ${need}`);
}

/** Starts the read-ahead of the current stack, its window sized by the decoded-image cache. */
function startPreloader(ctx: ViewportCtx, image: Image): void {
  const { deps, cs } = ctx;
  const { session, log } = deps;
  stopPreloader(ctx);
  if (!deps.createPreloader || ctx.stack.length < 2) return;
  const myStack = ctx.stackRev;
  const entries = ctx.stack;
  const size = image.sizeInBytes ?? image.rows * image.columns * 2;
  const bytes = Number.isFinite(size) && size > 0 ? size : 512 * 512 * 2;
  const windowSize = Math.min(entries.length, Math.floor((deps.decodedCacheBytes ?? 256 * 1024 * 1024) / Math.max(1, deps.visibleViewports?.() ?? 1) / Math.max(1, bytes)));
  ctx.preloader = deps.createPreloader({
    count: entries.length,
    concurrency: 2,
    window: Math.max(1, windowSize),
    log,
    load: async (i) => {
      if (myStack !== ctx.stackRev) return;
      const entry = entries[i]!;
      const q = session.quality(entry.inst.sopInstanceUID);
      if (q === 'missing') return 'unavailable';
      if (q === 'preview') {
        // Previews are read ahead only near the reader: each is decoded on the main thread, and while a
        // study streams hundreds arrive (and are replaced) far from where anyone looks.
        if (Math.abs(i - ctx.lastFocus) > PREVIEW_READ_AHEAD) return 'unavailable';
        const id = await session.previewImageIdFor(entry.inst);
        if (!id) return 'unavailable';
        if (myStack === ctx.stackRev) await cs.loadAndCacheImage(id);
        return undefined;
      }
      const id = await imageIdOf(ctx, entry);
      if (myStack === ctx.stackRev) await cs.loadAndCacheImage(id);
      return undefined;
    },
  });
}

/** A single multi-frame instance scrolls by frame; the frame count is only known once it is read. */
function expandFrames(ctx: ViewportCtx, image: Image): boolean {
  const { stack } = ctx;
  if (stack.length !== 1 || stack[0]!.frame !== undefined) return false;
  const frames = image.data?.intString?.('x00280008') ?? 1;
  if (!(frames > 1)) return false;
  const inst = stack[0]!.inst;
  setStack(ctx, Array.from({ length: frames }, (_, k) => ({ inst, frame: k })));
  setState(ctx, { count: frames });
  return true;
}

/** Marks slice `index` as not received yet: the canvas is hidden and the viewport says it is on its way. */
function showMissing(ctx: ViewportCtx, index: number): void {
  ctx.display++;
  // `displayedIndex` stays the last slice painted (the canvas keeps it, hidden): zoom and pan carry over to this one.
  setState(ctx, { phase: 'ready', index, quality: 'missing', displayed: undefined, error: undefined });
}

/** Converts the view when the next image has another size (a preview shown at its own size): the same area stays on screen. */
function keepViewAcross(ctx: ViewportCtx, el: HTMLElement, image: Image): Partial<Viewport> {
  const { cs } = ctx;
  const before = cs.getImage(el);
  const vp = cs.getViewport(el);
  if (!before || !vp || before.columns === image.columns || before.columns <= 0 || image.columns <= 0) return {};
  const k = before.columns / image.columns;
  return { scale: vp.scale * k, translation: { x: vp.translation.x / k, y: vp.translation.y / k } };
}

/** One request to paint a slice: what it was asked with, and the revisions it must still match. */
interface PaintRequest {
  index: number;
  direction: 1 | -1 | 0;
  entry: StackEntry;
  quality: SliceQuality;
  rev: number;
  myStack: number;
  el: HTMLElement;
}

/**
 * Paints slice `index` (its lossless image or its preview) once it is
 * decoded, unless a newer slice, series or element was asked for meanwhile.
 */
export function paint(ctx: ViewportCtx, index: number, direction: 1 | -1 | 0): void {
  if (!ctx.element || ctx.stack.length === 0) return;
  const entry = ctx.stack[index]!;
  const quality = ctx.deps.session.quality(entry.inst.sopInstanceUID);
  if (quality === 'missing') return showMissing(ctx, index);
  const req: PaintRequest = { index, direction, entry, quality, rev: ++ctx.display, myStack: ctx.stackRev, el: ctx.element };
  beginDecode(ctx, { index });
  void (async () => {
    try {
      await decodeAndShow(ctx, req);
    } catch (err) {
      reportFailure(ctx, req, err);
    } finally {
      endDecode(ctx);
    }
  })();
}

async function decodeAndShow(ctx: ViewportCtx, req: PaintRequest): Promise<void> {
  const { index, direction, entry, quality, rev, myStack, el } = req;
  const { session } = ctx.deps;
  let imageId: string;
  if (quality === 'preview') {
    const id = await session.previewImageIdFor(entry.inst);
    if (!isCurrent(ctx, rev, myStack, el)) return;
    if (!id) {
      // Its lossless file landed meanwhile (the preview was deleted then), or the preview failed its check.
      if (session.quality(entry.inst.sopInstanceUID) === 'lossless') paint(ctx, index, direction);
      else showMissing(ctx, index);
      return;
    }
    imageId = id;
  } else {
    imageId = await imageIdOf(ctx, entry);
  }
  const image = await ctx.cs.loadAndCacheImage(imageId);
  if (!isCurrent(ctx, rev, myStack, el)) return; // overtaken by a newer slice, series or element
  if (quality !== 'preview') {
    assertDecodedSize(image);
    if (expandFrames(ctx, image)) {
      // The instance was shown as its first frame; from now on it is a stack of frames.
      paint(ctx, Math.min(index, ctx.stack.length - 1), direction);
      return;
    }
  }
  presentImage(ctx, req, imageId, image);
}

/** Puts the decoded image on the canvas and its facts into the state. */
function presentImage(ctx: ViewportCtx, req: PaintRequest, imageId: string, image: Image): void {
  const { cs } = ctx;
  const { index, direction, el } = req;
  const isPreview = req.quality === 'preview';
  // The lossless image replaces a preview in place: same zoom and pan; the reader's window comes back.
  const patch: Partial<Viewport> = ctx.newStack ? {} : keepViewAcross(ctx, el, image);
  if (isPreview) patch.voi = { ...PREVIEW_VOI };
  else if (!ctx.newStack && ctx.state.quality !== 'lossless') patch.voi = ctx.losslessVoi ? { ...ctx.losslessVoi } : cs.getDefaultViewportForImage(el, image).voi;
  cs.displayImage(el, image, patch);
  // Cornerstone keeps the element's viewport across images; a DX window (3000/1700) on a
  // colour photo paints it black, so a new series starts from its own image's defaults.
  if (ctx.newStack) {
    ctx.newStack = false;
    cs.reset(el);
    ctx.losslessVoi = undefined;
    startPreloader(ctx, image);
  }
  setState(ctx, shownPatch(ctx, req.entry, imageId, image, isPreview, index));
  syncViewportState(ctx);
  if (ctx.preloader && index !== ctx.lastFocus) {
    ctx.lastFocus = index;
    ctx.preloader.focus(index, direction);
  }
}

/** The state of a viewport showing `image` as slice `index`. */
function shownPatch(ctx: ViewportCtx, entry: StackEntry, imageId: string, image: Image, isPreview: boolean, index: number): Partial<ViewportState> {
  const { state } = ctx;
  const wc = firstNumber(image.windowCenter);
  const ww = firstNumber(image.windowWidth);
  const imageVoi = !isPreview && wc !== undefined && ww !== undefined ? { windowWidth: ww, windowCenter: wc } : undefined;
  const position = entry.frame === undefined ? entry.inst.imagePositionPatient : undefined;
  const orientation = entry.inst.imageOrientationPatient ?? (isPreview ? undefined : numbersOf(image, 'x00200037'));
  const thickness = isPreview ? undefined : image.data?.floatString?.('x00180050');
  const frameOfReferenceUID = isPreview ? state.frameOfReferenceUID : image.data?.string('x00200052');
  return {
    phase: 'ready',
    error: undefined,
    displayedIndex: index,
    quality: isPreview ? 'preview' : 'lossless',
    // A preview keeps the presets of the series' lossless images (they apply once it is replaced).
    presets: isPreview ? state.presets : presetsFor(state.modality, imageVoi),
    displayed: {
      studyInstanceUID: entry.inst.studyInstanceUID,
      seriesInstanceUID: entry.inst.seriesInstanceUID,
      sopInstanceUID: entry.inst.sopInstanceUID,
      imageId,
      ...(isPreview ? { preview: true } : {}),
    },
    position,
    orientation,
    sliceLocationMm: position ? slicePositionMm({ position, orientation }) : undefined,
    sliceThicknessMm: thickness !== undefined && Number.isFinite(thickness) && thickness > 0 ? thickness : isPreview ? state.sliceThicknessMm : undefined,
    frameOfReferenceUID: frameOfReferenceUID || undefined,
  };
}

/** A failed decode: shown in this viewport alone, unless a newer request or the session's re-fetch owns it. */
function reportFailure(ctx: ViewportCtx, req: PaintRequest, err: unknown): void {
  const { session, log, slot } = ctx.deps;
  const { index, entry, quality, rev, myStack } = req;
  const sop = entry.inst.sopInstanceUID;
  if (myStack !== ctx.stackRev) return;
  if (session.isIntegrityDrop(err, sop)) return; // the session says so, and re-fetches
  if (rev !== ctx.display) return;
  const reason = describeError(err);
  const message = `Image ${index + 1}/${ctx.stack.length} could not be decoded: ${reason}`;
  log.error(`Viewport ${slot + 1}: ${message} (SOP ${sop}, ${quality === 'preview' ? 'preview' : `transfer syntax ${entry.inst.transferSyntaxUID ?? 'unknown'}`})`);
  setState(ctx, { phase: 'error', error: message, displayedIndex: -1, displayed: undefined });
}
