import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { FormEvent, JSX, KeyboardEvent as ReactKeyboardEvent } from 'react';
import type { MeasureToolName } from '../tools-setup';
import type { AnnotationKind, MeasurementItem, MeasurementStore, TextPrompt } from './measurement-store';
import './annotations.css';

/** The tool bar's buttons, with the key that picks each (annotation-shortcuts.ts; W is the viewer's). */
export const TOOL_BUTTONS: { tool: MeasureToolName | undefined; id: string; label: string; short?: string; key: string }[] = [
  { tool: undefined, id: 'wl', label: 'Window/level', key: 'W' },
  { tool: 'Length', id: 'length', label: 'Length', key: 'L' },
  { tool: 'EllipticalRoi', id: 'ellipse', label: 'Ellipse ROI', short: 'Ellipse', key: 'E' },
  { tool: 'RectangleRoi', id: 'rectangle', label: 'Rectangle ROI', short: 'Rectangle', key: 'Q' },
  { tool: 'Angle', id: 'angle', label: 'Angle', key: 'A' },
  { tool: 'CobbAngle', id: 'cobb', label: 'Cobb angle', short: 'Cobb', key: 'Shift+A' },
  { tool: 'Probe', id: 'probe', label: 'Probe', key: 'P' },
  { tool: 'ArrowAnnotate', id: 'arrow', label: 'Arrow with text', short: 'Arrow', key: 'Shift+T' },
  { tool: 'TextMarker', id: 'text', label: 'Text', key: 'T' },
  { tool: 'Calibration', id: 'calibrate', label: 'Calibrate', key: 'Shift+L' },
];

/** What the left mouse button does on the image, and the actions on annotations and key images. */
export function MeasureToolBar({ store }: { store: MeasurementStore }): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  return (
    <div className="measure-tools" role="toolbar" aria-label="Annotation tools">
      {/* "No tool" (W) stays a shortcut; its button is the viewer's own "Left button" group, so there is one W/L control. */}
      {TOOL_BUTTONS.filter((t) => t.tool !== undefined).map((t) => (
        <button
          key={t.id}
          type="button"
          className={`btn ${state.activeTool === t.tool ? 'is-active' : ''}`}
          aria-pressed={state.activeTool === t.tool}
          {...(t.short ? { 'aria-label': t.label } : {})}
          aria-keyshortcuts={t.key}
          title={state.previewShown ? `${t.label}: off on a preview image — wait for its lossless image` : `${t.label} (${t.key})`}
          disabled={state.previewShown}
          data-testid={`tool-${t.id}`}
          onClick={() => store.setActiveTool(t.tool)}
        >
          {t.short ?? t.label}
        </button>
      ))}
      <span className="measure-tools-sep" aria-hidden="true" />
      <button type="button" className="btn" data-testid="annotation-undo" aria-label={state.undoLabel} title={`${state.undoLabel} (Ctrl+Z)`} aria-keyshortcuts="Control+Z" disabled={!state.canUndo} onClick={() => store.undo()}>
        Undo
      </button>
      <button type="button" className="btn" data-testid="annotation-redo" aria-label={state.redoLabel} title={`${state.redoLabel} (Ctrl+Y)`} aria-keyshortcuts="Control+Y" disabled={!state.canRedo} onClick={() => store.redo()}>
        Redo
      </button>
      <button
        type="button"
        className={`btn ${state.hidden ? 'is-active' : ''}`}
        data-testid="annotations-hidden"
        aria-pressed={state.hidden}
        aria-keyshortcuts="Shift+H"
        title="Hide all annotations (Shift+H)"
        onClick={() => store.setHidden(!state.hidden)}
      >
        Hide all
      </button>
      <button
        type="button"
        className={`btn ${state.isKeyImage ? 'is-active' : ''}`}
        data-testid="key-image-toggle"
        aria-pressed={state.isKeyImage}
        aria-keyshortcuts="K"
        title={state.previewShown ? 'Key images are marked on lossless images: this slice is still a preview' : 'Flag the shown image as a key image (K)'}
        disabled={state.previewShown}
        onClick={() => store.toggleKeyImage()}
      >
        Key image
      </button>
    </div>
  );
}

const KIND_LABEL: Record<AnnotationKind, string> = {
  length: 'Length',
  ellipse: 'Ellipse',
  rectangle: 'Rectangle',
  angle: 'Angle',
  probe: 'Probe',
  cobb: 'Cobb angle',
  arrow: 'Arrow',
  text: 'Text',
  calibration: 'Calibration',
};

function dataAttributes(m: MeasurementItem): Record<string, string> {
  const out: Record<string, string> = {};
  if (m.lengthMm !== undefined) out['data-length-mm'] = String(m.lengthMm);
  if (m.mean !== undefined) out['data-mean'] = String(m.mean);
  if (m.angleDeg !== undefined) out['data-angle-deg'] = String(m.angleDeg);
  if (m.value !== undefined) out['data-value'] = String(m.value);
  if (m.label !== undefined) out['data-label'] = m.label;
  if (m.uncalibrated) out['data-uncalibrated'] = 'true';
  return out;
}

