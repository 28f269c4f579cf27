import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import { formatDicomDate } from '../../shared/dicom/dicomweb-json';
import type { StudyUpsert } from '../cache/study-cache';
import type { ViewerStore } from './viewer-store';
import type { ViewportState, ViewportStore } from './viewport-store';
import type { SliceQuality } from './study-session';
import { formatWl } from './wl-presets';
import { orientationMarkers } from './viewer-geometry';

/** The drag-and-drop type of a series thumbnail. */
export const SERIES_DRAG_TYPE = 'application/x-telerad-series';

const LOUPE_SIZE = 180;
const LOUPE_ZOOM = 2;

export function viewportLabel(slot: number, s: ViewportState): string {
  const series = [s.modality, s.seriesNumber !== undefined ? `#${s.seriesNumber}` : '', s.seriesDescription].filter(Boolean).join(' ');
  const shown = s.displayedIndex >= 0 ? s.displayedIndex : s.index;
  const image = s.count > 0 ? `, image ${shown + 1} of ${s.count}` : ', empty';
  const error = s.error ? `, ${s.error}` : '';
  return `Viewport ${slot + 1}: ${series || 'no series'}${image}${error}`;
}

function formatMm(v: number): string {
  return `${Math.round(v * 10) / 10} mm`;
}

const QUALITY_LETTER: Record<SliceQuality, string> = { lossless: 'L', preview: 'P', missing: '-' };
const QUALITY_COLOUR: Record<SliceQuality, string> = { lossless: '#3fb950', preview: '#d29922', missing: '#30363d' };

/**
 * Which slices of the stack are in lossless, only as a preview, or not yet:
 * one coloured run per stretch of equal slices (a 300-slice stack is a few
 * rectangles), beside the slice scrollbar and running the same way (top:
 * first slice): green lossless, amber preview only, grey not received yet.
 */
export function SliceAvailabilityBar({ qualities, slot }: { qualities: readonly SliceQuality[]; slot: number }): JSX.Element | null {
  const n = qualities.length;
  if (n < 2) return null;
  const runs: { from: number; to: number; q: SliceQuality }[] = [];
  for (let i = 0; i < n; i++) {
    const q = qualities[i]!;
    const last = runs.at(-1);
    if (last && last.q === q) last.to = i + 1;
    else runs.push({ from: i, to: i + 1, q });
  }
  const count = (q: SliceQuality): number => qualities.filter((x) => x === q).length;
  const lossless = count('lossless');
  const preview = count('preview');
  const missing = count('missing');
  const label = `Slices of viewport ${slot + 1}: ${lossless} of ${n} lossless, ${preview} preview only, ${missing} not received yet`;
  return (
    <svg
      className="slice-availability"
      data-testid="slice-availability"
      data-lossless={lossless}
      data-preview={preview}
      data-missing={missing}
      data-states={qualities.map((q) => QUALITY_LETTER[q]).join('')}
      role="img"
      aria-label={label}
      viewBox={`0 0 1 ${n}`}
      preserveAspectRatio="none"
    >
      <title>{label}</title>
      {runs.map((r) => (
        <rect key={r.from} x={0} y={r.from} width={1} height={r.to - r.from} fill={QUALITY_COLOUR[r.q]} />
      ))}
    </svg>
  );
}

export interface ViewportViewProps {
  store: ViewerStore;
  vp: ViewportStore;
  study: StudyUpsert;
  active: boolean;
  sessionPhase: 'loading' | 'ready' | 'error';
}

/**
 * One viewport cell: the Cornerstone element (React renders it without
 * children so the two never fight over the DOM), its overlay, its slice
 * bar, its own error, and the mouse: left button per the chosen mode
 * (unless a measurement tool is drawing), right-drag zoom, middle-drag pan,
 * wheel scroll, and a series thumbnail dropped on it.
 */
