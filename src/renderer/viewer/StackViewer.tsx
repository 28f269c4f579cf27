import { useEffect, useMemo, useRef, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import type { OpenRequest, ViewerState, ViewerStore } from './viewer-store';
import { LAYOUTS, viewportCount } from './viewer-store';
import { MeasurementPanel } from './annotations/MeasurementPanel';
import type { ViewerShortcut } from './viewer-shortcut';
import { runShortcut, viewerShortcuts } from './viewer-shortcuts';
import { annotationShortcuts } from './annotations/annotation-shortcuts';
import { ViewportView } from './ViewportView';
import { SeriesStrip } from './SeriesStrip';
import { ImageToolbar, ViewerToolbar } from './ViewerToolbars';
import type { StudyUpsert } from '../cache/study-cache';

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

/** The viewer's keyboard shortcuts (while the help is open, only Esc and ? close it); the list, for the help. */
function useViewerShortcuts(store: ViewerStore): readonly ViewerShortcut[] {
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
  return shortcuts;
}

/** The series each viewport shows, by slot; re-renders when any viewport changes series (the strip marks where each is shown). */
function useShownSeries(store: ViewerStore): string[] {
  return useSyncExternalStore(
    (l) => {
      const offs = store.viewports.map((v) => v.subscribe(l));
      return () => offs.forEach((off) => off());
    },
    () => store.viewports.map((v) => v.getState().seriesInstanceUID ?? '').join('|'),
  ).split('|');
}

/** The visible viewports in the layout's grid, with the study's progress and message over them. */
function ViewportArea({ store, state, study }: { store: ViewerStore; state: ViewerState; study: StudyUpsert }): JSX.Element {
  const loadingText = state.progress
    ? state.progress.done < state.progress.total
      ? `Retrieving ${state.progress.done}/${state.progress.total}`
      : 'Loading images…'
    : 'Opening study…';
  return (
    <div className="viewport-area">
      <div
        className="viewport-grid"
        data-testid="viewport-grid"
        data-layout={state.layout}
        style={{ gridTemplateColumns: `repeat(${LAYOUTS[state.layout].columns}, 1fr)`, gridTemplateRows: `repeat(${LAYOUTS[state.layout].rows}, 1fr)` }}
      >
        {store.viewports.slice(0, viewportCount(state.layout)).map((vp) => (
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
  const shownSeries = useShownSeries(store);
  const active = store.viewports[state.active]!;
  const activeState = useSyncExternalStore(active.subscribe, active.getState);

  // Open on mount and on a change of study; close on the way out.
  // The request is read through a ref: a parent re-render with an equal request must not reopen.
  const requestRef = useRef(request);
  requestRef.current = request;
  useEffect(() => store.open(requestRef.current), [store, studyUid]);

  const shortcuts = useViewerShortcuts(store);
  const { study } = request;

  return (
    <section className="viewer" aria-label="Image viewer">
      <ViewerToolbar store={store} state={state} activeState={activeState} study={study} onClose={onClose} />
      <ImageToolbar store={store} state={state} active={active} activeState={activeState} toolActive={measurementState?.activeTool !== undefined} />
      <div className="viewer-body">
        {state.series.length > 0 && <SeriesStrip store={store} series={state.series} shownSeries={shownSeries} count={viewportCount(state.layout)} />}
        <ViewportArea store={store} state={state} study={study} />
        {store.measurements && <MeasurementPanel store={store.measurements} />}
      </div>
      {state.helpOpen && <HelpDialog shortcuts={shortcuts} onClose={() => store.setHelpOpen(false)} />}
    </section>
  );
}

const noSubscribe = (): (() => void) => () => undefined;
const noState = (): undefined => undefined;
