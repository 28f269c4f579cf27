import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import { formatDicomDate } from '../../shared/dicom/dicomweb-json';
import type { OpenRequest, SeriesOption, ViewerStore } from './viewer-store';
import { CINE_FPS_CHOICES, LAYOUTS, LAYOUT_NAMES, POINTER_MODES, viewportCount } from './viewer-store';
import { MeasurementPanel, MeasureToolBar } from './annotations/MeasurementPanel';
import type { ViewerShortcut } from './viewer-shortcut';
import { runShortcut, viewerShortcuts } from './viewer-shortcuts';
import { annotationShortcuts } from './annotations/annotation-shortcuts';
import { SERIES_DRAG_TYPE, ViewportView } from './ViewportView';

export interface StackViewerProps {
  store: ViewerStore;
  request: OpenRequest;
  onClose: () => void;
}

/** Keys typed into a form field are the field's, not the viewer's. */
function isTypingTarget(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  if (t instanceof HTMLInputElement) return t.type !== 'range';
  return t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement || t.isContentEditable;
}

/** A series in the thumbnail strip: its middle image, number, modality, description and image count. */
function SeriesThumb({ store, series, shownIn }: { store: ViewerStore; series: SeriesOption; shownIn: number[] }): JSX.Element {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [failed, setFailed] = useState<string | undefined>(undefined);
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    let live = true;
    store.renderThumbnail(series.seriesInstanceUID, canvas).catch((err: unknown) => {
      if (live) setFailed(err instanceof Error ? err.message : 'cannot be decoded');
    });
    return () => {
      live = false;
    };
  }, [store, series.seriesInstanceUID]);
  const title = [series.seriesNumber !== undefined ? `#${series.seriesNumber}` : '', series.modality].filter(Boolean).join(' ');
  const where = shownIn.length > 0 ? `, shown in viewport ${shownIn.map((i) => i + 1).join(' and ')}` : '';
  return (
    <li>
      <button
        type="button"
        className={`series-thumb${shownIn.length > 0 ? ' is-shown' : ''}`}
        data-testid="series-thumb"
        data-series-uid={series.seriesInstanceUID}
        draggable
        aria-label={`Series ${title} ${series.description}, ${series.count} images${where}: show in the active viewport`}
        title={failed ? `Thumbnail unavailable: ${failed}` : 'Click, or drag into a viewport'}
        onDragStart={(e) => {
          e.dataTransfer.setData(SERIES_DRAG_TYPE, series.seriesInstanceUID);
          e.dataTransfer.setData('text/plain', series.label);
          e.dataTransfer.effectAllowed = 'copy';
        }}
        onClick={() => store.selectSeries(series.seriesInstanceUID)}
      >
        <canvas ref={canvasRef} width={96} height={96} className="series-thumb-image" aria-hidden="true" />
        <span className="series-thumb-title">
          {title} <span className="series-thumb-count">{series.count}</span>
        </span>
        <span className="series-thumb-desc">{series.description}</span>
        {failed && (
          <span className="series-thumb-failed" data-testid="series-thumb-failed">
            cannot be shown
          </span>
        )}
      </button>
    </li>
  );
}

function HelpDialog({ shortcuts, onClose }: { shortcuts: readonly ViewerShortcut[]; onClose: () => void }): JSX.Element {
  const closeRef = useRef<HTMLButtonElement>(null);
  // A modal dialog keeps the focus (its one control is Close) and gives it back where it was on closing.
  useEffect(() => {
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : undefined;
    closeRef.current?.focus();
    return () => before?.focus();
  }, []);
  return (
    <div className="help-backdrop" onClick={onClose}>
      <div
        className="help-dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="viewer-help-title"
        data-testid="viewer-help"
        onClick={(e) => e.stopPropagation()}
        onKeyDown={(e) => {
          if (e.key !== 'Tab') return;
          e.preventDefault();
          closeRef.current?.focus();
        }}
      >
        <h2 id="viewer-help-title">Keyboard shortcuts</h2>
        <table>
          <tbody>
            {shortcuts.map((s) => (
              <tr key={`${s.keys}-${s.description}`}>
                <th scope="row">
                  <kbd>{s.keys}</kbd>
                </th>
                <td>{s.description}</td>
              </tr>
            ))}
            <tr>
              <th scope="row">
                <kbd>Esc</kbd>
              </th>
              <td>Close this help</td>
            </tr>
          </tbody>
        </table>
        <p className="help-mouse">Mouse: wheel scrolls; right-drag zooms; middle-drag pans; drag a series into a viewport.</p>
        <button ref={closeRef} type="button" className="btn" onClick={onClose} data-testid="close-help">
          Close
        </button>
      </div>
    </div>
  );
}

