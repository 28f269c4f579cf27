import { useEffect, useMemo, useRef, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import type { StudyUpsert } from '../cache/study-cache';
import type { ViewerStore } from './viewer-store';
import type { ViewportState, ViewportStore } from './viewport-store';
import type { SessionPhase, SliceQuality } from './study-session';
import { LOUPE_SIZE, useSeriesDrop, useViewportMouse } from './use-viewport-mouse';
import { ViewportNotices, ViewportOverlay } from './ViewportOverlay';

export { SERIES_DRAG_TYPE } from './use-viewport-mouse';

export function viewportLabel(slot: number, s: ViewportState): string {
  const series = [s.modality, s.seriesNumber !== undefined ? `#${s.seriesNumber}` : '', s.seriesDescription].filter(Boolean).join(' ');
  const shown = s.displayedIndex >= 0 ? s.displayedIndex : s.index;
  const image = s.count > 0 ? `, image ${shown + 1} of ${s.count}` : ', empty';
  const error = s.error ? `, ${s.error}` : '';
  return `Viewport ${slot + 1}: ${series || 'no series'}${image}${error}`;
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
  sessionPhase: SessionPhase;
}

/** 'ready' means the slice asked for is painted from its lossless file; a preview is 'preview', a slice not in yet 'loading'. */
function viewportDataState(sessionPhase: SessionPhase, s: ViewportState): string {
  if (sessionPhase === 'error') return 'error';
  if (sessionPhase === 'loading' || s.phase === 'empty' || (s.phase === 'ready' && s.quality === 'missing')) return 'loading';
  if (s.phase === 'ready' && s.quality === 'preview') return 'preview';
  return s.phase;
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
  const slot = vp.slot;
  const { dropping, ...dropHandlers } = useSeriesDrop(store, slot);

  useEffect(() => {
    const el = elRef.current;
    if (!el) return undefined;
    return store.attachViewport(slot, el);
  }, [store, slot]);

  const { loupeRef, loupeAt } = useViewportMouse(store, vp, elRef);

  const shown = s.quality !== 'missing' && s.displayedIndex >= 0 ? s.displayedIndex : s.index;
  const painted = s.displayedIndex >= 0 && s.quality !== 'missing';

  return (
    <div className={`viewport-cell${active ? ' is-active' : ''}${dropping ? ' is-drop-target' : ''}`} data-testid="viewport-cell" data-slot={String(slot)} data-active={String(active)}>
      <div className={`viewport-frame${s.quality === 'missing' ? ' is-waiting' : ''}`} {...dropHandlers}>
        <div
          ref={elRef}
          className="viewport"
          data-testid="viewport"
          data-slot={String(slot)}
          data-state={viewportDataState(sessionPhase, s)}
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
        <ViewportOverlay study={study} s={s} shown={shown} painted={painted} />
        <canvas
          ref={loupeRef}
          className="loupe"
          width={LOUPE_SIZE}
          height={LOUPE_SIZE}
          aria-hidden="true"
          data-testid="loupe"
          style={loupeAt ? { left: loupeAt.x - LOUPE_SIZE / 2, top: loupeAt.y - LOUPE_SIZE / 2 } : { display: 'none' }}
        />
        <ViewportNotices s={s} />
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
