import { createListeners } from '../../shared/store/listeners';
import type { ReportPanelState } from './report-panel-types';
import type { StudyReportSnapshot } from './report-status';

export const EMPTY_SNAPSHOT: StudyReportSnapshot = { reports: [], jobs: {}, annotations: [], keyImages: [] };

/**
 * The report panel's state as the parts of its store share it. `state` is
 * replaced, never mutated, by `set`, which bumps the revision and tells the
 * listeners. `session` numbers the case now open: an answer begun under an
 * older number is for a case the reader has left, and drops itself.
 */
export interface ReportPanelCell {
  readonly state: ReportPanelState;
  session: number;
  set(patch: Partial<ReportPanelState>): void;
  subscribe(listener: () => void): () => void;
}

export function createReportPanelCell(): ReportPanelCell {
  const listeners = createListeners();
  let state: ReportPanelState = {
    phase: 'idle',
    save: { phase: 'clean' },
    signing: false,
    snapshot: EMPTY_SNAPSHOT,
    siteReports: { phase: 'idle', items: [] },
    revision: 0,
  };
  return {
    get state() {
      return state;
    },
    session: 0,
    set(patch) {
      state = { ...state, ...patch, revision: state.revision + 1 };
      listeners.notify();
    },
    subscribe: listeners.subscribe,
  };
}
