import { useEffect, useRef, useState } from 'react';
import type { DragEvent, RefObject } from 'react';
import type { ViewerStore } from './viewer-types';
import type { ViewportStore } from './viewport-types';

/** The drag-and-drop type of a series thumbnail. */
export const SERIES_DRAG_TYPE = 'application/x-telerad-series';

export const LOUPE_SIZE = 180;
const LOUPE_ZOOM = 2;

type LoupeAt = { x: number; y: number } | undefined;
type Drag = { kind: 'wl' | 'pan' | 'zoom' | 'magnify'; x: number; y: number };

/** Paints the magnified neighbourhood of the pointer on the loupe; where the loupe goes in the frame, or undefined when nothing is drawn. */
function drawLoupe(el: HTMLElement, loupe: HTMLCanvasElement | null, clientX: number, clientY: number): LoupeAt {
  const canvas = el.querySelector('canvas');
  if (!canvas || !loupe) return undefined;
  const rect = canvas.getBoundingClientRect();
  const ratio = canvas.width / Math.max(1, rect.width);
  const cx = (clientX - rect.left) * ratio;
  const cy = (clientY - rect.top) * ratio;
  const src = (LOUPE_SIZE / LOUPE_ZOOM) * ratio;
  const ctx = loupe.getContext('2d');
  if (!ctx) return undefined;
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, LOUPE_SIZE, LOUPE_SIZE);
  ctx.drawImage(canvas, cx - src / 2, cy - src / 2, src, src, 0, 0, LOUPE_SIZE, LOUPE_SIZE);
  const frame = el.getBoundingClientRect();
  return { x: clientX - frame.left, y: clientY - frame.top };
}

interface MouseTargets {
  store: ViewerStore;
  vp: ViewportStore;
  slot: number;
  loupeRef: RefObject<HTMLCanvasElement | null>;
  setLoupeAt: (at: LoupeAt) => void;
}

/** Left button per the chosen mode (unless a measurement tool is drawing), middle-drag pan, right-drag zoom. */
function dragHandlers(el: HTMLElement, t: MouseTargets): { onDown: (e: MouseEvent) => void; onMove: (e: MouseEvent) => void; onUp: () => void } {
  const { store, vp, slot } = t;
  let drag: Drag | undefined;
  const loupeAt = (clientX: number, clientY: number): void => {
    const at = drawLoupe(el, t.loupeRef.current, clientX, clientY);
    if (at) t.setLoupeAt(at);
  };
  const onDown = (e: MouseEvent): void => {
    store.setActive(slot);
    el.focus({ preventScroll: true });
    let kind: Drag['kind'] | undefined;
    if (e.button === 1) kind = 'pan';
    else if (e.button === 2) kind = 'zoom';
    else if (e.button === 0 && !store.measurements?.getState().activeTool) kind = store.getState().mode;
    // With a measurement tool active the left button draws (cornerstone-tools' own listeners).
    if (!kind) return;
    e.preventDefault();
    drag = { kind, x: e.clientX, y: e.clientY };
    if (kind === 'magnify') loupeAt(e.clientX, e.clientY);
  };
  const onMove = (e: MouseEvent): void => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    drag = { ...drag, x: e.clientX, y: e.clientY };
    if (drag.kind === 'wl') vp.adjustVoi(dx, dy);
    else if (drag.kind === 'pan') {
      const canvas = el.querySelector('canvas');
      const ratio = canvas ? canvas.width / Math.max(1, canvas.getBoundingClientRect().width) : 1;
      vp.panBy(dx * ratio, dy * ratio);
    } else if (drag.kind === 'zoom') vp.zoomBy(Math.exp(-dy * 0.01));
    else loupeAt(e.clientX, e.clientY);
  };
  const onUp = (): void => {
    if (drag?.kind === 'magnify') t.setLoupeAt(undefined);
    drag = undefined;
  };
  return { onDown, onMove, onUp };
}

/** Adds the viewport's native mouse listeners; the returned function removes them. */
function listenToMouse(el: HTMLElement, t: MouseTargets): () => void {
  const { store, vp, slot } = t;
  const onWheel = (e: WheelEvent): void => {
    e.preventDefault();
    store.setActive(slot);
    if (e.deltaY !== 0) vp.scroll(Math.sign(e.deltaY));
  };
  const { onDown, onMove, onUp } = dragHandlers(el, t);
  const onContextMenu = (e: MouseEvent): void => e.preventDefault();
  // No measurement is drawn on a preview or an empty slice: the press never reaches cornerstone-tools.
  const frame = el.parentElement;
  const onDownCapture = (e: MouseEvent): void => {
    const q = vp.getState().quality;
    if (e.button !== 0 || !store.measurements?.getState().activeTool || q === 'lossless' || q === undefined) return;
    e.stopPropagation();
    e.preventDefault();
    store.setActive(slot);
    store.measurements.refuseOnPreview(q === 'preview' ? 'preview' : 'missing');
  };
  frame?.addEventListener('mousedown', onDownCapture, { capture: true });
  const resizeObserver = new ResizeObserver(() => vp.resize());
  resizeObserver.observe(el);
  el.addEventListener('wheel', onWheel, { passive: false });
  el.addEventListener('mousedown', onDown);
  el.addEventListener('contextmenu', onContextMenu);
  window.addEventListener('mousemove', onMove);
  window.addEventListener('mouseup', onUp);
  return () => {
    frame?.removeEventListener('mousedown', onDownCapture, { capture: true });
    resizeObserver.disconnect();
    el.removeEventListener('wheel', onWheel);
    el.removeEventListener('mousedown', onDown);
    el.removeEventListener('contextmenu', onContextMenu);
    window.removeEventListener('mousemove', onMove);
    window.removeEventListener('mouseup', onUp);
  };
}

/**
 * The mouse on a viewport element: wheel scroll, drags, the magnifier loupe,
 * and measuring refused on a preview. Native listeners: React's wheel
 * listener is passive and could not keep the page from scrolling.
 */
export function useViewportMouse(
  store: ViewerStore,
  vp: ViewportStore,
  elRef: RefObject<HTMLDivElement | null>,
): { loupeRef: RefObject<HTMLCanvasElement | null>; loupeAt: LoupeAt } {
  const loupeRef = useRef<HTMLCanvasElement>(null);
  const [loupeAt, setLoupeAt] = useState<LoupeAt>(undefined);
  const slot = vp.slot;
  useEffect(() => {
    const el = elRef.current;
    if (!el) return undefined;
    return listenToMouse(el, { store, vp, slot, loupeRef, setLoupeAt });
  }, [store, vp, slot, elRef]);
  return { loupeRef, loupeAt };
}

/** A series thumbnail dragged over the viewport's frame, and dropped: it is shown there. */
export function useSeriesDrop(
  store: ViewerStore,
  slot: number,
): { dropping: boolean; onDragOver: (e: DragEvent) => void; onDragLeave: () => void; onDrop: (e: DragEvent) => void } {
  const [dropping, setDropping] = useState(false);
  return {
    dropping,
    onDragOver: (e) => {
      if (!e.dataTransfer.types.includes(SERIES_DRAG_TYPE)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
      setDropping(true);
    },
    onDragLeave: () => setDropping(false),
    onDrop: (e) => {
      const uid = e.dataTransfer.getData(SERIES_DRAG_TYPE);
      setDropping(false);
      if (!uid) return;
      e.preventDefault();
      store.setActive(slot);
      store.loadSeries(slot, uid);
    },
  };
}
