import type { JSX } from 'react';
import { formatDicomDate } from '../../shared/dicom/dicomweb-json';
import type { StudyUpsert } from '../cache/study-cache';
import { MeasureToolBar } from './annotations/MeasurementPanel';
import { CINE_FPS_CHOICES, LAYOUTS, LAYOUT_NAMES, POINTER_MODES } from './viewer-types';
import type { ViewerState, ViewerStore } from './viewer-types';
import type { ViewportState, ViewportStore } from './viewport-types';

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

/** Layout, synchronised scroll and cine of the viewer. */
function LayoutAndCineGroups({ store, state }: { store: ViewerStore; state: ViewerState }): JSX.Element {
  return (
    <>
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
    </>
  );
}

/** The viewer's tool bar: back to the worklist, the study, the series select, layout, scroll and cine, help. */
export function ViewerToolbar(props: { store: ViewerStore; state: ViewerState; activeState: ViewportState; study: StudyUpsert; onClose: () => void }): JSX.Element {
  const { store, state, activeState, study } = props;
  return (
    <div className="viewer-toolbar" role="toolbar" aria-label="Viewer">
      <div className="tool-group">
        <button type="button" className="btn" onClick={props.onClose} data-testid="close-viewer">
          ← Worklist
        </button>
      </div>
      <span className="viewer-title">
        {[study.patientName || 'Unnamed patient', study.patientId, formatDicomDate(study.studyDate), study.description].filter(Boolean).join(' · ')}
      </span>
      {state.series.length > 1 && (
        <select className="series-select" aria-label="Series" value={activeState.seriesInstanceUID ?? ''} onChange={(e) => store.selectSeries(e.target.value)}>
          {state.series.map((s) => (
            <option key={s.seriesInstanceUID} value={s.seriesInstanceUID}>
              {s.label}
            </option>
          ))}
        </select>
      )}
      <LayoutAndCineGroups store={store} state={state} />
      <div className="tool-group">
        <Action label="Keyboard shortcuts" text="?" testId="help-button" keys="?" onClick={() => store.setHelpOpen(true)} />
      </div>
    </div>
  );
}

/** The active viewport's window presets, once its slice is painted. */
function PresetGroup({ active, activeState }: { active: ViewportStore; activeState: ViewportState }): JSX.Element | null {
  if (!(activeState.displayedIndex >= 0 && activeState.presets.length > 0)) return null;
  return (
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
  );
}

/** The image tools: what the left button does, view changes of the active viewport, window presets, measuring. */
export function ImageToolbar(props: { store: ViewerStore; state: ViewerState; active: ViewportStore; activeState: ViewportState; toolActive: boolean }): JSX.Element {
  const { store, state, active, activeState, toolActive } = props;
  return (
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
      <PresetGroup active={active} activeState={activeState} />
      {store.measurements && (
        <div className="tool-group">
          <MeasureToolBar store={store.measurements} />
        </div>
      )}
    </div>
  );
}