/** A toolbar button that toggles: aria-pressed says its state. */
function Toggle(props: { pressed: boolean; label: string; text: string; testId: string; onClick: () => void; keys?: string }): JSX.Element {
  return (
    <button
      type="button"
      className={`btn btn-tool${props.pressed ? ' is-active' : ''}`}
      aria-pressed={props.pressed}
      aria-label={props.label}
      title={props.keys ? `${props.label} (${props.keys})` : props.label}
      data-testid={props.testId}
      onClick={props.onClick}
    >
      {props.text}
    </button>
  );
}

function Action(props: { label: string; text: string; testId: string; onClick: () => void; keys?: string }): JSX.Element {
  return (
    <button type="button" className="btn btn-tool" aria-label={props.label} title={props.keys ? `${props.label} (${props.keys})` : props.label} data-testid={props.testId} onClick={props.onClick}>
      {props.text}
    </button>
  );
}

/**
 * One study in 1, 2 or 4 viewports, with a series thumbnail strip, a tool
 * bar and keyboard shortcuts. React renders the chrome; the stores hold
 * the state and the work.
 */
export function StackViewer({ store, request, onClose }: StackViewerProps): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  const measurementState = useSyncExternalStore(
    store.measurements?.subscribe ?? noSubscribe,
    store.measurements?.getState ?? noState,
  );
  const studyUid = request.study.studyInstanceUID;
  const count = viewportCount(state.layout);
  const visible = store.viewports.slice(0, count);
  // Re-render when any visible viewport changes series (the strip marks where each is shown).
  const shownSeries = useSyncExternalStore(
    (l) => {
      const offs = store.viewports.map((v) => v.subscribe(l));
      return () => offs.forEach((off) => off());
    },
    () => store.viewports.map((v) => v.getState().seriesInstanceUID ?? '').join('|'),
  ).split('|');
  const active = store.viewports[state.active]!;
  const activeState = useSyncExternalStore(active.subscribe, active.getState);

  // Open on mount and on a change of study; close on the way out.
  // The request is read through a ref: a parent re-render with an equal request must not reopen.
  const requestRef = useRef(request);
  requestRef.current = request;
  useEffect(() => store.open(requestRef.current), [store, studyUid]);

  const shortcuts = useMemo(() => {
    // The viewer's own first; the annotation tools' letters were chosen not to clash with them.
    return [...viewerShortcuts(store), ...(store.measurements ? annotationShortcuts(store.measurements) : [])];
  }, [store]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (store.getState().helpOpen) {
        if (e.key === 'Escape' || e.key === '?') {
          e.preventDefault();
          store.setHelpOpen(false);
        }
        return;
      }
      if (isTypingTarget(e.target)) return;
      if (runShortcut(shortcuts, e)) e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [store, shortcuts]);

  const { study } = request;
  const loadingText = state.progress
    ? state.progress.done < state.progress.total
      ? `Retrieving ${state.progress.done}/${state.progress.total}`
      : 'Loading images…'
    : 'Opening study…';
  const toolActive = measurementState?.activeTool !== undefined;
  const ready = activeState.displayedIndex >= 0;

  return (
    <section className="viewer" aria-label="Image viewer">
      <div className="viewer-toolbar" role="toolbar" aria-label="Viewer">
        <div className="tool-group">
          <button type="button" className="btn" onClick={onClose} data-testid="close-viewer">
            ← Worklist
          </button>
        </div>
        <span className="viewer-title">
          {[study.patientName || 'Unnamed patient', study.patientId, formatDicomDate(study.studyDate), study.description].filter(Boolean).join(' · ')}
        </span>
        {state.series.length > 1 && (
          <select
            className="series-select"
            aria-label="Series"
            value={activeState.seriesInstanceUID ?? ''}
            onChange={(e) => store.selectSeries(e.target.value)}
          >
            {state.series.map((s) => (
              <option key={s.seriesInstanceUID} value={s.seriesInstanceUID}>
                {s.label}
              </option>
            ))}
          </select>
        )}
        <div className="tool-group" role="group" aria-label="Layout">
          {LAYOUT_NAMES.map((name, k) => (
            <Toggle
              key={name}
              pressed={state.layout === name}
              label={`Layout ${LAYOUTS[name].label}`}
              text={LAYOUTS[name].label.replace(/ /g, '')}
              testId={`layout-${name}`}
              keys={String(k + 1)}
              onClick={() => store.setLayout(name)}
            />
          ))}
        </div>
        <div className="tool-group" role="group" aria-label="Scroll and cine">
          <Toggle pressed={state.sync} label="Synchronised scroll" text="Sync" testId="sync-scroll" keys="S" onClick={() => store.setSync(!state.sync)} />
          <Toggle
            pressed={state.cine.slot !== undefined}
            label={state.cine.slot !== undefined ? 'Stop cine' : 'Play cine'}
            text={state.cine.slot !== undefined ? '■ Cine' : '▶ Cine'}
            testId="cine-toggle"
            keys="C"
            onClick={() => store.toggleCine()}
          />
          <select className="series-select cine-fps" aria-label="Cine frames per second" data-testid="cine-fps" value={state.cine.fps} onChange={(e) => store.setCineFps(Number(e.target.value))}>
            {CINE_FPS_CHOICES.map((f) => (
              <option key={f} value={f}>
                {f} fps
              </option>
            ))}
          </select>
        </div>
        <div className="tool-group">
          <Action label="Keyboard shortcuts" text="?" testId="help-button" keys="?" onClick={() => store.setHelpOpen(true)} />
        </div>
      </div>
      <div className="viewer-toolbar viewer-toolbar-tools" role="toolbar" aria-label="Image tools">
        <div className="tool-group" role="group" aria-label="Left button">
          {POINTER_MODES.map((m) => (
            <Toggle
              key={m.mode}
              pressed={!toolActive && state.mode === m.mode}
              label={`Left button: ${m.label}`}
              text={m.mode === 'wl' ? 'W/L' : m.label}
              testId={`mode-${m.mode}`}
              onClick={() => store.setMode(m.mode)}
            />
          ))}
        </div>
        <div className="tool-group" role="group" aria-label="View">
          <Action label="Zoom in" text="+" testId="zoom-in" keys="+" onClick={() => active.zoomBy(1.25)} />
          <Action label="Zoom out" text="−" testId="zoom-out" keys="-" onClick={() => active.zoomBy(0.8)} />
          <Action label="Rotate 90° clockwise" text="⟳" testId="rotate" keys="R" onClick={() => active.rotateBy(90)} />
          <Toggle pressed={activeState.hflip} label="Flip horizontally" text="⇆" testId="flip-h" keys="H" onClick={() => active.flipHorizontal()} />
          <Toggle pressed={activeState.vflip} label="Flip vertically" text="⇅" testId="flip-v" keys="V" onClick={() => active.flipVertical()} />
          <Toggle pressed={activeState.invert} label="Invert" text="◐" testId="invert" keys="I" onClick={() => active.toggleInvert()} />
          <Action label="Reset the view" text="Reset" testId="reset-view" keys="0" onClick={() => active.reset()} />
        </div>
        {ready && activeState.presets.length > 0 && (
          <div className="tool-group wl-presets" role="group" aria-label="Window presets">
            {activeState.presets.map((p) => (
              <button
                key={p.name}
                type="button"
                className="btn btn-tool"
                data-testid={`preset-${p.name}`}
                aria-label={`${p.label} window (W ${p.windowWidth} / L ${p.windowCenter})`}
                title={`W ${p.windowWidth} / L ${p.windowCenter}`}
                onClick={() => active.applyPreset(p.name)}
              >
                {p.label}
              </button>
            ))}
          </div>
        )}
        {store.measurements && (
          <div className="tool-group">
            <MeasureToolBar store={store.measurements} />
          </div>
        )}
      </div>
      <div className="viewer-body">
        {state.series.length > 0 && (
          <nav className="series-strip" aria-label="Series">
            <ul>
              {state.series.map((s) => (
                <SeriesThumb
                  key={s.seriesInstanceUID}
                  store={store}
                  series={s}
                  shownIn={shownSeries.flatMap((uid, i) => (uid === s.seriesInstanceUID && i < count ? [i] : []))}
                />
              ))}
            </ul>
          </nav>
        )}
        <div className="viewport-area">
          <div
            className="viewport-grid"
            data-testid="viewport-grid"
            data-layout={state.layout}
            style={{ gridTemplateColumns: `repeat(${LAYOUTS[state.layout].columns}, 1fr)`, gridTemplateRows: `repeat(${LAYOUTS[state.layout].rows}, 1fr)` }}
          >
            {visible.map((vp) => (
              <ViewportView key={vp.slot} store={store} vp={vp} study={study} active={vp.slot === state.active} sessionPhase={state.phase} />
            ))}
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
        {store.measurements && <MeasurementPanel store={store.measurements} />}
      </div>
      {state.helpOpen && <HelpDialog shortcuts={shortcuts} onClose={() => store.setHelpOpen(false)} />}
    </section>
  );
}

const noSubscribe = (): (() => void) => () => undefined;
const noState = (): undefined => undefined;
