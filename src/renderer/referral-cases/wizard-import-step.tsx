import { useEffect, useRef } from 'react';
import type { JSX } from 'react';
import type { ReferralCaseRecord } from '../cache/telerad-db';
import type { ImportEntry } from '../case-import';
import type { CaseStudy, ReferralCases } from './referral-case-repo';

export interface WizardImportStepProps {
  cases: ReferralCases;
  caseId: string;
  record: ReferralCaseRecord;
  studies: readonly CaseStudy[];
  busy: string | undefined;
  run: (what: string, work: () => Promise<void>) => Promise<void>;
  setNotice: (notice: string | undefined) => void;
  setError: (error: string | undefined) => void;
  /** Opens a local study of the case in the viewer (from the cache only). */
  onView: (studyInstanceUID: string, record: ReferralCaseRecord) => void;
}

function entriesOf(files: FileList | null): ImportEntry[] {
  return [...(files ?? [])].map((f) => ({ path: f.webkitRelativePath || f.name, size: f.size, read: () => f.arrayBuffer() }));
}

/** A folder picker: React has no typed prop for `webkitdirectory`, so it is set on the element. */
function FolderInput({ onFiles, disabled }: { onFiles: (files: FileList | null) => void; disabled: boolean }): JSX.Element {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    ref.current?.setAttribute('webkitdirectory', '');
    ref.current?.setAttribute('directory', '');
  }, []);
  return (
    <input
      ref={ref}
      id="referral-folder"
      type="file"
      multiple
      disabled={disabled}
      data-testid="referral-import-folder"
      onChange={(e) => {
        onFiles(e.currentTarget.files);
        e.currentTarget.value = '';
      }}
    />
  );
}

/** What the import step lists: the studies, photos and PDFs, skipped files and viewer buttons. */
function ImportedContents({ record, studies, onView }: Pick<WizardImportStepProps, 'record' | 'studies' | 'onView'>): JSX.Element {
  const localStudies = studies.map((s) => s.studyInstanceUID);
  return (
    <>
      {studies.length > 0 && (
        <ul className="referral-studies" data-testid="referral-import-summary">
          {studies.map((st) => (
            <li key={st.studyInstanceUID}>
              {st.description || 'Study'} · {st.patientName || 'no name'} ·{' '}
              {st.series.map((s) => `${s.modality} ${s.description} (${s.count})`.replace(/\s+/g, ' ')).join(', ')}
            </li>
          ))}
        </ul>
      )}
      {(record.attachments?.length ?? 0) > 0 && (
        <ul data-testid="referral-attachments">
          {record.attachments!.map((a) => (
            <li key={a.sopInstanceUID}>
              {a.kind === 'pdf' ? 'PDF' : 'Photo'}: {a.title}
            </li>
          ))}
        </ul>
      )}
      {record.skipped.length > 0 && (
        <details open data-testid="referral-skipped">
          <summary>{record.skipped.length} file(s) skipped</summary>
          <ul>
            {record.skipped.map((s, k) => (
              <li key={`${s.path}-${k}`}>
                <code>{s.path}</code>: {s.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
      {record.sopInstanceUIDs.length > 0 && (
        <div className="referral-view">
          {localStudies.map((uid, k) => (
            <button key={uid} type="button" className="btn btn-small" data-testid="referral-view" onClick={() => onView(uid, record)}>
              View{localStudies.length > 1 ? ` study ${k + 1}` : ''} in the viewer
            </button>
          ))}
        </div>
      )}
    </>
  );
}

/** Step 1: DICOM folders, files or zips, and photos and PDFs, imported into the case. */
export function WizardImportStep(props: WizardImportStepProps): JSX.Element {
  const { cases, caseId, record, busy, run, setNotice, setError } = props;
  const draft = record.state === 'draft';
  const dicomCount = record.sopInstanceUIDs.length - (record.attachments?.length ?? 0);
  const importDicom = (files: FileList | null): void => {
    const entries = entriesOf(files);
    if (entries.length === 0) return;
    void run('Import', async () => {
      const s = await cases.importDicom(caseId, entries);
      // A DICOMDIR is named for what it is (the CD's index), so nobody reads it as a damaged image.
      const indexes = s.indexes.map((i) => ` ${i.path}: ${i.note}.`).join('');
      setNotice(`Imported ${s.instanceCount} instance(s)${s.skipped.length > 0 ? `; ${s.skipped.length} file(s) skipped (listed below)` : ''}.${indexes}`);
    });
  };
  const addAttachments = (files: FileList | null): void => {
    const list = [...(files ?? [])];
    if (list.length === 0) return;
    void run('Adding photos and PDFs', async () => {
      const read = await Promise.all(list.map(async (f) => ({ name: f.name, type: f.type, bytes: new Uint8Array(await f.arrayBuffer()) })));
      const r = await cases.addAttachments(caseId, read);
      if (r.skipped.length > 0) setError(`Not added: ${r.skipped.map((s) => `${s.path} (${s.reason})`).join('; ')}`);
    });
  };
  return (
    <section aria-labelledby="rw-import" className="referral-step" data-testid="referral-step-import">
      <h3 id="rw-import">1. Import</h3>
      <div className="referral-pickers">
        <label htmlFor="referral-folder">Folder, CD or USB (DICOMDIR found automatically)</label>
        <FolderInput onFiles={importDicom} disabled={!draft || !!busy} />
        <label htmlFor="referral-files">DICOM files or a zip</label>
        <input
          id="referral-files"
          type="file"
          multiple
          disabled={!draft || !!busy}
          data-testid="referral-import-files"
          onChange={(e) => {
            importDicom(e.currentTarget.files);
            e.currentTarget.value = '';
          }}
        />
        <label htmlFor="referral-attachments">Photos (JPEG, PNG) and PDFs</label>
        <input
          id="referral-attachments"
          type="file"
          multiple
          accept="image/jpeg,image/png,application/pdf"
          disabled={!draft || !!busy}
          data-testid="referral-import-attachments"
          onChange={(e) => {
            addAttachments(e.currentTarget.files);
            e.currentTarget.value = '';
          }}
        />
      </div>
      <p data-testid="referral-import-count">
        {dicomCount} image instance(s), {record.attachments?.length ?? 0} photo(s)/PDF(s) in the case
      </p>
      <ImportedContents record={record} studies={props.studies} onView={props.onView} />
    </section>
  );
}
