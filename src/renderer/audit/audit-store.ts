import type { AuditAction, AuditEvent, AuditRecordRequest, AuditStatus, ServiceClient } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import { createListeners } from '../../shared/store/listeners';
import type { StudyRetrievedEvent } from '../cache/study-retriever';
import type { FailedAttempt, RefusedOutboxJob } from '../outbox';
import type { DeliveredJob } from '../outbox';
import { errorMessage } from '../../shared/error-message';

/** What the app reports to main's audit trail; main stamps the rest. */
export type AuditReport = (event: Omit<AuditRecordRequest, 'actor'>) => Promise<void>;

/** What the audit view filters by, as the user typed it. Dates are local calendar days (YYYY-MM-DD). */
export interface AuditFilterValues {
  patient: string;
  fromDate: string;
  toDate: string;
  action: AuditAction | '';
}

export interface AuditViewState {
  filters: AuditFilterValues;
  events: AuditEvent[];
  total: number;
  offset: number;
  pageSize: number;
  loading: boolean;
  /** The host could not answer, in plain words. */
  error?: string;
  /** An ATNA export is being built. */
  exporting: boolean;
  /** What the last export did: "12 events exported to audit-atna-….xml", or why it failed. */
  exportResult?: { ok: boolean; message: string };
  /** Forwarding to the Audit Record Repository and the local chain's integrity, as main last answered. */
  status?: AuditStatus;
  /** Main could not say how forwarding stands, in plain words. */
  statusError?: string;
}

export interface AuditStoreDeps {
  client: Pick<ServiceClient, 'audit'>;
  log: Logger;
  pageSize?: number;
  /** Records the ATNA export itself (naming the user); without it the export is recorded as by "unknown user". */
  report?: AuditReport;
  /** For the export file's name; the system clock unless a test fixes it. */
  now?: () => Date;
}

/** One ATNA export, ready to save. */
export interface AtnaExportFile {
  fileName: string;
  /** One XML document holding every message (see buildAtnaDocument). */
  xml: string;
  count: number;
}

export interface AuditStore {
  getState(): AuditViewState;
  subscribe(listener: () => void): () => void;
  /** Changes the filters and loads the first page. */
  setFilters(filters: Partial<AuditFilterValues>): Promise<void>;
  /** Loads the page starting at `offset` with the current filters. */
  load(offset?: number): Promise<void>;
  /** Asks main how forwarding stands ("forwarded up to #N", the backlog) and whether the local chain is whole. */
  loadStatus(): Promise<void>;
  /** The current filters' events as DICOM audit messages (one XML document each), for an ATNA repository. */
  exportDicom(): Promise<string[]>;
  /**
   * The current filters' events as one XML file for an ATNA repository; the
   * export is itself recorded in the audit trail (action 'export'), as a
   * failure with the reason when main could not answer (then this rejects).
   */
  exportAtnaFile(): Promise<AtnaExportFile>;
}

export const EMPTY_AUDIT_FILTERS: AuditFilterValues = { patient: '', fromDate: '', toDate: '', action: '' };

const LOCAL_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A local calendar day's first or last instant, as the ISO instant main compares with. */
function localDayBound(day: string, end: 'start' | 'end'): string | undefined {
  if (!LOCAL_DAY.test(day)) return undefined;
  const at = new Date(`${day}T${end === 'start' ? '00:00:00.000' : '23:59:59.999'}`);
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString();
}

export function auditFilterRequest(values: AuditFilterValues): { patient?: string; from?: string; to?: string; action?: AuditAction } {
  const from = localDayBound(values.fromDate, 'start');
  const to = localDayBound(values.toDate, 'end');
  const patient = values.patient.trim();
  return {
    ...(patient ? { patient } : {}),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    ...(values.action ? { action: values.action } : {}),
  };
}

function messageOf(err: unknown): string {
  return errorMessage(err);
}

/**
 * The audit view's state outside React. Each load carries a revision: a slow
 * answer to an older filter never replaces the list for a newer one.
 */
