// The viewer's quality panel: a "Quality" button with the worst level, and the
// findings of the open study with "Go to image" where a finding names one.
import { useCallback, useEffect, useState } from 'react';
import type { JSX } from 'react';
import type { Finding } from '../../shared/quality';
import type { Logger } from '../../shared/log';
import type { ViewerStore } from '../viewer';
import { goToInstance } from './go-to-image';
import { firstInstanceOf } from './study-quality';
import type { QualityResult, QualityService } from './study-quality';
import { errorMessage } from '../../shared/error-message';

export interface QualityPanelProps {
  quality: QualityService;
  viewer: ViewerStore;
  studyInstanceUID: string;
  /** Told every result, so the worklist's badge agrees with the panel. */
  onResult?: (studyInstanceUID: string, result: QualityResult) => void;
  log: Logger;
}

type PanelState = { kind: 'checking' } | { kind: 'done'; result: QualityResult } | { kind: 'failed'; message: string };

function evidenceText(f: Finding): string {
  const values = Object.entries(f.evidence.values ?? {})
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => `${k}: ${String(v)}`);
  const n = f.evidence.instances.length;
  return [...values, ...(n ? [`${n} image${n > 1 ? 's' : ''}`] : [])].join(' · ');
}

export function QualityPanel({ quality, viewer, studyInstanceUID, onResult, log }: QualityPanelProps): JSX.Element {
  const [open, setOpen] = useState(false);
  const [state, setState] = useState<PanelState>({ kind: 'checking' });
  // Checked once this study has arrived (a partly retrieved one would show slices "missing" that are on their way).
  const arrived = useCallback(
    () => viewer.getState().phase !== 'loading' && !viewer.getState().streaming && viewer.session.request()?.study.studyInstanceUID === studyInstanceUID,
    [viewer, studyInstanceUID],
  );
  const [ready, setReady] = useState(arrived);
  useEffect(() => {
    setReady(arrived());
    return viewer.subscribe(() => setReady(arrived()));
  }, [viewer, arrived]);

  useEffect(() => {
    let live = true;
    setState({ kind: 'checking' });
    if (!ready) return;
    quality.checkStudy(studyInstanceUID).then(
      (result) => {
        if (!live) return;
        setState({ kind: 'done', result });
        onResult?.(studyInstanceUID, result);
      },
      (err: unknown) => {
        log.warn(`Quality checks of study ${studyInstanceUID} failed`, err);
        if (live) setState({ kind: 'failed', message: errorMessage(err) });
      },
    );
    return () => {
      live = false;
    };
  }, [quality, studyInstanceUID, ready, onResult, log]);

  const level = state.kind === 'done' ? state.result.worst : undefined;
  const buttonText = state.kind === 'checking' ? 'Quality…' : state.kind === 'failed' ? 'Quality ?' : `Quality: ${level === 'ok' ? 'ok' : `${level} (${state.result.findings.length})`}`;

  return (
    <section className="quality-panel" aria-label="Image quality" data-testid="quality-panel" data-level={level ?? ''}>
      <button type="button" className="btn btn-small quality-toggle" data-testid="quality-button" data-level={level ?? ''} aria-expanded={open} onClick={() => setOpen((v) => !v)}>
        {buttonText}
      </button>
      {open && (
        <div className="quality-body">
          {state.kind === 'checking' && <p>{ready ? 'Checking the images in the local cache…' : 'Waiting for the study to arrive…'}</p>}
          {state.kind === 'failed' && <p role="alert">The quality checks could not run: {state.message}</p>}
          {state.kind === 'done' && state.result.findings.length === 0 && <p data-testid="quality-none">No quality findings on the cached images.</p>}
          {state.kind === 'done' && state.result.findings.length > 0 && (
            <ul className="quality-findings">
              {state.result.findings.map((f, i) => {
                const target = firstInstanceOf(f);
                const evidence = evidenceText(f);
                return (
                  <li key={`${f.checkId}-${f.seriesInstanceUID ?? ''}-${i}`} className="quality-finding" data-testid="quality-finding" data-check={f.checkId} data-severity={f.severity}>
                    <span className={`badge quality-severity`} data-level={f.severity}>
                      {f.severity}
                    </span>{' '}
                    <strong>{f.title}</strong>
                    <p className="quality-message">{f.message}</p>
                    {evidence && <p className="quality-evidence">{evidence}</p>}
                    {target && (
                      <button
                        type="button"
                        className="btn btn-small"
                        data-testid="quality-go-to-image"
                        data-instance-number={target.instanceNumber ?? ''}
                        title={target.instanceNumber !== undefined ? `Show image ${target.instanceNumber} of this series` : 'Show this image'}
                        onClick={() => {
                          if (!goToInstance(viewer, target.seriesInstanceUID, target.sopInstanceUID)) log.warn(`Go to image: ${target.sopInstanceUID} is not in the open study's stacks`);
                        }}
                      >
                        Go to image
                      </button>
                    )}
                  </li>
                );
              })}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
