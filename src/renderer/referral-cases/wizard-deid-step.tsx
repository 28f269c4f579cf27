import type { JSX } from 'react';
import type { ReferralCaseRecord } from '../cache/telerad-db';
import type { CaseFields, DeidentificationPreview, ReferralCases } from './referral-case-repo';

export interface WizardDeidStepProps {
  cases: ReferralCases;
  caseId: string;
  record: ReferralCaseRecord;
  busy: string | undefined;
  preview: DeidentificationPreview | undefined;
  setPreview: (preview: DeidentificationPreview | undefined) => void;
  save: (fields: Partial<CaseFields>) => void;
  run: (what: string, work: () => Promise<void>) => Promise<void>;
}

/** What a de-identified copy carries: the pseudonym and the cleaned descriptions. */
function PreviewResult({ preview }: { preview: DeidentificationPreview }): JSX.Element {
  return (
    <div data-testid="referral-deid-preview-result">
      <p>
        Patient sent as a pseudonym like {preview.pseudonym.name} / {preview.pseudonym.id}.
      </p>
      {preview.descriptors.length === 0 ? (
        <p>No descriptions are kept.</p>
      ) : (
        <ul>
          {preview.descriptors.map((d) => (
            <li key={`${d.name}|${d.before}`}>
              {d.name}: “{d.before}” → “{d.after}”
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Step 4: optional de-identification, and a preview of what is sent. */
export function WizardDeidStep({ cases, caseId, record, busy, preview, setPreview, save, run }: WizardDeidStepProps): JSX.Element {
  const draft = record.state === 'draft';
  return (
    <section aria-labelledby="rw-deid" className="referral-step" data-testid="referral-step-deid">
      <h3 id="rw-deid">4. De-identification (optional)</h3>
      <label>
        <input
          type="checkbox"
          data-testid="referral-deid"
          disabled={!draft}
          checked={record.deidentify.enabled}
          onChange={(e) => save({ deidentify: { ...record.deidentify, enabled: e.currentTarget.checked } })}
        />
        De-identify (DICOM Basic profile): names, IDs and identifying details removed; new UIDs. The link back to the patient stays on this workstation.
      </label>
      <label>
        <input
          type="checkbox"
          disabled={!draft || !record.deidentify.enabled}
          checked={record.deidentify.retainLongitudinalFullDates}
          onChange={(e) => save({ deidentify: { ...record.deidentify, retainLongitudinalFullDates: e.currentTarget.checked } })}
        />
        Keep full dates and times (Retain Longitudinal Temporal Information): the specialist sees when each image was taken.
      </label>
      <label>
        <input
          type="checkbox"
          disabled={!draft || !record.deidentify.enabled}
          checked={record.deidentify.cleanDescriptors}
          onChange={(e) => save({ deidentify: { ...record.deidentify, cleanDescriptors: e.currentTarget.checked } })}
        />
        Keep descriptions, cleaned of names and IDs (Clean Descriptors), rather than removing them.
      </label>
      {record.deidentify.enabled && (
        <>
          <p>The clinical question and history are sent as typed: do not write the patient&apos;s name in them.</p>
          <button
            type="button"
            className="btn btn-small"
            data-testid="referral-deid-preview"
            disabled={!!busy || record.sopInstanceUIDs.length === 0}
            onClick={() => void run('Previewing the de-identification', async () => setPreview(await cases.previewDeidentification(caseId)))}
          >
            Show what is sent
          </button>
          {preview && <PreviewResult preview={preview} />}
        </>
      )}
    </section>
  );
}
