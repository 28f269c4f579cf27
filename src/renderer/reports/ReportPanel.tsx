import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import type { CriticalFinding, OutboxJobState, ReportDraftRecord, ReportKind, ReportPriority, SignedReportRecord, UserProfileRecord } from '../cache/telerad-db';
import type { PdfRuntime } from '../lib/pdf/pdf-runtime';
import { PdfViewer } from '../lib/pdf/PdfViewer';
import type { ReadReport } from '../lib/dicom/report-dicom-types';
import type { ReportCase, ReportPanelState, ReportPanelStore } from './report-panel-store';
import { nestCorrections } from './report-readback';
import type { SiteReport } from './report-readback';
import { REPORT_TEMPLATES, templateById } from './report-templates';
import type { ReportTemplate } from './report-templates';
import './report.css';

export interface ReportPanelProps {
  store: ReportPanelStore;
  reportCase: ReportCase;
  pdfRuntime: PdfRuntime;
}

const PRIORITY_LABEL: Record<ReportPriority, string> = { routine: 'Routine', urgent: 'Urgent', stat: 'STAT' };
const KIND_LABEL: Record<ReportKind, string> = { report: 'Report', addendum: 'Addendum', amendment: 'Amendment' };
const DELIVERY_LABEL: Record<OutboxJobState, string> = { queued: 'queued in the outbox', sending: 'sending…', sent: 'delivered', failed: 'delivery failed, will retry' };

const time = (ms: number): string => new Date(ms).toLocaleTimeString(undefined, { hour12: false });
const dateTime = (ms: number): string => new Date(ms).toLocaleString(undefined, { hour12: false });

