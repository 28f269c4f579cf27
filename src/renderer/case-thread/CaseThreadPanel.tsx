import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { ThreadEntryKind } from './thread-model';
import type { PdfRuntime } from '../lib/pdf/pdf-runtime';
import { PdfViewer } from '../lib/pdf/PdfViewer';
import type { ThreadActions, NewAttachmentFile } from './thread-actions';
import type { CaseThreadStore, ThreadAttachment, ThreadItem } from './thread-store';
import type { ComposeDrafts } from './compose-drafts';
import './case-thread.css';
import { errorMessage } from '../../shared/error-message';

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

const KIND_LABEL: Record<ThreadEntryKind, string> = { referral: 'Referral', consult: 'Consult', answer: 'Answer', report: 'Report', outcome: 'Outcome' };

/** The badge of an entry: what it did to the case. */
export function entryBadge(e: Pick<ThreadItem, 'kind' | 'status'>): string {
  switch (e.kind) {
    case 'referral':
      return 'referral';
    case 'consult':
      return e.status === 'more-info-needed' ? 'more information requested' : 'final opinion';
    case 'answer':
      return 'answered';
    case 'report':
      return 'final report';
    case 'outcome':
      return 'outcome';
  }
}

const DELIVERY_LABEL = { queued: 'waiting to send', sending: 'sending…', failed: 'not sent yet', sent: 'sent' } as const;

