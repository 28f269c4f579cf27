import { useState } from 'react';
import type { JSX } from 'react';
import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import { errorMessage } from '../../shared/error-message';
import type { PdfRuntime } from '../lib/pdf/pdf-runtime';
import { PdfViewer } from '../lib/pdf/PdfViewer';
import type { CaseThreadStore, ThreadAttachment } from './thread-store';

/** The attachment being shown as a PDF: opening, open (its bytes) or failed (why). */
export interface PdfSheetState {
  title: string;
  data?: Uint8Array;
  error?: string;
}

export interface ThreadAttachmentsDeps {
  store: Pick<CaseThreadStore, 'ensureCached'>;
  /** The study's site as of now (a ref: the site may change while a PDF loads). */
  siteRef: { readonly current: SiteSummary | undefined };
  studyInstanceUID: string;
  loadPdf: (site: SiteSummary | undefined, studyInstanceUID: string, attachment: ThreadAttachment) => Promise<Uint8Array>;
  onShowSeries: (seriesInstanceUID: string) => void;
  /** The panel's one error line: a photo that cannot be shown says why there. */
  setMessage: (message: string | undefined) => void;
  log: Logger;
}

export interface ThreadAttachmentsView {
  pdf: PdfSheetState | undefined;
  openAttachment: (a: ThreadAttachment) => void;
  closePdf: () => void;
}

/** Opening an attachment: a PDF in the panel's sheet, a photo in the viewer (cached first: it may be newer than the study's retrieval). */
export function useThreadAttachments(deps: ThreadAttachmentsDeps): ThreadAttachmentsView {
  const [pdf, setPdf] = useState<PdfSheetState | undefined>(undefined);
  const openAttachment = (a: ThreadAttachment): void => {
    if (a.kind === 'pdf') {
      setPdf({ title: 'Document' });
      deps
        .loadPdf(deps.siteRef.current, deps.studyInstanceUID, a)
        .then((data) => setPdf({ title: 'Document', data }))
        .catch((err: unknown) => setPdf({ title: 'Document', error: errorMessage(err) }));
    } else {
      deps.setMessage(undefined);
      deps.store
        .ensureCached(a)
        .then(() => deps.onShowSeries(a.seriesInstanceUID))
        .catch((err: unknown) => {
          const why = errorMessage(err);
          deps.log.warn(`Thread: photo ${a.sopInstanceUID} cannot be shown: ${why}`);
          deps.setMessage(why);
        });
    }
  };
  return { pdf, openAttachment, closePdf: () => setPdf(undefined) };
}

/** An entry's attachments, one button each, numbered in the order the note lists them. */
export function ThreadAttachmentButtons(props: { attachments: readonly ThreadAttachment[]; onOpen: (a: ThreadAttachment) => void }): JSX.Element {
  return (
    <ul className="thread-attachments">
      {props.attachments.map((a, i) => (
        <li key={a.sopInstanceUID}>
          <button type="button" className="btn btn-small" data-testid="thread-attachment" data-kind={a.kind} data-series-uid={a.seriesInstanceUID} onClick={() => props.onOpen(a)}>
            {a.kind === 'pdf' ? 'PDF' : 'Photo'} {i + 1}
          </button>
        </li>
      ))}
    </ul>
  );
}

/** The PDF sheet: the viewer once the bytes are here, else "Opening…" or why it failed. */
export function ThreadPdfSheet(props: { pdf: PdfSheetState; runtime: PdfRuntime; onClose: () => void }): JSX.Element {
  const { pdf } = props;
  return (
    <div className="case-thread-pdf">
      {pdf.data ? (
        <PdfViewer runtime={props.runtime} data={pdf.data} title={pdf.title} onClose={props.onClose} />
      ) : (
        <div className="pdf-status" role={pdf.error ? 'alert' : 'status'}>
          {pdf.error ?? 'Opening…'}
          <button type="button" className="btn btn-small" onClick={props.onClose}>
            Close
          </button>
        </div>
      )}
    </div>
  );
}
