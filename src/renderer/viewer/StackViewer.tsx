import { useEffect, useRef, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import { formatDicomDate } from '../../shared/dicom/dicomweb-json';
import type { OpenRequest, ViewerStore } from './viewer-store';
import { formatWl } from './wl-presets';
import { MeasurementPanel, MeasureToolBar } from '../annotations/MeasurementPanel';

export interface StackViewerProps {
  store: ViewerStore;
  request: OpenRequest;
  onClose: () => void;
}

const NEXT_KEYS: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: 5, PageUp: -5 };

/** Keys typed into a form field are the field's, not the stack's. */
function isTypingTarget(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  if (t instanceof HTMLInputElement) return t.type !== 'range';
  return t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement || t.isContentEditable;
}

/**
 * One study in a stack viewport. React renders the chrome; Cornerstone owns
 * the canvas inside the viewport element, which React renders without
 * children so the two never fight over the DOM.
 */
export function StackViewer({ store, request, onClose }: StackViewerProps): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  const viewportRef = useRef<HTMLDivElement>(null);
  const studyUid = request.study.studyInstanceUID;

  // Open on mount and on a change of study; close (disable Cornerstone, stop retrieval) on the way out.
  // The request is read through a ref: a parent re-render with an equal request must not reopen.
  const requestRef = useRef(request);
  requestRef.current = request;
  useEffect(() => {
    const el = viewportRef.current;
    if (!el) return undefined;
    return store.open(el, requestRef.current);
  }, [store, studyUid]);

  // Native listeners: React's wheel listener is passive and could not keep the page from scrolling.
  useEffect(() => {
    const el = viewportRef.current;
    if (!el) return undefined;
    const onWheel = (e: WheelEvent): void => {
      e.preventDefault();
      if (e.deltaY !== 0) store.scroll(Math.sign(e.deltaY));
    };
    let drag: { x: number; y: number } | undefined;
    const onDown = (e: MouseEvent): void => {
      // With a measurement tool active the left button draws (cornerstone-tools' own listeners).
      if (e.button !== 0 || store.measurements?.getState().activeTool) return;
      e.preventDefault();
      drag = { x: e.clientX, y: e.clientY };
    };
    const onMove = (e: MouseEvent): void => {
      if (!drag) return;
      store.adjustVoi(e.clientX - drag.x, e.clientY - drag.y);
      drag = { x: e.clientX, y: e.clientY };
    };
    const onUp = (): void => {
      drag = undefined;
    };
    const onKey = (e: KeyboardEvent): void => {
      const step = NEXT_KEYS[e.key];
      if (step === undefined || isTypingTarget(e.target) || e.altKey || e.ctrlKey || e.metaKey) return;
      e.preventDefault();
      store.scroll(step);
    };
    const resizeObserver = new ResizeObserver(() => store.resize());
    resizeObserver.observe(el);
    el.addEventListener('wheel', onWheel, { passive: false });
    el.addEventListener('mousedown', onDown);
    window.addEventListener('mousemove', onMove);
    window.addEventListener('mouseup', onUp);
    window.addEventListener('keydown', onKey);
    return () => {
      resizeObserver.disconnect();
      el.removeEventListener('wheel', onWheel);
      el.removeEventListener('mousedown', onDown);
      window.removeEventListener('mousemove', onMove);
      window.removeEventListener('mouseup', onUp);
      window.removeEventListener('keydown', onKey);
    };
  }, [store]);

  const { study } = request;
  const shown = state.displayedIndex >= 0 ? state.displayedIndex : state.index;
  const loadingText = state.progress
    ? state.progress.done < state.progress.total
      ? `Retrieving ${state.progress.done}/${state.progress.total}`
      : 'Loading images…'
    : 'Opening study…';

  return (
    <section className="viewer" aria-label="Image viewer">
      <div className="viewer-toolbar">
        <button type="button" className="btn" onClick={onClose} data-testid="close-viewer">
          ← Back to worklist
        </button>
        <span className="viewer-title">
          {[study.patientName || 'Unnamed patient', study.patientId, formatDicomDate(study.studyDate), study.description]
            .filter(Boolean)
            .join(' · ')}
        </span>
        {state.series.length > 1 && (
          <select
            className="series-select"
            aria-label="Series"
            value={state.seriesInstanceUID ?? ''}
            onChange={(e) => store.selectSeries(e.target.value)}
          >
            {state.series.map((s) => (
              <option key={s.seriesInstanceUID} value={s.seriesInstanceUID}>
                {s.label}
              </option>
            ))}
          </select>
        )}
        {store.measurements && <MeasureToolBar store={store.measurements} />}
        {state.presets.length > 0 && (
          <div className="wl-presets" role="group" aria-label="Window presets">
            {state.presets.map((p) => (
              <button
                key={p.name}
                type="button"
                className="btn"
                data-testid={`preset-${p.name}`}
                aria-label={`${p.label} window (W ${p.windowWidth} / L ${p.windowCenter})`}
                title={`W ${p.windowWidth} / L ${p.windowCenter}`}
                onClick={() => store.applyPreset(p.name)}
              >
                {p.label}
              </button>
            ))}
          </div>
        )}
      </div>
      <div className="viewer-body">
        <div className="viewport-frame">
          <div
            ref={viewportRef}
            className="viewport"
            data-testid="viewport"
            data-state={state.phase}
            data-image-index={String(shown)}
            data-image-count={String(state.count)}
            tabIndex={0}
          />
          <div className="overlay" aria-hidden="true">
            <div className="overlay-tl">
              <div>{study.patientName}</div>
              <div>{study.patientId}</div>
            </div>
            <div className="overlay-tr">
              <div>{formatDicomDate(study.studyDate)}</div>
              <div>{state.seriesDescription}</div>
            </div>
            <div className="overlay-bl" data-testid="overlay-image-number">
              {state.count > 0 ? `Im ${shown + 1}/${state.count}` : ''}
            </div>
            <div className="overlay-br" data-testid="overlay-wl">
              {state.voi ? formatWl(state.voi) : ''}
            </div>
          </div>
          {state.phase === 'loading' && (
            <div className="viewer-progress" role="status" data-testid="viewer-progress">
              {loadingText}
            </div>
          )}
          {state.message && (
            <div className={`viewer-message ${state.phase === 'error' ? 'is-error' : ''}`} role="alert" data-testid="viewer-message">
              {state.message}
            </div>
          )}
        </div>
        <input
          type="range"
          className="slice-bar"
          aria-label="Slice"
          data-testid="slice-scrollbar"
          min={0}
          max={Math.max(0, state.count - 1)}
          step={1}
          value={state.index}
          disabled={state.count < 2}
          onChange={(e) => store.show(Number(e.target.value))}
        />
        {store.measurements && <MeasurementPanel store={store.measurements} />}
      </div>
    </section>
  );
}
