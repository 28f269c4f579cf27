import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { PdfRuntime } from '../lib/pdf/pdf-runtime';
import type { ThreadActions } from './thread-actions';
import type { CaseThreadStore, ThreadAttachment } from './thread-store';
import type { ComposeDrafts } from './compose-drafts';
import { ThreadEntryList } from './ThreadEntryList';
import { ThreadActionButtons, ThreadComposeForm } from './ThreadComposeForm';
import { ThreadPdfSheet, useThreadAttachments } from './ThreadAttachments';
import { useThreadCompose } from './use-thread-compose';
import './case-thread.css';

export { entryBadge } from './ThreadEntryList';

export interface CaseThreadPanelProps {
  store: CaseThreadStore;
  actions: ThreadActions;
  site: SiteSummary | undefined;
  siteId: string;
  studyInstanceUID: string;
  pdfRuntime: PdfRuntime;
  /** Bytes of an attached PDF (cache, else the site). */
  loadPdf: (site: SiteSummary | undefined, studyInstanceUID: string, attachment: ThreadAttachment) => Promise<Uint8Array>;
  /** Shows a series of the open study in the viewer (a photo; cached before this is called, maybe after the viewer opened). */
  onShowSeries: (seriesInstanceUID: string) => void;
  /** Keeps the composer's unsent text (survives a lock, a reload, a crash); absent in tests of the panel alone. */
  drafts?: ComposeDrafts;
  log: Logger;
}

/**
 * The conversation around the open case, one list in time order, the same
 * on both sides. Collapsed to a strip by default (its label says when a
 * question waits for the referrer) so the viewer keeps its width at
 * 1280×800; on a narrow window the open thread is a sheet over the lower
 * left of the viewer instead of squeezing it.
 */
export function CaseThreadPanel(props: CaseThreadPanelProps): JSX.Element {
  const { store, siteId, studyInstanceUID } = props;
  const state = useSyncExternalStore(store.subscribe, store.getState);
  const siteRef = useRef(props.site);
  siteRef.current = props.site;
  useEffect(() => store.open(siteRef.current, siteId, studyInstanceUID), [store, siteId, studyInstanceUID]);
  const [expanded, setExpanded] = useState(false);
  const [message, setMessage] = useState<string | undefined>(undefined);

  const mine = state.studyInstanceUID === studyInstanceUID;
  const entries = mine ? state.entries : [];
  const lastQuestion = [...entries].reverse().find((e) => e.kind === 'consult' && e.status === 'more-info-needed');
  const waitingForReferrer = mine && state.status === 'more information requested';

  const compose = useThreadCompose({ actions: props.actions, drafts: props.drafts, siteId, studyInstanceUID, entries, lastQuestion, setMessage, expand: () => setExpanded(true), log: props.log });
  const attachments = useThreadAttachments({ store, siteRef, studyInstanceUID, loadPdf: props.loadPdf, onShowSeries: props.onShowSeries, setMessage, log: props.log });

  if (!expanded) {
    return (
      <aside className="case-thread is-collapsed" data-testid="case-thread" data-status={mine ? state.status : ''} aria-label="Case thread">
        <button type="button" className="btn btn-small case-thread-toggle" data-testid="thread-toggle" onClick={() => setExpanded(true)} title="Show the case thread">
          Thread ({entries.length}){waitingForReferrer ? ' · more information requested' : ''}
        </button>
      </aside>
    );
  }

  return (
    <aside className="case-thread" data-testid="case-thread" data-status={mine ? state.status : ''} aria-label="Case thread">
      <div className="case-thread-head">
        <h2>Case thread</h2>
        <button type="button" className="btn btn-small" data-testid="thread-refresh" onClick={() => void store.refresh()} disabled={state.phase === 'loading'}>
          Refresh
        </button>
        <button type="button" className="btn btn-small" data-testid="thread-toggle" onClick={() => setExpanded(false)} title="Hide the case thread">
          Hide
        </button>
      </div>
      <p className="case-thread-status" data-testid="thread-status" data-status={state.status}>
        {state.status}
      </p>
      {state.siteError && (
        <p className="case-thread-offline" role="status" data-testid="thread-offline">
          Site not reachable ({state.siteError}): showing the cached thread.
        </p>
      )}
      {state.phase === 'loading' && entries.length === 0 && <p className="case-thread-empty">Loading…</p>}
      {state.phase === 'ready' && entries.length === 0 && <p className="case-thread-empty">No notes yet.</p>}
      <ThreadEntryList entries={entries} onOpenAttachment={attachments.openAttachment} />
      {compose.form ? <ThreadComposeForm form={compose.form} compose={compose} /> : <ThreadActionButtons start={compose.start} canAnswer={lastQuestion !== undefined} />}
      {message && (
        <p className="case-thread-error" role="alert" data-testid="thread-error">
          {message}
        </p>
      )}
      {attachments.pdf && <ThreadPdfSheet pdf={attachments.pdf} runtime={props.pdfRuntime} onClose={attachments.closePdf} />}
    </aside>
  );
}
