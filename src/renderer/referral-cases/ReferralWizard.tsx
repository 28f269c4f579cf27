import { useState } from 'react';
import type { JSX } from 'react';
import type { ReferralCaseRecord } from '../cache/telerad-db';
import type { Logger } from '../../shared/log';
import type { ReferralCases } from './referral-case-repo';
import type { SendEstimate } from './referral-case-wiring';
import './referral-cases.css';
import { useWizardCase } from './wizard-case-state';
import { useCompressedEstimate, useWizardQuality } from './wizard-checks';
import { WizardDeidStep } from './wizard-deid-step';
import { WizardImportStep } from './wizard-import-step';
import { WizardPatientStep } from './wizard-patient-step';
import { WizardReferralStep } from './wizard-referral-step';
import { WizardSendStep } from './wizard-send-step';
import type { WizardSite } from './wizard-types';

export type { WizardSite } from './wizard-types';

export interface ReferralWizardProps {
  cases: ReferralCases;
  caseId: string;
  sites: readonly WizardSite[];
  estimate: (bytes: number, instances: number, compress: boolean) => SendEstimate;
  /** JPEG-LS lossless transcoding is available (case-send). */
  canCompress: boolean;
  compressedBytes: (record: ReferralCaseRecord) => Promise<number>;
  /** Opens a local study of the case in the viewer (from the cache only). */
  onView: (studyInstanceUID: string, record: ReferralCaseRecord) => void;
  onSent: (record: ReferralCaseRecord) => void;
  onClose: () => void;
  log: Logger;
}

/**
 * The new-referral wizard: import, identity, referral, de-identification,
 * review & send — five labelled regions on one page, saved as a draft on
 * every change so a reload loses nothing typed.
 */
export function ReferralWizard(props: ReferralWizardProps): JSX.Element {
  const { cases, caseId, sites, log } = props;
  const wizard = useWizardCase(cases, caseId, log);
  const { record, size, busy, error, notice, run } = wizard;
  const [confirmDiscard, setConfirmDiscard] = useState(false);
  const quality = useWizardQuality(cases, caseId, record, log);
  const compressOn = !!record?.compress && props.canCompress;
  const compressed = useCompressedEstimate(compressOn, record, size.bytes, props.compressedBytes, log);

  if (!record) return <section className="referral-wizard" aria-label="New referral" data-testid="referral-wizard" aria-busy="true">{error ? <p role="alert">{error}</p> : 'Opening the case…'}</section>;

  const draft = record.state === 'draft';
  const wireBytes = compressOn && compressed?.forBytes === size.bytes ? compressed.bytes : size.bytes;
  const estimate = props.estimate(wireBytes, size.instances, compressOn);
  const send = (options?: { sendAnyway: { reason: string } }): void =>
    void run('Sending', async () => {
      const sent = await cases.send(caseId, options);
      props.onSent(sent);
    });

  return (
    <section className="referral-wizard" aria-label="New referral" data-testid="referral-wizard" data-case-id={record.id} data-state={record.state}>
      <header className="referral-wizard-head">
        <h2>Referral{record.patient.name ? ` — ${record.patient.name}` : ''}</h2>
        {draft && (
          <button
            type="button"
            className="btn btn-small"
            data-testid="referral-discard"
            disabled={!!busy}
            title="The imported files stay in the local cache"
            onClick={() => {
              // Two clicks: the first asks, the second discards.
              if (!confirmDiscard) {
                setConfirmDiscard(true);
                return;
              }
              void run('Discarding the draft', async () => {
                await cases.discardDraft(caseId);
                props.onClose();
              });
            }}
          >
            {confirmDiscard ? 'Really discard?' : 'Discard draft'}
          </button>
        )}
        <button type="button" className="btn btn-small" onClick={props.onClose}>
          Close
        </button>
      </header>
      {error && (
        <p role="alert" className="referral-error" data-testid="referral-error">
          {error}
        </p>
      )}
      {notice && !busy && (
        <p role="status" data-testid="referral-notice">
          {notice}
        </p>
      )}
      {busy && (
        <p role="status" data-testid="referral-busy">
          {busy}…
        </p>
      )}

      <WizardImportStep
        cases={cases}
        caseId={caseId}
        record={record}
        studies={wizard.studies}
        busy={busy}
        run={run}
        setNotice={wizard.setNotice}
        setError={wizard.setError}
        onView={props.onView}
      />
      <WizardPatientStep
        cases={cases}
        caseId={caseId}
        record={record}
        setRecord={wizard.setRecord}
        identities={wizard.identities}
        save={wizard.save}
        run={run}
        setNotice={wizard.setNotice}
      />
      <WizardReferralStep record={record} sites={sites} save={wizard.save} />
      <WizardDeidStep cases={cases} caseId={caseId} record={record} busy={busy} preview={wizard.preview} setPreview={wizard.setPreview} save={wizard.save} run={run} />
      <WizardSendStep
        record={record}
        sites={sites}
        size={size}
        estimate={estimate}
        canCompress={props.canCompress}
        problems={wizard.problems}
        quality={quality}
        busy={busy}
        save={wizard.save}
        setError={wizard.setError}
        send={send}
      />
    </section>
  );
}