export function ViewportView({ store, vp, study, active, sessionPhase }: ViewportViewProps): JSX.Element {
  const s = useSyncExternalStore(vp.subscribe, vp.getState);
  // Redrawn when any slice of the study changes quality (the session coalesces those to 10 per second).
  const slicesRev = useSyncExternalStore(store.subscribe, () => store.getState().slicesRev);
  const qualities = useMemo(() => vp.sliceQualities(), [vp, slicesRev, s.count, s.seriesInstanceUID]);
  const elRef = useRef<HTMLDivElement>(null);
  const loupeRef = useRef<HTMLCanvasElement>(null);
  const [loupeAt, setLoupeAt] = useState<{ x: number; y: number } | undefined>(undefined);
  const [dropping, setDropping] = useState(false);
  const slot = vp.slot;

  useEffect(() => {
    const el = elRef.current;
    if (!el) return undefined;
    return store.attachViewport(slot, el);
  }, [store, slot]);

  // Native listeners: React's wheel listener is passive and could not keep the page from scrolling.
  useEffect(() => {
    const el = elRef.current;
    if (!el) return undefined;
    type Drag = { kind: 'wl' | 'pan' | 'zoom' | 'magnify'; x: number; y: number };
    let drag: Drag | undefined;
    const drawLoupe = (clientX: number, clientY: number): void => {
      const canvas = el.querySelector('canvas');
      const loupe = loupeRef.current;
      if (!canvas || !loupe) return;
      const rect = canvas.getBoundingClientRect();
      const ratio = canvas.width / Math.max(1, rect.width);
      const cx = (clientX - rect.left) * ratio;
      const cy = (clientY - rect.top) * ratio;
      const src = (LOUPE_SIZE / LOUPE_ZOOM) * ratio;
      const ctx = loupe.getContext('2d');
      if (!ctx) return;
      ctx.imageSmoothingEnabled = false;
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, LOUPE_SIZE, LOUPE_SIZE);
      ctx.drawImage(canvas, cx - src / 2, cy - src / 2, src, src, 0, 0, LOUPE_SIZE, LOUPE_SIZE);
      const frame = el.getBoundingClientRect();
      setLoupeAt({ x: clientX - frame.left, y: clientY - frame.top });
    };
    const onWheel = (e: WheelEvent): void => {
      e.preventDefault();
      store.setActive(slot);
      if (e.deltaY !== 0) vp.scroll(Math.sign(e.deltaY));
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
      if (kind === 'magnify') drawLoupe(e.clientX, e.clientY);
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
      else drawLoupe(e.clientX, e.clientY);
    };
    const onUp = (): void => {
      if (drag?.kind === 'magnify') setLoupeAt(undefined);
      drag = undefined;
    };
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
  }, [store, vp, slot]);

  const shown = s.quality !== 'missing' && s.displayedIndex >= 0 ? s.displayedIndex : s.index;
  const painted = s.displayedIndex >= 0 && s.quality !== 'missing';
  const markers = painted ? orientationMarkers(s.orientation, s) : undefined;
  // 'ready' means the slice asked for is painted from its lossless file; a preview is 'preview', a slice not in yet 'loading'.
  const dataState =
    sessionPhase === 'error'
      ? 'error'
      : sessionPhase === 'loading' || s.phase === 'empty' || (s.phase === 'ready' && s.quality === 'missing')
        ? 'loading'
        : s.phase === 'ready' && s.quality === 'preview'
          ? 'preview'
          : s.phase;
  const series = [s.seriesNumber !== undefined ? `#${s.seriesNumber}` : '', s.seriesDescription].filter(Boolean).join(' ');

  return (
    <div className={`viewport-cell${active ? ' is-active' : ''}${dropping ? ' is-drop-target' : ''}`} data-testid="viewport-cell" data-slot={String(slot)} data-active={String(active)}>
      <div
        className={`viewport-frame${s.quality === 'missing' ? ' is-waiting' : ''}`}
        onDragOver={(e) => {
          if (!e.dataTransfer.types.includes(SERIES_DRAG_TYPE)) return;
          e.preventDefault();
          e.dataTransfer.dropEffect = 'copy';
          setDropping(true);
        }}
        onDragLeave={() => setDropping(false)}
        onDrop={(e) => {
          const uid = e.dataTransfer.getData(SERIES_DRAG_TYPE);
          setDropping(false);
          if (!uid) return;
          e.preventDefault();
          store.setActive(slot);
          store.loadSeries(slot, uid);
        }}
      >
        <div
          ref={elRef}
          className="viewport"
          data-testid="viewport"
          data-slot={String(slot)}
          data-state={dataState}
          data-image-index={String(shown)}
          data-image-count={String(s.count)}
          data-series-uid={s.seriesInstanceUID ?? ''}
          data-rotation={String(s.rotation)}
          data-hflip={String(s.hflip)}
          data-vflip={String(s.vflip)}
          data-invert={String(s.invert)}
          data-quality={s.quality ?? ''}
          role="img"
          aria-label={viewportLabel(slot, s)}
          tabIndex={0}
          onFocus={() => store.setActive(slot)}
        />
        <div className="overlay" aria-hidden="true">
          <div className="overlay-tl">
            <div>{study.patientName}</div>
            <div>{study.patientId}</div>
          </div>
          <div className="overlay-tr">
            <div className="overlay-detail">{[formatDicomDate(study.studyDate), study.description].filter(Boolean).join(' · ')}</div>
            <div data-testid="overlay-series">{series}</div>
          </div>
          <div className="overlay-bl">
            <div data-testid="overlay-image-number">{s.count > 0 ? `Im ${shown + 1}/${s.count}` : ''}</div>
            {s.sliceLocationMm !== undefined && s.displayedIndex >= 0 && <div data-testid="overlay-position">Loc {formatMm(s.sliceLocationMm)}</div>}
            {s.sliceThicknessMm !== undefined && s.displayedIndex >= 0 && <div className="overlay-detail">Thk {formatMm(s.sliceThicknessMm)}</div>}
          </div>
          <div className="overlay-br">
            <div data-testid="overlay-zoom">{s.scale !== undefined && painted ? `Zoom ${Math.round(s.scale * 100)}%` : ''}</div>
            <div data-testid="overlay-wl">{s.quality === 'preview' ? "W/L: the site's (preview)" : s.voi && painted ? formatWl(s.voi) : ''}</div>
          </div>
          {markers && (
            <>
              <div className="overlay-orient overlay-orient-top" data-testid="orient-top">
                {markers.top}
              </div>
              <div className="overlay-orient overlay-orient-right" data-testid="orient-right">
                {markers.right}
              </div>
              <div className="overlay-orient overlay-orient-bottom" data-testid="orient-bottom">
                {markers.bottom}
              </div>
              <div className="overlay-orient overlay-orient-left" data-testid="orient-left">
                {markers.left}
              </div>
            </>
          )}
        </div>
        <canvas
          ref={loupeRef}
          className="loupe"
          width={LOUPE_SIZE}
          height={LOUPE_SIZE}
          aria-hidden="true"
          data-testid="loupe"
          style={loupeAt ? { left: loupeAt.x - LOUPE_SIZE / 2, top: loupeAt.y - LOUPE_SIZE / 2 } : { display: 'none' }}
        />
        {s.quality === 'preview' && (
          <div className="viewport-preview-flag" role="status" data-testid="preview-overlay">
            PREVIEW — not for diagnosis
            <span className="viewport-preview-why">the site's rendering while the lossless image is on its way; measuring is off</span>
          </div>
        )}
        {s.quality === 'missing' && s.count > 0 && (
          <div className="viewport-waiting" role="status" data-testid="viewport-waiting">
            Image {s.index + 1}/{s.count} has not arrived yet: it is being fetched first
          </div>
        )}
        {s.error && (
          <div className="viewport-error" role="alert" data-testid="viewport-error">
            {s.error}
          </div>
        )}
      </div>
      <input
        type="range"
        className="slice-bar"
        aria-label={`Slice, viewport ${slot + 1}`}
        data-testid="slice-scrollbar"
        min={0}
        max={Math.max(0, s.count - 1)}
        step={1}
        value={s.index}
        disabled={s.count < 2}
        onFocus={() => store.setActive(slot)}
        onChange={(e) => vp.show(Number(e.target.value))}
      />
      <SliceAvailabilityBar qualities={qualities} slot={slot} />
    </div>
  );
}