/** "2026-12-01T14:03" for a datetime-local input, in local time. */
function localInputValue(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

function SaveStatus({ save }: { save: ReportPanelState['save'] }): JSX.Element {
  const text =
    save.phase === 'dirty' || save.phase === 'saving'
      ? 'Saving…'
      : save.phase === 'error'
        ? (save.message ?? 'Not saved')
        : save.savedAt !== undefined
          ? `Saved ${time(save.savedAt)}`
          : '';
  return (
    <span className={`report-save ${save.phase === 'error' ? 'is-error' : ''}`} data-testid="report-save-status" data-phase={save.phase} aria-live="polite">
      {text}
    </span>
  );
}

function ProfileForm({ profile, onSave, onCancel }: { profile?: UserProfileRecord; onSave: (p: Omit<UserProfileRecord, 'id'>) => void; onCancel?: () => void }): JSX.Element {
  const [name, setName] = useState(profile?.name ?? '');
  const [credentials, setCredentials] = useState(profile?.credentials ?? '');
  const [institution, setInstitution] = useState(profile?.institution ?? '');
  return (
    <form
      className="report-profile-form"
      data-testid="profile-form"
      onSubmit={(e) => {
        e.preventDefault();
        onSave({ name, credentials, ...(institution.trim() ? { institution: institution.trim() } : {}) });
      }}
    >
      <p className="report-hint">Reports are signed with your name and credentials.</p>
      <label>
        Name
        <input data-testid="profile-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="Dr Ada Lovelace" />
      </label>
      <label>
        Credentials
        <input data-testid="profile-credentials" value={credentials} onChange={(e) => setCredentials(e.target.value)} placeholder="MD, FRCR" />
      </label>
      <label>
        Institution (optional)
        <input data-testid="profile-institution" value={institution} onChange={(e) => setInstitution(e.target.value)} />
      </label>
      <div className="report-actions">
        <button type="submit" className="btn btn-small" data-testid="profile-save">
          Save profile
        </button>
        {onCancel && (
          <button type="button" className="btn btn-small" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}

type DraftProps = { store: ReportPanelStore; draft: ReportDraftRecord; template: ReportTemplate };

/** Template and result priority, above the sections. */
function DraftSettings({ store, draft, template }: DraftProps): JSX.Element {
  return (
    <div className="report-row">
      <label>
        Template
        <select data-testid="report-template" value={template.id} onChange={(e) => store.setTemplate(e.target.value)}>
          {REPORT_TEMPLATES.map((t) => (
            <option key={t.id} value={t.id}>
              {t.label}
            </option>
          ))}
        </select>
      </label>
      <label>
        Result priority
        <select data-testid="report-priority" value={draft.content.priority} onChange={(e) => store.setPriority(e.target.value as ReportPriority)}>
          {(Object.keys(PRIORITY_LABEL) as ReportPriority[]).map((p) => (
            <option key={p} value={p}>
              {PRIORITY_LABEL[p]}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

/** One field per section of the template: the referral's question quoted, the others written. */
function DraftSections({ store, draft, template, onBlur }: DraftProps & { onBlur: () => void }): JSX.Element {
  return (
    <>
      {template.sections.map((s) =>
        template.readOnlySectionIds.includes(s.id) ? (
          <div key={s.id} className="report-section">
            <span className="report-section-label">{s.label}</span>
            <blockquote data-testid={`report-section-${s.id}`}>{draft.content.sections[s.id] || 'The referral asks no question.'}</blockquote>
          </div>
        ) : (
          <label key={s.id} className="report-section">
            <span className="report-section-label">{s.label}</span>
            <textarea
              data-testid={`report-section-${s.id}`}
              spellCheck
              rows={s.id === 'findings' || s.id === 'answer' ? 6 : 3}
              placeholder={template.hints[s.id]}
              value={draft.content.sections[s.id] ?? ''}
              onChange={(e) => store.editSection(s.id, e.target.value)}
              onBlur={onBlur}
            />
          </label>
        ),
      )}
    </>
  );
}

/** The critical finding: ticked, it asks whom it was communicated to and when. */
function CriticalFindingFields({ store, critical, onBlur }: { store: ReportPanelStore; critical: CriticalFinding | undefined; onBlur: () => void }): JSX.Element {
  return (
    <fieldset className="report-critical">
      <legend>
        <label>
          <input
            type="checkbox"
            data-testid="report-critical"
            checked={critical !== undefined}
            onChange={(e) => store.setCritical(e.target.checked ? { communicatedTo: '', communicatedAt: Date.now() } : undefined)}
          />{' '}
          Critical finding
        </label>
      </legend>
      {critical && (
        <>
          <label>
            Communicated to
            <input
              data-testid="report-critical-to"
              value={critical.communicatedTo}
              placeholder="Name, role or phone"
              onChange={(e) => store.setCritical({ ...critical, communicatedTo: e.target.value })}
              onBlur={onBlur}
            />
          </label>
          <label>
            When
            <input
              type="datetime-local"
              data-testid="report-critical-when"
              value={localInputValue(critical.communicatedAt)}
              onChange={(e) => {
                const t = new Date(e.target.value).getTime();
                if (Number.isFinite(t)) store.setCritical({ ...critical, communicatedAt: t });
              }}
              onBlur={onBlur}
            />
          </label>
        </>
      )}
    </fieldset>
  );
}

/** The study's key images, each ticked to be named by the report. */
function KeyImageChoices({ store, draft, state }: { store: ReportPanelStore; draft: ReportDraftRecord; state: ReportPanelState }): JSX.Element {
  return (
    <fieldset className="report-key-images">
      <legend>Key images</legend>
      {state.snapshot.keyImages.map((k, i) => (
        <label key={k.sopInstanceUID}>
          <input
            type="checkbox"
            data-testid="report-key-image"
            checked={draft.content.keyImageSopInstanceUIDs.includes(k.sopInstanceUID)}
            onChange={() => store.toggleKeyImage(k.sopInstanceUID)}
          />{' '}
          Key image {i + 1}
        </label>
      ))}
    </fieldset>
  );
}

/** The quality findings a refused signature asked to acknowledge, and the tick that does. */
function QualityAcknowledgement({ store, quality }: { store: ReportPanelStore; quality: NonNullable<ReportPanelState['quality']> }): JSX.Element {
  return (
    <fieldset className="report-quality" data-testid="report-quality">
      <legend>Image quality findings</legend>
      <ul>
        {quality.findings.map((f, k) => (
          <li key={`${f.checkId}|${f.seriesInstanceUID ?? ''}|${k}`} data-severity={f.severity}>
            <strong>{f.severity}</strong> · {f.title}: {f.message}
          </li>
        ))}
      </ul>
      <label>
        <input type="checkbox" data-testid="report-quality-ack" checked={quality.acknowledged} onChange={(e) => store.acknowledgeQuality(e.currentTarget.checked)} /> I have seen
        these quality findings
      </label>
    </fieldset>
  );
}

function Editor({ store, state }: { store: ReportPanelStore; state: ReportPanelState }): JSX.Element | null {
  const draft = state.draft;
  if (!draft) return null;
  const template = templateById(draft.content.templateId);
  const predecessor = draft.predecessorReportId ? state.snapshot.reports.find((r) => r.id === draft.predecessorReportId) : undefined;
  const pending = state.snapshot.annotations.filter((a) => !draft.content.measurementIds.includes(a.id)).length;
  const onBlur = (): void => void store.flush();
  return (
    <div className="report-editor" data-testid="report-editor" data-kind={draft.kind}>
      {draft.kind !== 'report' && (
        <p className="report-hint" data-testid="report-correction-of">
          {KIND_LABEL[draft.kind]} to the report signed {predecessor ? dateTime(predecessor.signedAt) : 'earlier'}
        </p>
      )}
      <DraftSettings store={store} draft={draft} template={template} />
      <DraftSections store={store} draft={draft} template={template} onBlur={onBlur} />
      <div className="report-row">
        <button type="button" className="btn btn-small" data-testid="report-insert-measurements" disabled={pending === 0} onClick={() => void store.insertMeasurements()}>
          Insert measurements{pending > 0 ? ` (${pending})` : ''}
        </button>
        <span className="report-hint" data-testid="report-measurement-count">
          {draft.content.measurementIds.length} inserted
        </span>
      </div>
      <CriticalFindingFields store={store} critical={draft.content.critical} onBlur={onBlur} />
      {state.snapshot.keyImages.length > 0 && <KeyImageChoices store={store} draft={draft} state={state} />}
      {state.quality && state.quality.findings.length > 0 && <QualityAcknowledgement store={store} quality={state.quality} />}
      <div className="report-actions">
        <button type="button" className="btn" data-testid="report-sign" disabled={state.signing} onClick={() => void store.sign()}>
          {state.signing ? 'Signing…' : `Sign ${KIND_LABEL[draft.kind].toLowerCase()}`}
        </button>
        <button type="button" className="btn btn-small" data-testid="report-discard" onClick={() => void store.discardDraft()}>
          Discard draft
        </button>
        <SaveStatus save={state.save} />
      </div>
      {state.signing && state.signNote && (
        <p className="report-sign-note" role="status" data-testid="report-sign-note">
          {state.signNote}
        </p>
      )}
    </div>
  );
}

function SignedReport({ report, state, store, depth }: { report: SignedReportRecord; state: ReportPanelState; store: ReportPanelStore; depth: number }): JSX.Element {
  const template = templateById(report.content.templateId);
  const job = state.snapshot.jobs[report.outboxJobId];
  return (
    <article className="report-signed" data-testid="report-signed" data-kind={report.kind} data-report-id={report.id} style={{ marginLeft: `${depth}rem` }}>
      <header>
        <strong>{KIND_LABEL[report.kind]}</strong> · {template.title} · <span data-testid="report-signed-priority">{PRIORITY_LABEL[report.content.priority]}</span>
        <div className="report-hint">
          Signed {dateTime(report.signedAt)} by {report.author.name}, {report.author.credentials}
        </div>
        {report.qualityAcknowledged && (
          <div className="report-hint" data-testid="report-signed-quality">
            Quality findings acknowledged: {report.qualityAcknowledged.findings.join('; ')}
          </div>
        )}
        <div className="report-delivery" data-testid="report-delivery" data-state={job?.state ?? 'unknown'}>
          {job ? DELIVERY_LABEL[job.state] : 'delivery unknown'}
          {job?.state === 'failed' && job.lastError ? ` — ${job.lastError}` : ''}
          {job && job.attempts > 0 ? ` (attempts: ${job.attempts})` : ''}
        </div>
      </header>
      {template.sections.map((s) =>
        report.content.sections[s.id]?.trim() ? (
          <section key={s.id}>
            <h4>{s.label}</h4>
            <p className="report-text">{report.content.sections[s.id]}</p>
          </section>
        ) : null,
      )}
      {report.content.critical && (
        <p className="report-critical-note">
          Critical finding communicated to {report.content.critical.communicatedTo || '—'} at {dateTime(report.content.critical.communicatedAt)}
        </p>
      )}
      <div className="report-actions">
        <button type="button" className="btn btn-small" data-testid="report-open-pdf" onClick={() => store.openLocalPdf(report)}>
          PDF
        </button>
        <button type="button" className="btn btn-small" data-testid="report-addendum" onClick={() => void store.startCorrection(report.id, 'addendum')}>
          Addendum
        </button>
        <button type="button" className="btn btn-small" data-testid="report-amend" onClick={() => void store.startCorrection(report.id, 'amendment')}>
          Amend
        </button>
      </div>
    </article>
  );
}

/** An SR's content date-time (ISO) in the reader's local time; as written when it does not parse. */
function readableDateTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? dateTime(t) : iso;
}

function SiteReportView({ item, depth, store }: { item: SiteReport; depth: number; store: ReportPanelStore }): JSX.Element {
  const r: ReadReport = item.report;
  return (
    <article className="report-signed report-readback" data-testid="site-report" data-sop-instance-uid={r.sopInstanceUID} style={{ marginLeft: `${depth}rem` }}>
      <header>
        <strong data-testid="site-report-title">
          {depth > 0 || r.predecessorSopInstanceUID ? 'Correction: ' : ''}
          {r.title}
        </strong>
        {r.priority && <> · {PRIORITY_LABEL[r.priority]}</>}
        <div className="report-hint" data-testid="site-report-author">
          {r.author ?? 'author not given'}
          {r.authorCredentials ? `, ${r.authorCredentials}` : ''}
          {r.contentDateTime ? ` · ${readableDateTime(r.contentDateTime)}` : ''}
          {r.verificationFlag ? ` · ${r.verificationFlag.toLowerCase()}` : ''}
        </div>
      </header>
      {r.sections.map((s, i) => (
        <section key={i}>
          <h4>{s.label}</h4>
          <p className="report-text" data-testid="site-report-section">
            {s.text}
          </p>
        </section>
      ))}
      {r.measurements.length > 0 && (
        <section>
          <h4>Measurements</h4>
          <ul data-testid="site-report-measurements">
            {r.measurements.map((m, i) => (
              <li key={i} data-testid="site-report-measurement">
                {m.name} {Number.isInteger(m.value) ? m.value : m.value.toFixed(1)} {m.unit}
              </li>
            ))}
          </ul>
        </section>
      )}
      {r.critical && (
        <p className="report-critical-note">
          Critical finding communicated to {r.critical.communicatedTo || '—'} at {dateTime(r.critical.communicatedAt)}
        </p>
      )}
      {item.pdf && (
        <button type="button" className="btn btn-small" data-testid="site-report-pdf" onClick={() => store.openSitePdf(item.pdf!)}>
          PDF
        </button>
      )}
    </article>
  );
}

/**
 * The report of the open case, beside the viewer: the draft editor (autosaved),
 * the user's profile, the reports signed here with their delivery state, and
 * the reports the site holds (read back from their SR, PDF viewable).
 */
export function ReportPanel({ store, reportCase, pdfRuntime }: ReportPanelProps): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  const [editingProfile, setEditingProfile] = useState(false);
  const caseRef = useRef(reportCase);
  caseRef.current = reportCase;
  useEffect(() => store.open(caseRef.current), [store, reportCase.studyInstanceUID, reportCase.siteId]);

  const mine = state.case?.studyInstanceUID === reportCase.studyInstanceUID;
  const local = nestCorrections(state.snapshot.reports, (r) => r.id, (r) => r.predecessorReportId);
  const localSrs = new Set(state.snapshot.reports.map((r) => r.srSopInstanceUID));
  const remote = nestCorrections(
    state.siteReports.items,
    (i) => i.report.sopInstanceUID,
    (i) => i.report.predecessorSopInstanceUID,
  );
  const needProfile = !state.profile?.name || !state.profile.credentials;

  return (
    <aside className="report-panel" data-testid="report-panel" aria-label="Report" data-phase={mine ? state.phase : 'loading'}>
      <h2>Report</h2>
      {state.error && (
        <div className="report-error" role="alert" data-testid="report-error">
          {state.error}{' '}
          <button type="button" className="btn btn-small" onClick={() => store.dismissError()}>
            Dismiss
          </button>
        </div>
      )}
      {mine && state.phase === 'ready' && (
        <>
          {needProfile || editingProfile ? (
            <ProfileForm
              profile={state.profile}
              onSave={(p) => void store.saveProfile(p).then((ok) => ok && setEditingProfile(false))}
              {...(editingProfile ? { onCancel: () => setEditingProfile(false) } : {})}
            />
          ) : (
            <p className="report-hint" data-testid="profile-summary">
              Signing as {state.profile?.name}, {state.profile?.credentials}{' '}
              <button type="button" className="btn btn-small" data-testid="profile-edit" onClick={() => setEditingProfile(true)}>
                Edit
              </button>
            </p>
          )}
          {state.draft ? (
            <Editor store={store} state={state} />
          ) : (
            <button type="button" className="btn" data-testid="report-new" onClick={() => void store.startReport()}>
              New report
            </button>
          )}
          {local.length > 0 && (
            <>
              <h3>Signed here</h3>
              {local.map(({ item, depth }) => (
                <SignedReport key={item.id} report={item} state={state} store={store} depth={depth} />
              ))}
            </>
          )}
        </>
      )}
      {mine && reportCase.site && (
        <>
          <h3>
            At the site{' '}
            <button type="button" className="btn btn-small" data-testid="site-reports-refresh" onClick={() => store.refreshSiteReports()}>
              Refresh
            </button>
          </h3>
          {state.siteReports.phase === 'error' && <p className="report-hint is-error">{state.siteReports.message}</p>}
          {state.siteReports.phase === 'loading' && state.siteReports.items.length === 0 && <p className="report-hint">Reading…</p>}
          {state.siteReports.phase === 'ready' && remote.length === 0 && (
            <p className="report-hint" data-testid="site-reports-none">
              No report at the site yet.
            </p>
          )}
          {remote.map(({ item, depth }) => (
            <SiteReportView key={item.report.sopInstanceUID} item={item} depth={depth} store={store} />
          ))}
          {remote.some(({ item }) => localSrs.has(item.report.sopInstanceUID)) && <p className="report-hint">Reports signed here appear in both lists once delivered.</p>}
        </>
      )}
      {state.pdf && (
        <div className="report-pdf-overlay">
          {state.pdf.phase === 'ready' && state.pdf.data ? (
            <PdfViewer runtime={pdfRuntime} data={state.pdf.data} title={state.pdf.title} onClose={() => store.closePdf()} />
          ) : (
            <div className={`pdf-status ${state.pdf.phase === 'error' ? 'is-error' : ''}`} role={state.pdf.phase === 'error' ? 'alert' : 'status'} data-testid="report-pdf-status">
              {state.pdf.phase === 'error' ? state.pdf.message : `Opening ${state.pdf.title}…`}
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
