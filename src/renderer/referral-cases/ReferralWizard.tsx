import { useCallback, useEffect, useRef, useState } from 'react';
import type { JSX } from 'react';
import type { ReferralCaseRecord, ReferralPriority } from '../cache/telerad-db';
import type { IdentityGroup } from '../case-import/import-files';
import type { ImportEntry } from '../case-import/import-types';
import type { Logger } from '../../shared/log';
import type { Finding } from '../../shared/quality';
import type { CaseFields, CaseStudy, DeidentificationPreview, ReferralCases } from './referral-case-repo';
import { LOCAL_SITE_ID, MIN_OVERRIDE_REASON_LENGTH } from './referral-case-repo';
import type { SendEstimate } from './referral-case-wiring';
import './referral-cases.css';
import { errorMessage } from '../../shared/error-message';
import { formatBytes } from '../lib/format-bytes';

export interface WizardSite {
  id: string;
  name: string;
}

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

function formatDuration(s: number): string {
  if (s < 60) return `${Math.max(1, Math.round(s))} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function entriesOf(files: FileList | null): ImportEntry[] {
  return [...(files ?? [])].map((f) => ({ path: f.webkitRelativePath || f.name, size: f.size, read: () => f.arrayBuffer() }));
}

const SEVERITY_ORDER: Record<Finding['severity'], number> = { blocker: 0, warning: 1, info: 2 };

/** The review step's quality findings (issue 8), worst first. */
function QualityFindings({ findings }: { findings: readonly Finding[] }): JSX.Element {
  if (findings.length === 0) return <p data-testid="referral-quality-ok">Quality checks: nothing found.</p>;
  const sorted = [...findings].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
  return (
    <ul className="referral-quality" data-testid="referral-quality-findings" aria-label="Quality findings">
      {sorted.map((f, k) => (
        <li key={`${f.checkId}|${f.seriesInstanceUID ?? ''}|${k}`} data-severity={f.severity} data-check={f.checkId}>
          <strong>{f.severity}</strong> · {f.title}: {f.message}
        </li>
      ))}
    </ul>
  );
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

/**
 * The new-referral wizard: import, identity, referral, de-identification,
 * review & send — five labelled regions on one page, saved as a draft on
 * every change so a reload loses nothing typed.
 */
export function ReferralWizard(props: ReferralWizardProps): JSX.Element {
  const { cases, caseId, sites, log } = props;
  const [record, setRecord] = useState<ReferralCaseRecord | undefined>(undefined);
  const [studies, setStudies] = useState<CaseStudy[]>([]);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [preview, setPreview] = useState<DeidentificationPreview | undefined>(undefined);
  const [confirmDiscard, setConfirmDiscard] = useState(false);
  const [compressed, setCompressed] = useState<{ forBytes: number; bytes: number } | undefined>(undefined);
  const [identities, setIdentities] = useState<IdentityGroup[]>([]);
  const [problems, setProblems] = useState<string[]>([]);
  const [size, setSize] = useState<{ instances: number; bytes: number }>({ instances: 0, bytes: 0 });
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [quality, setQuality] = useState<{ key: string; findings: Finding[] | undefined; failed?: string } | undefined>(undefined);
  const [sendAnyway, setSendAnyway] = useState(false);
  const [reason, setReason] = useState('');
  const qualityRevision = useRef(0);
  // Saves run one after another: each reads the stored case, so two in flight could undo each other.
  const saving = useRef<Promise<unknown>>(Promise.resolve());
  const revision = useRef(0);
  /** The revision of the reload reading the case now, if one is. */
  const reloading = useRef<number | undefined>(undefined);

  const reload = useCallback(async (): Promise<void> => {
    const mine = ++revision.current;
    reloading.current = mine;
    const r = await cases.get(caseId);
    if (!r || mine !== revision.current) return;
    const [ids, probs, sz, sts] = await Promise.all([
      r.state === 'draft' ? cases.identities(caseId) : Promise.resolve([]),
      cases.problems(caseId),
      cases.sizeOf(caseId),
      cases.studies(caseId),
    ]);
    if (mine !== revision.current) return;
    setRecord(r);
    setStudies(sts);
    setIdentities(ids);
    setProblems(r.state === 'draft' ? probs : []);
    setSize(sz);
    if (reloading.current === mine) reloading.current = undefined;
  }, [cases, caseId]);

  useEffect(() => {
    void reload().catch((err: unknown) => setError(`Could not open the case: ${errorMessage(err)}`));
  }, [reload]);

  // After a save only the checks are read again: the fields on screen are what was typed, not an older stored copy.
  const refreshChecks = useCallback(async (): Promise<void> => {
    const [probs, sz] = await Promise.all([cases.problems(caseId), cases.sizeOf(caseId)]);
    setProblems(probs);
    setSize(sz);
  }, [cases, caseId]);

  const save = (fields: Partial<CaseFields>): void => {
    if (!record) return;
    setRecord((prev) => (prev ? { ...prev, ...fields } : prev));
    if (fields.deidentify) setPreview(undefined);
    // A reload already reading the case (after "Show what is sent", an import) would put back the
    // record from before this change — the box just ticked unticked again on screen. It is dropped,
    // and the case read again once this change is saved.
    const rereadAfter = reloading.current !== undefined;
    if (rereadAfter) {
      revision.current++;
      reloading.current = undefined;
    }
    saving.current = saving.current
      .then(() => cases.saveFields(caseId, fields))
      .then(() => (rereadAfter ? reload() : refreshChecks()))
      .catch((err: unknown) => {
        log.warn(`Saving referral draft ${caseId} failed`, err);
        setError(`The draft could not be saved: ${errorMessage(err)}`);
      });
  };

  const run = async (what: string, work: () => Promise<void>): Promise<void> => {
    setBusy(what);
    setError(undefined);
    try {
      await saving.current;
      await work();
      await reload();
    } catch (err) {
      log.warn(`${what} failed`, err);
      setError(`${what} failed: ${errorMessage(err)}`);
    } finally {
      setBusy(undefined);
    }
  };

  const importDicom = (files: FileList | null): void => {
    const entries = entriesOf(files);
    if (entries.length === 0) return;
    void run('Import', async () => {
      const s = await cases.importDicom(caseId, entries);
      setNotice(`Imported ${s.instanceCount} instance(s)${s.skipped.length > 0 ? `; ${s.skipped.length} file(s) skipped (listed below)` : ''}.`);
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

  // The findings follow what is sent: the images, de-identification and the chosen patient.
  const qualityKey = record && record.state === 'draft' ? `${record.sopInstanceUIDs.join(',')}|${record.deidentify.enabled}|${record.identityResolution ?? ''}|${record.patient.id}|${record.patient.name}` : undefined;
  useEffect(() => {
    if (qualityKey === undefined) return;
    const mine = ++qualityRevision.current;
    cases.quality(caseId).then(
      (findings) => mine === qualityRevision.current && setQuality({ key: qualityKey, findings }),
      (err: unknown) => {
        log.warn(`Quality checks of case ${caseId} failed`, err);
        if (mine === qualityRevision.current) setQuality({ key: qualityKey, findings: undefined, failed: errorMessage(err) });
      },
    );
  }, [cases, caseId, qualityKey, log]);

  const compressOn = !!record?.compress && props.canCompress;
  const { compressedBytes } = props;
  // One estimate per case size: a result stays good for the bytes it was made
  // for, so a record saved again meanwhile (a ticked box, a typed question)
  // neither discards it nor starts a second encoding behind it in the worker.
  const estimating = useRef<number | undefined>(undefined);
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  useEffect(() => {
    if (!compressOn || !record || size.bytes === 0 || compressed?.forBytes === size.bytes || estimating.current === size.bytes) return;
    const forBytes = size.bytes;
    estimating.current = forBytes;
    compressedBytes(record).then(
      (bytes) => {
        if (estimating.current === forBytes) estimating.current = undefined;
        if (mounted.current) setCompressed({ forBytes, bytes });
      },
      (err: unknown) => {
        if (estimating.current === forBytes) estimating.current = undefined;
        log.warn('Estimating the compressed size failed', err);
      },
    );
  }, [compressOn, record, size.bytes, compressed, compressedBytes, log]);

  if (!record) return <section className="referral-wizard" aria-label="New referral" data-testid="referral-wizard" aria-busy="true">{error ? <p role="alert">{error}</p> : 'Opening the case…'}</section>;

  const draft = record.state === 'draft';
  const dicomCount = record.sopInstanceUIDs.length - (record.attachments?.length ?? 0);
  const photoOnly = record.sopInstanceUIDs.length > 0 && dicomCount === 0;
  const conflict = identities.length > 1;
  const wireBytes = compressOn && compressed?.forBytes === size.bytes ? compressed.bytes : size.bytes;
  const estimate = props.estimate(wireBytes, size.instances, compressOn);
  const localStudies = studies.map((s) => s.studyInstanceUID);
  const qualityCurrent = quality?.key === qualityKey ? quality : undefined;
  const blockers = qualityCurrent?.findings?.filter((f) => f.severity === 'blocker') ?? [];
  const qualityChecking = qualityKey !== undefined && record.sopInstanceUIDs.length > 0 && !qualityCurrent;
  const reasonOk = reason.trim().length >= MIN_OVERRIDE_REASON_LENGTH;
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
              <button key={uid} type="button" className="btn btn-small" data-testid="referral-view" onClick={() => props.onView(uid, record)}>
                View{localStudies.length > 1 ? ` study ${k + 1}` : ''} in the viewer
              </button>
            ))}
          </div>
        )}
      </section>

      <section aria-labelledby="rw-identity" className="referral-step" data-testid="referral-step-identity">
        <h3 id="rw-identity">2. Patient</h3>
        {conflict && draft && (
          <div role="alert" data-testid="referral-identity-conflict">
            The images name {identities.length} different patients. Choose the patient this case is about (the sent copies carry that identity; the files here stay
            as they are), or split it into one case per patient.
          </div>
        )}
        {conflict && (
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
        )}
        {photoOnly || record.sopInstanceUIDs.length === 0 ? (
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
        ) : (
          !conflict && (
            <p data-testid="referral-patient">
              {record.patient.name || '(no name)'} · ID {record.patient.id || '—'} · born {record.patient.birthDate || '—'} {record.patient.sex ?? ''}
            </p>
          )
        )}
      </section>

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
            {preview && (
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
            )}
          </>
        )}
      </section>

      <section aria-labelledby="rw-send" className="referral-step" data-testid="referral-step-send">
        <h3 id="rw-send">5. Review and send</h3>
        <p data-testid="referral-size">
          {size.instances} instance(s), {formatBytes(size.bytes)}
          {estimate.bytes !== size.bytes ? ` (about ${formatBytes(estimate.bytes)} compressed)` : ''} · about {formatDuration(estimate.seconds)} at {estimate.basis}
        </p>
        <label>
          <input
            type="checkbox"
            data-testid="referral-compress"
            disabled={!draft || !props.canCompress}
            checked={record.compress && props.canCompress}
            onChange={(e) => save({ compress: e.currentTarget.checked })}
          />
          Send JPEG-LS lossless compressed (smaller, identical pixels){props.canCompress ? '' : ' — not available in this build'}
        </label>
        {draft && problems.length > 0 && (
          <ul className="referral-problems" data-testid="referral-problems">
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        )}
        {draft && record.sopInstanceUIDs.length > 0 && (
          <div className="referral-quality-step" data-testid="referral-quality">
            {qualityChecking && <p role="status">Checking image quality…</p>}
            {qualityCurrent?.failed && <p role="alert">The quality checks could not run: {qualityCurrent.failed}</p>}
            {qualityCurrent?.findings && <QualityFindings findings={qualityCurrent.findings} />}
            {blockers.length > 0 && (
              <p role="alert" data-testid="referral-quality-blocked">
                {blockers.length} blocking quality problem(s): the case is not sent as it is. Fix the images, or send anyway with a reason (kept with the outbox item and in the
                audit log).
              </p>
            )}
          </div>
        )}
        {draft ? (
          <>
            <button
              type="button"
              className="btn"
              data-testid="referral-send"
              disabled={!!busy || problems.length > 0 || qualityChecking || blockers.length > 0}
              title={blockers.length > 0 ? 'Blocking quality problems: use "Send anyway" with a reason' : undefined}
              onClick={() => send()}
            >
              Send
            </button>
            {blockers.length > 0 && (
              <div className="referral-send-anyway" data-testid="referral-send-anyway-area">
                <label>
                  <input type="checkbox" data-testid="referral-send-anyway" checked={sendAnyway} disabled={!!busy || problems.length > 0} onChange={(e) => setSendAnyway(e.currentTarget.checked)} />
                  Send anyway, despite the blocking problems
                </label>
                {sendAnyway && (
                  <>
                    <label>
                      Reason (required, at least {MIN_OVERRIDE_REASON_LENGTH} characters)
                      <textarea data-testid="referral-override-reason" value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
                    </label>
                    <button
                      type="button"
                      className="btn"
                      data-testid="referral-send-anyway-confirm"
                      disabled={!!busy || problems.length > 0}
                      onClick={() => {
                        // Refused here with a clear message; the repo refuses the same, whatever calls it.
                        if (!reasonOk) {
                          setError(`"Send anyway" needs a reason of at least ${MIN_OVERRIDE_REASON_LENGTH} characters.`);
                          return;
                        }
                        send({ sendAnyway: { reason } });
                      }}
                    >
                      Send anyway
                    </button>
                  </>
                )}
              </div>
            )}
          </>
        ) : (
          <p role="status" data-testid="referral-sent">
            Queued in the outbox: it is delivered when {sites.find((s) => s.id === record.siteId)?.name ?? 'the site'} can be reached.
          </p>
        )}
      </section>
    </section>
  );
}
