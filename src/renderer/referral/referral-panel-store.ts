import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { ReferralAttachment, ReferralRecord } from '../cache/telerad-db';
import type { AttachmentLoader, ReferralLookup } from './referral-reader';
import { createListeners } from '../../shared/store/listeners';
import type { LoadState } from '../../shared/store/load-state';
import { errorMessage } from '../../shared/error-message';

/** The attachment shown in the PDF viewer, as it loads. */
export interface OpenPdf extends LoadState<Uint8Array> {
  attachment: ReferralAttachment;
}

export interface ReferralPanelState {
  /** 'none': the open study has no referral packet (the panel is not shown). */
  phase: 'idle' | 'loading' | 'ready' | 'none';
  studyInstanceUID?: string;
  record?: ReferralRecord;
  pdf?: OpenPdf;
}

export interface ReferralPanelStore {
  getState(): ReferralPanelState;
  subscribe(listener: () => void): () => void;
  /** Reads the referral of the study now open in the viewer; the returned function forgets it. */
  open(site: SiteSummary | undefined, studyInstanceUID: string): () => void;
  openPdf(attachment: ReferralAttachment): void;
  closePdf(): void;
}

export interface ReferralPanelDeps {
  lookup: ReferralLookup;
  loadPdf: AttachmentLoader;
  /** Answers from the cache alone, for a study whose site is no longer configured. */
  cachedReferral: (studyInstanceUID: string) => Promise<ReferralRecord | undefined>;
  log: Logger;
}

const IDLE: ReferralPanelState = { phase: 'idle' };

/**
 * The side panel's state, outside React. A revision per opened study, so a
 * slow lookup or PDF of a study the reader has left never lands in the panel
 * of the next one; a second one per PDF, so clicking two attachments quickly
 * shows the last one clicked.
 */
export function createReferralPanelStore(deps: ReferralPanelDeps): ReferralPanelStore {
  let state: ReferralPanelState = IDLE;
  const listeners = createListeners();
  let session = 0;
  let pdfRev = 0;
  let site: SiteSummary | undefined;

  const set = (next: ReferralPanelState): void => {
    state = next;
    listeners.notify();
  };

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    open(openSite, studyUID) {
      const mine = ++session;
      site = openSite;
      set({ phase: 'loading', studyInstanceUID: studyUID });
      const found = openSite ? deps.lookup(openSite, studyUID) : deps.cachedReferral(studyUID);
      found
        .then((record) => {
          if (mine !== session) return;
          const shown = record && (record.noteSopInstanceUID || record.attachments.length > 0);
          set(shown ? { phase: 'ready', studyInstanceUID: studyUID, record } : { phase: 'none', studyInstanceUID: studyUID });
        })
        .catch((err: unknown) => {
          if (mine !== session) return;
          deps.log.warn(`Referral of ${studyUID} could not be read`, err);
          set({ phase: 'none', studyInstanceUID: studyUID });
        });
      return () => {
        if (mine !== session) return;
        session++;
        pdfRev++;
        set(IDLE);
      };
    },
    openPdf(attachment) {
      const studyUID = state.studyInstanceUID;
      if (!studyUID || attachment.kind !== 'pdf') return;
      const mine = ++pdfRev;
      const mySession = session;
      set({ ...state, pdf: { attachment, phase: 'loading' } });
      deps
        .loadPdf(site, studyUID, attachment)
        .then((data) => {
          if (mine === pdfRev && mySession === session) set({ ...state, pdf: { attachment, phase: 'ready', data } });
        })
        .catch((err: unknown) => {
          if (mine !== pdfRev || mySession !== session) return;
          const message = errorMessage(err);
          deps.log.warn(`PDF ${attachment.sopInstanceUID}: ${message}`);
          set({ ...state, pdf: { attachment, phase: 'error', message } });
        });
    },
    closePdf() {
      pdfRev++;
      if (state.pdf) set({ ...state, pdf: undefined });
    },
  };
}
