import type { AuditAction, AuditEvent, AuditRecordRequest, ServiceClient } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import { createListeners } from '../../shared/store/listeners';

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
}

export interface AuditStoreDeps {
  client: Pick<ServiceClient, 'audit'>;
  log: Logger;
  pageSize?: number;
}

export interface AuditStore {
  getState(): AuditViewState;
  subscribe(listener: () => void): () => void;
  /** Changes the filters and loads the first page. */
  setFilters(filters: Partial<AuditFilterValues>): Promise<void>;
  /** Loads the page starting at `offset` with the current filters. */
  load(offset?: number): Promise<void>;
  /** The current filters' events as DICOM audit messages (one XML document each), for an ATNA repository. */
  exportDicom(): Promise<string[]>;
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
  return err instanceof Error ? err.message : String(err);
}

/**
 * The audit view's state outside React. Each load carries a revision: a slow
 * answer to an older filter never replaces the list for a newer one.
 */
export function createAuditStore(deps: AuditStoreDeps): AuditStore {
  const listeners = createListeners();
  let state: AuditViewState = { filters: EMPTY_AUDIT_FILTERS, events: [], total: 0, offset: 0, pageSize: deps.pageSize ?? 50, loading: false };
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

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    load,
    setFilters: (filters) => {
      set({ ...state, filters: { ...state.filters, ...filters } });
      return load(0);
    },
    exportDicom: async () => (await deps.client.audit.exportDicom(auditFilterRequest(state.filters))).messages,
  };
}

/**
 * Reports what the user did to main's audit trail without holding up the
 * action itself: a failure to record is logged (main's log then shows it),
 * and the caller carries on.
 */
export function createAuditReporter(
  client: Pick<ServiceClient, 'audit'>,
  actor: () => string,
  log: Logger,
): (event: Omit<AuditRecordRequest, 'actor'>) => Promise<void> {
  return async (event) => {
    try {
      await client.audit.record({ ...event, actor: actor() || 'unknown user' });
    } catch (err) {
      log.error(`Could not record ${event.action} in the audit trail: ${messageOf(err)}`);
    }
  };
}