function MeasurementRow({ m, selected, store }: { m: MeasurementItem; selected: boolean; store: MeasurementStore }): JSX.Element {
  const name = `${KIND_LABEL[m.kind].toLowerCase()} ${m.text}`.trim();
  return (
    <li
      className={`measurement ${selected ? 'is-selected' : ''}`}
      data-testid="measurement"
      data-kind={m.kind}
      data-id={m.id}
      data-locked={String(m.locked)}
      data-handles={JSON.stringify({ start: m.start, end: m.end })}
      {...dataAttributes(m)}
    >
      <button type="button" className="measurement-pick" aria-pressed={selected} aria-label={`Select ${name}`} onClick={() => store.select(selected ? undefined : m.id)}>
        <span className="measurement-kind">{KIND_LABEL[m.kind]}</span> <span className="measurement-value">{m.text}</span>
      </button>
      <span className="measurement-actions">
        {(m.kind === 'arrow' || m.kind === 'text') && (
          <button type="button" className="btn btn-small" data-testid="edit-annotation-text" aria-label={`Edit the text of ${name}`} disabled={m.locked} onClick={() => store.editText(m.id)}>
            Edit
          </button>
        )}
        <button
          type="button"
          className={`btn btn-small ${m.locked ? 'is-active' : ''}`}
          data-testid="lock-measurement"
          aria-pressed={m.locked}
          aria-label={`Lock ${name}`}
          onClick={() => store.setLocked(m.id, !m.locked)}
        >
          {m.locked ? 'Locked' : 'Lock'}
        </button>
        <button type="button" className="btn btn-small" data-testid="delete-measurement" aria-label={`Delete ${m.kind} measurement`} disabled={m.locked} onClick={() => store.remove(m.id)}>
          Delete
        </button>
      </span>
    </li>
  );
}

/** The annotations on the shown image (figures, lock, delete), its calibration, and the study's key images. */
export function MeasurementPanel({ store }: { store: MeasurementStore }): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  return (
    <aside className="annotation-panel" aria-label="Annotations">
      {state.calibration && (
        <p className="annotation-calibration" data-testid="calibration-status">
          {state.calibration}
        </p>
      )}
      {state.notice && (
        <p className="annotation-notice" role="alert" data-testid="annotation-notice">
          {state.notice}
        </p>
      )}
      {state.hidden && <p className="annotation-hidden-note">Annotations hidden on the image.</p>}
      <ul className="measurement-list" aria-label="Measurements" data-testid="measurement-list" data-pending-writes={String(state.pendingWrites)}>
        {state.items.map((m) => (
          <MeasurementRow key={m.id} m={m} selected={state.selectedId === m.id} store={store} />
        ))}
      </ul>
      <h3 className="annotation-heading" id="key-images-heading">
        Key images ({state.keyImages.length})
      </h3>
      <ul className="key-image-list" aria-labelledby="key-images-heading" data-testid="key-image-list">
        {state.keyImages.map((k, i) => (
          <li key={k.sopInstanceUID} data-testid="key-image" data-sop-instance-uid={k.sopInstanceUID}>
            Key image {i + 1} · …{k.sopInstanceUID.slice(-10)} · {k.author} · {new Date(k.createdAt).toLocaleString()}
          </li>
        ))}
      </ul>
      {state.textPrompt && <TextPromptDialog key={state.textPrompt.id} prompt={state.textPrompt} onAnswer={(t) => store.answerTextPrompt(t)} />}
    </aside>
  );
}

/** The app's own text question (arrow text, free text, reference size): a modal dialog with a labelled input. */
export function TextPromptDialog({ prompt, onAnswer }: { prompt: TextPrompt; onAnswer: (text: string | undefined) => void }): JSX.Element {
  const [value, setValue] = useState(prompt.initial);
  const inputRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    inputRef.current?.focus();
    inputRef.current?.select();
  }, []);
  const titleId = `annotation-dialog-title-${prompt.id}`;
  const inputId = `annotation-dialog-input-${prompt.id}`;
  const errorId = `annotation-dialog-error-${prompt.id}`;
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    onAnswer(value);
  };
  const onKeyDown = (e: ReactKeyboardEvent): void => {
    // The viewer's shortcuts must not see keys typed here.
    e.stopPropagation();
    if (e.key === 'Escape') {
      e.preventDefault();
      onAnswer(undefined);
    } else if (e.key === 'Tab') {
      // Modal: Tab cycles within the dialog.
      const focusable = [...e.currentTarget.querySelectorAll<HTMLElement>('input, button')];
      const i = focusable.indexOf(document.activeElement as HTMLElement);
      const next = e.shiftKey ? (i <= 0 ? focusable.length - 1 : i - 1) : (i + 1) % focusable.length;
      e.preventDefault();
      focusable[next]?.focus();
    }
  };
  return (
    <div className="annotation-dialog-backdrop">
      <div className="annotation-dialog" role="dialog" aria-modal="true" aria-labelledby={titleId} data-testid="annotation-text-dialog" onKeyDown={onKeyDown}>
        <form onSubmit={submit}>
          <h2 id={titleId}>{prompt.title}</h2>
          <label htmlFor={inputId}>{prompt.label}</label>
          <input
            id={inputId}
            ref={inputRef}
            data-testid="annotation-text-input"
            type="text"
            inputMode={prompt.numeric ? 'decimal' : 'text'}
            value={value}
            aria-invalid={prompt.error ? true : undefined}
            aria-describedby={prompt.error ? errorId : undefined}
            onChange={(e) => setValue(e.target.value)}
          />
          {prompt.error && (
            <p id={errorId} className="annotation-dialog-error" role="alert">
              {prompt.error}
            </p>
          )}
          <div className="annotation-dialog-buttons">
            <button type="button" className="btn" onClick={() => onAnswer(undefined)}>
              Cancel
            </button>
            <button type="submit" className="btn" data-testid="annotation-text-ok">
              OK
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}
