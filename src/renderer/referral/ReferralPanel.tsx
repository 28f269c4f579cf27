import { useEffect, useRef, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import type { SiteSummary } from '../../shared/ipc/contract';
import type { ReferralAttachment, ReferralPriority } from '../cache/telerad-db';
import type { PdfRuntime } from '../lib/pdf/pdf-runtime';
import { PdfViewer } from '../lib/pdf/PdfViewer';
import type { ReferralPanelStore } from './referral-panel-store';
import './referral.css';

export interface ReferralPanelProps {
  store: ReferralPanelStore;
  site: SiteSummary | undefined;
  studyInstanceUID: string;
  pdfRuntime: PdfRuntime;
  /** Shows a series of the open study in the viewer (a photo attachment). */
  onShowSeries: (seriesInstanceUID: string) => void;
}

const PRIORITY_LABEL: Record<ReferralPriority, string> = { STAT: 'STAT', urgent: 'Urgent', routine: 'Routine' };

function Field({ label, testId, value }: { label: string; testId: string; value: string | undefined }): JSX.Element {
  return (
    <div className="referral-field">
      <dt>{label}</dt>
      <dd data-testid={testId} className={value ? undefined : 'is-empty'}>
        {value ?? 'not given'}
      </dd>
    </div>
  );
}

/**
 * The referral packet of the open study, beside the viewer: what the
 * referring clinician asks and why, how urgent, and the attached documents
 * and photos. Renders nothing for a study without a referral.
 */
export function ReferralPanel({ store, site, studyInstanceUID, pdfRuntime, onShowSeries }: ReferralPanelProps): JSX.Element | null {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  // The site is read through a ref: a parent re-render with an equal site must not re-read the referral.
  const siteRef = useRef(site);
  siteRef.current = site;
  useEffect(() => store.open(siteRef.current, studyInstanceUID), [store, studyInstanceUID]);

  const { record, pdf } = state;
  if (state.phase !== 'ready' || !record || state.studyInstanceUID !== studyInstanceUID) return null;

  const onAttachment = (a: ReferralAttachment): void => {
    if (a.kind === 'pdf') store.openPdf(a);
    else {
      store.closePdf();
      onShowSeries(a.seriesInstanceUID);
    }
  };

  return (
    <aside className="referral-panel" data-testid="referral-panel" aria-label="Referral">
      <h2>Referral</h2>
      {record.noteSopInstanceUID ? (
        <dl className="referral-fields">
          <div className="referral-field">
            <dt>Priority</dt>
            <dd>
              <span
                className="referral-priority"
                data-testid="referral-priority"
                data-priority={record.priority ?? ''}
              >
                {record.priority ? PRIORITY_LABEL[record.priority] : 'not given'}
              </span>
            </dd>
          </div>
          <Field label="Clinical question" testId="referral-question" value={record.clinicalQuestion} />
          <Field label="History" testId="referral-history" value={record.history} />
          <Field label="Referring clinician" testId="referral-clinician" value={record.referringClinician} />
          <Field label="Requested specialty" testId="referral-specialty" value={record.requestedSpecialty} />
        </dl>
      ) : (
        <p className="referral-none">No referral note in this study; attachments only.</p>
      )}
      {record.hasReport && <p className="referral-reported">This study already has a report at its site.</p>}
      {record.attachments.length > 0 && (
        <>
          <h3>Attachments</h3>
          <ul className="referral-attachments">
            {record.attachments.map((a) => (
              <li key={a.sopInstanceUID}>
                <button
                  type="button"
                  className={`referral-attachment ${pdf?.attachment.sopInstanceUID === a.sopInstanceUID ? 'is-open' : ''}`}
                  data-testid="referral-attachment"
                  data-kind={a.kind}
                  data-sop-instance-uid={a.sopInstanceUID}
                  onClick={() => onAttachment(a)}
                >
                  <span className="kind">{a.kind === 'pdf' ? 'PDF' : 'Photo'}</span> {a.title}
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
      {pdf && (
        <div className="pdf-overlay">
          {pdf.phase === 'ready' && pdf.data ? (
            <PdfViewer runtime={pdfRuntime} data={pdf.data} title={pdf.attachment.title} onClose={() => store.closePdf()} />
          ) : (
            <div className={`pdf-status ${pdf.phase === 'error' ? 'is-error' : ''}`} role={pdf.phase === 'error' ? 'alert' : 'status'} data-testid="pdf-status">
              {pdf.phase === 'error' ? pdf.message : `Opening ${pdf.attachment.title}…`}
              <button type="button" className="btn btn-small" onClick={() => store.closePdf()}>
                Close
              </button>
            </div>
          )}
        </div>
      )}
    </aside>
  );
}
