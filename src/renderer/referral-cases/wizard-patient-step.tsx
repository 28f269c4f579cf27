import type { Dispatch, JSX, SetStateAction } from 'react';
import type { ReferralCaseRecord } from '../cache/telerad-db';
import type { IdentityGroup } from '../case-import';
import type { CaseFields, ReferralCases } from './referral-case-repo';

export interface WizardPatientStepProps {
  cases: ReferralCases;
  caseId: string;
  record: ReferralCaseRecord;
  setRecord: Dispatch<SetStateAction<ReferralCaseRecord | undefined>>;
  identities: readonly IdentityGroup[];
  save: (fields: Partial<CaseFields>) => void;
  run: (what: string, work: () => Promise<void>) => Promise<void>;
  setNotice: (notice: string | undefined) => void;
}

/** The patient typed in, when no images name one (no images, or photos and PDFs only). */
function PatientForm({ record, save }: Pick<WizardPatientStepProps, 'record' | 'save'>): JSX.Element {
  const draft = record.state === 'draft';
  return (
    <div className="referral-patient-form">
      <p>No images name the patient: type them in.</p>
      <label>
        Name (FAMILY^Given)
        <input data-testid="referral-patient-name" disabled={!draft} value={record.patient.name} onChange={(e) => save({ patient: { ...record.patient, name: e.currentTarget.value } })} />
      </label>
      <label>
        Patient ID
        <input data-testid="referral-patient-id" disabled={!draft} value={record.patient.id} onChange={(e) => save({ patient: { ...record.patient, id: e.currentTarget.value } })} />
      </label>
      <label>
        Birth date (YYYYMMDD)
        <input
          data-testid="referral-patient-birthdate"
          disabled={!draft}
          pattern="\d{8}"
          value={record.patient.birthDate ?? ''}
          onChange={(e) => save({ patient: { ...record.patient, birthDate: e.currentTarget.value } })}
        />
      </label>
      <label>
        Sex
        <select data-testid="referral-patient-sex" disabled={!draft} value={record.patient.sex ?? ''} onChange={(e) => save({ patient: { ...record.patient, sex: e.currentTarget.value } })}>
          <option value="">—</option>
          <option value="F">F</option>
          <option value="M">M</option>
          <option value="O">O</option>
        </select>
      </label>
    </div>
  );
}

/** The patients the images name, when more than one: choose one, or split the case. */
function IdentityChoice({ cases, caseId, record, setRecord, identities, run, setNotice }: Omit<WizardPatientStepProps, 'save'>): JSX.Element {
  const draft = record.state === 'draft';
  return (
    <fieldset disabled={!draft}>
      <legend>Patients in the images</legend>
      {identities.map((g) => {
        const chosen = record.identityResolution === 'chosen' && g.identity.id === record.patient.id && g.identity.name === record.patient.name;
        return (
          <label key={`${g.identity.name}|${g.identity.id}|${g.identity.birthDate}`} className="referral-identity">
            <input type="radio" name="identity" checked={chosen} onChange={() => {
                // Shown chosen at once; the stored case follows.
                setRecord((prev) => (prev ? { ...prev, patient: { name: g.identity.name, id: g.identity.id }, identityResolution: 'chosen' } : prev));
                void run('Choosing the patient', () => cases.chooseIdentity(caseId, g.identity).then(() => undefined));
              }}
            />
            {g.identity.name || '(no name)'} · ID {g.identity.id || '—'} · born {g.identity.birthDate || '—'} · {g.instanceCount} instance(s)
          </label>
        );
      })}
      <button
        type="button"
        className="btn btn-small"
        data-testid="referral-split"
        onClick={() =>
          void run('Splitting the case', async () => {
            const split = await cases.splitByIdentity(caseId);
            setNotice(`Split into ${split.length} cases, one per patient: this one is ${split[0]?.patient.name || 'the first'}; the others are drafts in “My referrals”.`);
          })
        }
      >
        Split: one case per patient
      </button>
    </fieldset>
  );
}

/** Step 2: the patient the case is about. */
export function WizardPatientStep(props: WizardPatientStepProps): JSX.Element {
  const { record, identities } = props;
  const draft = record.state === 'draft';
  const dicomCount = record.sopInstanceUIDs.length - (record.attachments?.length ?? 0);
  const photoOnly = record.sopInstanceUIDs.length > 0 && dicomCount === 0;
  const conflict = identities.length > 1;
  return (
    <section aria-labelledby="rw-identity" className="referral-step" data-testid="referral-step-identity">
      <h3 id="rw-identity">2. Patient</h3>
      {conflict && draft && (
        <div role="alert" data-testid="referral-identity-conflict">
          The images name {identities.length} different patients. Choose the patient this case is about (the sent copies carry that identity; the files here stay
          as they are), or split it into one case per patient.
        </div>
      )}
      {conflict && <IdentityChoice {...props} />}
      {photoOnly || record.sopInstanceUIDs.length === 0 ? (
        <PatientForm record={record} save={props.save} />
      ) : (
        !conflict && (
          <p data-testid="referral-patient">
            {record.patient.name || '(no name)'} · ID {record.patient.id || '—'} · born {record.patient.birthDate || '—'} {record.patient.sex ?? ''}
          </p>
        )
      )}
    </section>
  );
}
