import { useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import type { MeasureToolName } from '../viewer/tools-setup';
import type { MeasurementItem, MeasurementStore } from './measurement-store';

const TOOLS: { tool: MeasureToolName | undefined; id: string; label: string }[] = [
  { tool: undefined, id: 'wl', label: 'Window/level' },
  { tool: 'Length', id: 'length', label: 'Length' },
  { tool: 'EllipticalRoi', id: 'ellipse', label: 'Ellipse ROI' },
  { tool: 'RectangleRoi', id: 'rectangle', label: 'Rectangle ROI' },
  { tool: 'Angle', id: 'angle', label: 'Angle' },
  { tool: 'Probe', id: 'probe', label: 'Probe' },
];

/** What the left mouse button does on the image: window/level (default) or draw a measurement. */
export function MeasureToolBar({ store }: { store: MeasurementStore }): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  return (
    <div className="measure-tools" role="toolbar" aria-label="Mouse tool">
      {TOOLS.map((t) => (
        <button
          key={t.id}
          type="button"
          className={`btn ${state.activeTool === t.tool ? 'is-active' : ''}`}
          aria-pressed={state.activeTool === t.tool}
          data-testid={`tool-${t.id}`}
          onClick={() => store.setActiveTool(t.tool)}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

const KIND_LABEL: Record<MeasurementItem['kind'], string> = {
  length: 'Length',
  ellipse: 'Ellipse',
  rectangle: 'Rectangle',
  angle: 'Angle',
  probe: 'Probe',
};

// Inline: a fixed-width column, so the viewport does not resize as measurements come and go.
const LIST_STYLE = { flex: '0 0 15rem', overflowY: 'auto', margin: 0, padding: '0.5rem', listStyle: 'none', fontSize: '0.85rem' } as const;

/** The measurements on the shown image, each with its figures and a delete button. */
export function MeasurementPanel({ store }: { store: MeasurementStore }): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  return (
    <ul className="measurement-list" aria-label="Measurements" data-testid="measurement-list" data-pending-writes={String(state.pendingWrites)} style={LIST_STYLE}>
      {state.items.map((m) => (
        <li
          key={m.id}
          data-testid="measurement"
          data-kind={m.kind}
          data-id={m.id}
          data-handles={JSON.stringify({ start: m.start, end: m.end })}
          {...(m.lengthMm !== undefined ? { 'data-length-mm': String(m.lengthMm) } : {})}
          {...(m.mean !== undefined ? { 'data-mean': String(m.mean) } : {})}
          {...(m.angleDeg !== undefined ? { 'data-angle-deg': String(m.angleDeg) } : {})}
          {...(m.value !== undefined ? { 'data-value': String(m.value) } : {})}
          {...(m.uncalibrated ? { 'data-uncalibrated': 'true' } : {})}
        >
          <span className="measurement-kind">{KIND_LABEL[m.kind]}</span>{' '}
          <span className="measurement-value">{m.text}</span>{' '}
          <button type="button" className="btn btn-small" data-testid="delete-measurement" aria-label={`Delete ${m.kind} measurement`} onClick={() => store.remove(m.id)}>
            Delete
          </button>
        </li>
      ))}
    </ul>
  );
}