export function createAuditStore(deps: AuditStoreDeps): AuditStore {
  const listeners = createListeners();
  let state: AuditViewState = { filters: EMPTY_AUDIT_FILTERS, events: [], total: 0, offset: 0, pageSize: deps.pageSize ?? 50, loading: false, exporting: false };
  let revision = 0;
  const set = (next: AuditViewState): void => {
    state = next;
    listeners.notify();
  };

  const load = async (offset = 0): Promise<void> => {
    const rev = ++revision;
    set({ ...state, loading: true });
    try {
      const page = await deps.client.audit.query({ ...auditFilterRequest(state.filters), offset, limit: state.pageSize });
      if (rev !== revision) return;
      const { error: _cleared, ...rest } = state;
      set({ ...rest, events: page.events, total: page.total, offset, loading: false });
    } catch (err) {
      if (rev !== revision) return;
      deps.log.warn(`Audit query failed: ${messageOf(err)}`);
      set({ ...state, loading: false, error: `Could not read the audit trail: ${messageOf(err)}` });
    }
  };

  let statusRevision = 0;
  const loadStatus = async (): Promise<void> => {
    const rev = ++statusRevision;
    try {
      const status = await deps.client.audit.status({});
      if (rev !== statusRevision) return;
      const { statusError: _cleared, ...rest } = state;
      set({ ...rest, status });
    } catch (err) {
      if (rev !== statusRevision) return;
      deps.log.warn(`Audit status failed: ${messageOf(err)}`);
      set({ ...state, statusError: `Could not read how audit forwarding stands: ${messageOf(err)}` });
    }
  };

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    load,
    loadStatus,
    setFilters: (filters) => {
      set({ ...state, filters: { ...state.filters, ...filters } });
      return load(0);
    },
    exportDicom: async () => (await deps.client.audit.exportDicom(auditFilterRequest(state.filters))).messages,
    exportAtnaFile: async () => {
      const filter = auditFilterRequest(state.filters);
      const report = deps.report ?? createAuditReporter(deps.client, () => '', deps.log);
      const { exportResult: _previous, ...rest } = state;
      set({ ...rest, exporting: true });
      let exported: { messages: string[]; count: number };
      try {
        exported = await deps.client.audit.exportDicom(filter);
      } catch (err) {
        deps.log.warn(`Audit export failed: ${messageOf(err)}`);
        set({ ...state, exporting: false, exportResult: { ok: false, message: `Could not export the audit trail: ${messageOf(err)}` } });
        await report({ action: 'export', outcome: 'failure', reason: `audit trail export failed: ${messageOf(err)}` });
        throw err;
      }
      await report({ action: 'export', outcome: 'success', reason: `audit trail export (${exported.count} DICOM audit message${exported.count === 1 ? '' : 's'})` });
      const at = (deps.now ?? (() => new Date()))();
      const file = { fileName: atnaFileName(at), xml: buildAtnaDocument(exported.messages, filter), count: exported.count };
      set({ ...state, exporting: false, exportResult: { ok: true, message: `${file.count} event${file.count === 1 ? '' : 's'} exported to ${file.fileName}` } });
      // The export is in the trail now: show it if the list is on its first page.
      if (state.offset === 0) void load(0);
      return file;
    },
  };
}

/** The forwarding line of the Audit panel, in plain words. */
export function forwardingSummary(status: AuditStatus): string {
  const f = status.forwarding;
  if (f.state === 'off' || !f.repository) {
    return 'Not forwarded: no Audit Record Repository is configured (audit.repository in settings.json, or --audit-repository). This workstation holds the only copy.';
  }
  const upTo = f.forwardedUpTo === 0 ? 'nothing forwarded yet' : `forwarded up to #${f.forwardedUpTo}`;
  const backlog = f.backlog === 0 ? 'no backlog' : `${f.backlog} event${f.backlog === 1 ? '' : 's'} waiting`;
  const retry = f.state === 'retrying' ? `; retrying${f.nextRetryAt ? ` at ${new Date(f.nextRetryAt).toLocaleTimeString()}` : ''}${f.lastError ? ` (${f.lastError})` : ''}` : '';
  return `Audit Record Repository ${f.repository}: ${upTo}, ${backlog}${retry}.`;
}

/** "audit-atna-20260301-081500.xml", local time: what the user sees on the clock when saving. */
export function atnaFileName(at: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `audit-atna-${at.getFullYear()}${p(at.getMonth() + 1)}${p(at.getDate())}-${p(at.getHours())}${p(at.getMinutes())}${p(at.getSeconds())}.xml`;
}