function when(at: number | undefined): string {
  return at === undefined ? '' : new Date(at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

type Form = 'ask' | 'answer' | 'outcome' | undefined;

/**
 * The conversation around the open case, one list in time order, the same
 * on both sides. Collapsed to a strip by default (its label says when a
 * question waits for the referrer) so the viewer keeps its width at
 * 1280×800; on a narrow window the open thread is a sheet over the lower
 * left of the viewer instead of squeezing it.
 */
export function CaseThreadPanel(props: CaseThreadPanelProps): JSX.Element {
  const { store, actions, siteId, studyInstanceUID } = props;
  const state = useSyncExternalStore(store.subscribe, store.getState);
  const siteRef = useRef(props.site);
  siteRef.current = props.site;
  useEffect(() => store.open(siteRef.current, siteId, studyInstanceUID), [store, siteId, studyInstanceUID]);
  const [expanded, setExpanded] = useState(false);
  const [form, setForm] = useState<Form>(undefined);
  const [text, setText] = useState('');
  const [files, setFiles] = useState<File[]>([]);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | undefined>(undefined);
  const [pdf, setPdf] = useState<{ title: string; data?: Uint8Array; error?: string } | undefined>(undefined);

  const mine = state.studyInstanceUID === studyInstanceUID;
  const entries = mine ? state.entries : [];
  const lastQuestion = [...entries].reverse().find((e) => e.kind === 'consult' && e.status === 'more-info-needed');
  const waitingForReferrer = mine && state.status === 'more information requested';

  const { drafts } = props;
  // Text written here and not yet sent comes back with the case (after a lock, a reload or a crash).
  const [restored, setRestored] = useState(false);
  useEffect(() => {
    let live = true;
    setRestored(false);
    void drafts?.load(studyInstanceUID).then(
      (d) => {
        if (!live || !d) return;
        setForm(d.form);
        setText(d.text);
        setRestored(true);
        setExpanded(true);
      },
      (err: unknown) => props.log.warn('Reading the unsent thread text failed', err),
    );
    return () => {
      live = false;
    };
    // Once per case: the logger does not change what is read.
  }, [drafts, studyInstanceUID]);
  const type = (value: string): void => {
    setText(value);
    if (form) drafts?.save(studyInstanceUID, form, value);
  };
  const close = (): void => {
    setForm(undefined);
    setRestored(false);
    void drafts?.discard(studyInstanceUID);
  };

  const start = (f: Form): void => {
    setForm(f);
    setText('');
    setFiles([]);
    setMessage(undefined);
    setRestored(false);
  };

  const submit = async (): Promise<void> => {
    const c = { siteId, studyInstanceUID };
    setBusy(true);
    setMessage(undefined);
    try {
      if (form === 'ask') await actions.askForMoreInformation(c, text, entries[entries.length - 1]?.reference);
      else if (form === 'answer') {
        const read: NewAttachmentFile[] = await Promise.all(files.map(async (f) => ({ name: f.name, type: f.type, bytes: new Uint8Array(await f.arrayBuffer()) })));
        await actions.answer(c, text, read, lastQuestion?.reference);
      } else if (form === 'outcome') await actions.postOutcome(c, text, entries[entries.length - 1]?.reference);
      close();
    } catch (err) {
      const why = errorMessage(err);
      props.log.warn(`Thread action ${form ?? ''} refused: ${why}`);
      setMessage(why);
    } finally {
      setBusy(false);
    }
  };

  const openAttachment = (a: ThreadAttachment): void => {
    if (a.kind === 'pdf') {
      setPdf({ title: 'Document' });
      props
        .loadPdf(siteRef.current, studyInstanceUID, a)
        .then((data) => setPdf({ title: 'Document', data }))
        .catch((err: unknown) => setPdf({ title: 'Document', error: errorMessage(err) }));
    } else {
      setMessage(undefined);
      store
        .ensureCached(a)
        .then(() => props.onShowSeries(a.seriesInstanceUID))
        .catch((err: unknown) => {
          const why = errorMessage(err);
          props.log.warn(`Thread: photo ${a.sopInstanceUID} cannot be shown: ${why}`);
          setMessage(why);
        });
    }
  };

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
      <ol className="case-thread-entries">
        {entries.map((e) => (
          <li key={e.id} className="thread-entry" data-testid="thread-entry" data-kind={e.kind} data-side={e.side} data-sop-instance-uid={e.id}>
            <div className="thread-entry-head">
              <span className="thread-entry-side">{e.side === 'referrer' ? 'Referrer' : 'Specialist'}</span>
              <span className="thread-entry-kind">{KIND_LABEL[e.kind]}</span>
              <span className={`thread-badge kind-${e.kind}`} data-testid="thread-badge">
                {entryBadge(e)}
              </span>
            </div>
            <div className="thread-entry-meta">
              {e.author && <span data-testid="thread-author">{e.author}</span>} <time>{when(e.at)}</time>
              {e.delivery && e.delivery !== 'sent' && (
                <span className="thread-delivery" data-testid="thread-delivery" data-state={e.delivery}>
                  {DELIVERY_LABEL[e.delivery]}
                </span>
              )}
            </div>
            {e.summary && (
              <p className="thread-entry-text" data-testid="thread-text">
                {e.summary}
              </p>
            )}
            {e.attachments.length > 0 && (
              <ul className="thread-attachments">
                {e.attachments.map((a, i) => (
                  <li key={a.sopInstanceUID}>
                    <button type="button" className="btn btn-small" data-testid="thread-attachment" data-kind={a.kind} data-series-uid={a.seriesInstanceUID} onClick={() => openAttachment(a)}>
                      {a.kind === 'pdf' ? 'PDF' : 'Photo'} {i + 1}
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ol>
      {form ? (
        <form
          className="case-thread-form"
          data-testid="thread-form"
          onSubmit={(ev) => {
            ev.preventDefault();
            void submit();
          }}
        >
          <label>
            {form === 'ask' ? 'Your question to the referrer' : form === 'answer' ? 'Your answer' : 'What happened to the patient'}
            <textarea data-testid="thread-text-input" rows={4} spellCheck value={text} onChange={(ev) => type(ev.target.value)} />
          </label>
          {restored && (
            <p className="case-thread-restored" role="status" data-testid="thread-restored">
              Your unsent text was kept{form === 'answer' ? ' (attach the files again)' : ''}.
            </p>
          )}
          {form === 'answer' && (
            <label>
              Photos and PDFs
              <input
                type="file"
                data-testid="thread-files"
                multiple
                accept="image/jpeg,image/png,application/pdf"
                onChange={(ev) => setFiles(ev.target.files ? [...ev.target.files] : [])}
              />
            </label>
          )}
          <div className="case-thread-form-buttons">
            <button type="submit" className="btn btn-primary btn-small" data-testid="thread-submit" disabled={busy}>
              {form === 'ask' ? 'Send question' : form === 'answer' ? 'Send answer' : 'Post outcome'}
            </button>
            <button type="button" className="btn btn-small" onClick={close} disabled={busy}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <div className="case-thread-actions">
          <span className="case-thread-actions-side">Specialist</span>
          <button type="button" className="btn btn-small" data-testid="thread-ask" onClick={() => start('ask')}>
            Ask for more information
          </button>
          <span className="case-thread-actions-side">Referrer</span>
          <button type="button" className="btn btn-small" data-testid="thread-answer" onClick={() => start('answer')} disabled={!lastQuestion}>
            Answer
          </button>
          <button type="button" className="btn btn-small" data-testid="thread-outcome" onClick={() => start('outcome')}>
            Post outcome
          </button>
        </div>
      )}
      {message && (
        <p className="case-thread-error" role="alert" data-testid="thread-error">
          {message}
        </p>
      )}
      {pdf && (
        <div className="case-thread-pdf">
          {pdf.data ? (
            <PdfViewer runtime={props.pdfRuntime} data={pdf.data} title={pdf.title} onClose={() => setPdf(undefined)} />
          ) : (
            <div className="pdf-status" role={pdf.error ? 'alert' : 'status'}>
              {pdf.error ?? 'Opening…'}
              <button type="button" className="btn btn-small" onClick={() => setPdf(undefined)}>
                Close
              </button>
            </div>
          )}
        </div>
      )}
    </aside>
  );
}
