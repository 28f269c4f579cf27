import type { JSX } from 'react';
import type { ReferralCaseRecord, ReferralPriority } from '../cache/telerad-db';
import type { CaseFields } from './referral-case-repo';
import { LOCAL_SITE_ID } from './referral-case-repo';
import type { WizardSite } from './wizard-types';

export interface WizardReferralStepProps {
  record: ReferralCaseRecord;
  sites: readonly WizardSite[];
  save: (fields: Partial<CaseFields>) => void;
}

/** Step 3: the clinical question, history, urgency and where the case goes. */
export function WizardReferralStep({ record, sites, save }: WizardReferralStepProps): JSX.Element {
  const draft = record.state === 'draft';
  return (
    <section aria-labelledby="rw-referral" className="referral-step" data-testid="referral-step-referral">
      <h3 id="rw-referral">3. Referral</h3>
      <label>
        Clinical question (required)
        <textarea data-testid="rw-question" required disabled={!draft} value={record.clinicalQuestion} onChange={(e) => save({ clinicalQuestion: e.currentTarget.value })} />
      </label>
      <label>
        History
        <textarea data-testid="rw-history" disabled={!draft} value={record.history} onChange={(e) => save({ history: e.currentTarget.value })} />
      </label>
      <label>
        Urgency
        <select data-testid="rw-urgency" disabled={!draft} value={record.urgency} onChange={(e) => save({ urgency: e.currentTarget.value as ReferralPriority })}>
          <option value="STAT">STAT</option>
          <option value="urgent">urgent</option>
          <option value="routine">routine</option>
        </select>
      </label>
      <label>
        Requested specialty
        <input data-testid="rw-specialty" disabled={!draft} value={record.requestedSpecialty} onChange={(e) => save({ requestedSpecialty: e.currentTarget.value })} />
      </label>
      <label>
        Referring clinician
        <input data-testid="rw-clinician" disabled={!draft} value={record.referringClinician ?? ''} onChange={(e) => save({ referringClinician: e.currentTarget.value })} />
      </label>
      <label>
        Send to
        <select data-testid="rw-site" disabled={!draft} value={record.siteId ?? ''} onChange={(e) => save({ siteId: e.currentTarget.value })}>
          <option value="">— choose a site —</option>
          {sites
            .filter((s) => s.id !== LOCAL_SITE_ID)
            .map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
        </select>
      </label>
    </section>
  );
}