function xmlAttr(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The messages as ONE well-formed XML document: <AuditMessages> around the
 * PS3.15 A.5 <AuditMessage> elements, oldest first, each message's own XML
 * declaration dropped. Why not one message per line: the messages are
 * multi-line XML, and a file of several XML documents is not XML — no viewer,
 * validator or XPath tool opens it. ATNA itself carries one message per
 * syslog record (RFC 5424/5425), and PS3.15 defines no multi-message file, so
 * an importer (or a person replaying to a repository) takes the children of
 * the root one by one, e.g. `xmllint --xpath '/AuditMessages/AuditMessage'`.
 * The root's attributes say which filters produced it.
 */
export function buildAtnaDocument(messages: readonly string[], filter: ReturnType<typeof auditFilterRequest>): string {
  const attrs = [
    `count="${messages.length}"`,
    ...(filter.patient ? [`patientFilter="${xmlAttr(filter.patient)}"`] : []),
    ...(filter.from ? [`from="${xmlAttr(filter.from)}"`] : []),
    ...(filter.to ? [`to="${xmlAttr(filter.to)}"`] : []),
    ...(filter.action ? [`action="${xmlAttr(filter.action)}"`] : []),
  ].join(' ');
  const bodies = messages.map((m) => m.replace(/^<\?xml[^>]*\?>\s*/, ''));
  return ['<?xml version="1.0" encoding="UTF-8"?>', `<AuditMessages ${attrs}>`, ...bodies, '</AuditMessages>', ''].join('\n');
}

/** The contract's bounds on what the renderer reports. */
const MAX_AUDIT_SOPS = 10_000;
const MAX_REASON = 1000;

function capReason(text: string): string {
  return text.length <= MAX_REASON ? text : `${text.slice(0, MAX_REASON - 1)}…`;
}

/** At most 10,000 UIDs go into one event; the reason then says how many there were. */
function capSops(uids: readonly string[]): { sopInstanceUIDs: string[]; note?: string } {
  if (uids.length <= MAX_AUDIT_SOPS) return { sopInstanceUIDs: [...uids] };
  return { sopInstanceUIDs: uids.slice(0, MAX_AUDIT_SOPS), note: `${uids.length} instances, the first ${MAX_AUDIT_SOPS} listed` };
}

/** A retrieval from a site ('study.retrieve') as the audit trail records it. */
export function retrievalAuditRecord(e: StudyRetrievedEvent): Omit<AuditRecordRequest, 'actor'> {
  const { sopInstanceUIDs, note } = capSops(e.sopInstanceUIDs);
  const reason = [e.reason, note].filter(Boolean).join('; ');
  const patient = {
    ...(e.patient.id ? { id: e.patient.id.slice(0, 64) } : {}),
    ...(e.patient.name ? { name: e.patient.name.slice(0, 324) } : {}),
  };
  return {
    action: 'study.retrieve',
    studyInstanceUID: e.studyInstanceUID,
    siteId: e.siteId,
    ...(patient.id || patient.name ? { patient } : {}),
    sopInstanceUIDs,
    outcome: e.outcome,
    ...(reason ? { reason: capReason(reason) } : {}),
  };
}

/** An attempt a site answered with an error ('outbox.send', failure) as the audit trail records it. */
export function failedDeliveryAuditRecord(f: FailedAttempt): Omit<AuditRecordRequest, 'actor'> {
  const { sopInstanceUIDs, note } = capSops(f.sopInstanceUIDs);
  const reason = [`${f.label}: ${f.error}`, f.permanent ? 'waiting for the user' : `attempt ${f.attempts}`, note].filter(Boolean).join('; ');
  return {
    action: 'outbox.send',
    studyInstanceUID: f.studyInstanceUID,
    siteId: f.siteId,
    sopInstanceUIDs,
    outcome: 'failure',
    reason: capReason(reason),
  };
}

/**
 * An outbox job refused because its stored row failed its integrity check ('integrity.failed', a DICOM
 * Security Alert): not sent, kept on disk. What its clear fields say goes in the reason only, as found
 * (they may be what was edited).
 */
export function integrityAuditRecord(job: RefusedOutboxJob): Omit<AuditRecordRequest, 'actor'> {
  const found = [job.found.kind, job.found.siteId ? `site ${job.found.siteId} as found on disk` : undefined].filter(Boolean).join(', ');
  return {
    action: 'integrity.failed',
    outcome: 'failure',
    reason: capReason(`Outbox job ${job.id}${found ? ` (${found})` : ''} was changed outside the app and was not sent; kept for inspection. ${job.detail}`),
  };
}

/** A delivery to a site ('outbox.send', success) as the audit trail records it. */
export function deliveryAuditRecord(job: DeliveredJob): Omit<AuditRecordRequest, 'actor'> {
  const { sopInstanceUIDs, note } = capSops(job.sopInstanceUIDs);
  return {
    action: 'outbox.send',
    studyInstanceUID: job.studyInstanceUID,
    siteId: job.siteId,
    sopInstanceUIDs,
    outcome: 'success',
    ...(note ? { reason: note } : {}),
  };
}

/**
 * Reports what the user did to main's audit trail without holding up the
 * action itself: a failure to record is logged (main's log then shows it),
 * and the caller carries on.
 */
export function createAuditReporter(client: Pick<ServiceClient, 'audit'>, actor: () => string, log: Logger): AuditReport {
  return async (event) => {
    try {
      await client.audit.record({ ...event, actor: actor() || 'unknown user' });
    } catch (err) {
      log.error(`Could not record ${event.action} in the audit trail: ${messageOf(err)}`);
    }
  };
}
