import { liveQuery } from 'dexie';
import type { SiteSummary } from '../../shared/ipc/contract';
import { createListeners } from '../../shared/store/listeners';
import { readPart10Header } from '../cache/part10-header';
import type { OutboxJobState } from '../cache/telerad-db';
import { classifySiteError } from '../dicomweb/site-error';
import { PHOTO_SOP_CLASSES, SopClass } from '../lib/dicom/referral-codes';
import type { ReadReport } from '../lib/dicom/report-dicom-types';
import { buildThread, summarize, threadStatus } from './thread-model';
import type { ThreadEntry, ThreadStatus } from './thread-model';
import type { CaseNote, NoteReference } from '../lib/dicom/case-note-types';
import { createThreadSources } from './thread-sources';
import type { ThreadSourcesDeps } from './thread-sources';
import type { LocalNote, ParsedSr } from './thread-sources';

/**
 * The conversation of the open study, both sides, in time order: the case
 * notes and report SRs the site holds (QIDO + WADO-RS, each SR kept in the
 * instance cache so the thread shows offline), merged with the notes written
 * here that the site may not have yet (table `caseNotes` and their outbox
 * jobs: "sending…"). No React; a revision counter drops answers of an older
 * load, so a slow site answer never overwrites a newer state.
 */

/** Where a note written here is on its way to the site; undefined for an entry read from the site only. */
export type EntryDelivery = OutboxJobState;

export interface ThreadAttachment extends NoteReference {
  kind: 'photo' | 'pdf' | 'other';
}

export interface ThreadItem extends Omit<ThreadEntry, 'attachments'> {
  attachments: ThreadAttachment[];
  /** A note written here whose job is not yet delivered (queued, sending, failed); 'sent' once delivered. */
  delivery?: EntryDelivery;
  /** The instance this entry is, for a reply's "In reply to". */
  reference: NoteReference;
}

export interface CaseThreadState {
  /** Bumped on every change. */
  revision: number;
  siteId?: string;
  studyInstanceUID?: string;
  phase: 'idle' | 'loading' | 'ready';
  entries: ThreadItem[];
  status: ThreadStatus;
  /** Where the site part came from: the site now, or the local cache (offline or site failed). */
  source: 'site' | 'cache';
  /** Why the site could not be read (the thread then shows the cached entries). */
  siteError?: string;
}

export interface CaseThreadStore {
  getState(): CaseThreadState;
  subscribe(listener: () => void): () => void;
  /** Shows the thread of a study; the returned function stops watching it. */
  open(site: SiteSummary | undefined, siteId: string, studyInstanceUID: string): () => void;
  /** Reads the site again (after an action, or the user's refresh). */
  refresh(): Promise<void>;
  /**
   * Puts an attachment of the open study into the local cache (WADO-RS from
   * the site) unless it is there: a photo posted after the study was cached
   * then opens in the viewer. Resolves true when it was fetched now.
   */
  ensureCached(attachment: NoteReference): Promise<boolean>;
}

/** The store reads what its thread sources read, nothing more. */
export type CaseThreadStoreDeps = ThreadSourcesDeps;

export function attachmentKind(sopClassUID: string): ThreadAttachment['kind'] {
  if (sopClassUID === SopClass.EncapsulatedPdf) return 'pdf';
  if (PHOTO_SOP_CLASSES.has(sopClassUID)) return 'photo';
  return 'other';
}

/**
 * A report's line: its conclusion. A consult report's first section is the
 * referrer's own question (read-only in the template), so its answer is
 * looked for by label before falling back to the thread's choice.
 */
function reportLine(report: ReadReport): string | undefined {
  const s = report.sections.find((x) => /impression|conclusion|answer|opinion/i.test(x.label) && x.text.trim());
  return s ? summarize(s.text) : undefined;
}

/** Site entries + local notes → the items shown, in time order, each note once (the site's copy wins). */
export function mergeThread(site: readonly ParsedSr[], local: readonly LocalNote[]): ThreadItem[] {
  const notes: CaseNote[] = [];
  const reports: ReadReport[] = [];
  const refs = new Map<string, NoteReference>();
  const reportLines = new Map<string, string>();
  for (const p of site) {
    if ('note' in p) {
      notes.push(p.note);
      refs.set(p.note.sopInstanceUID, { sopInstanceUID: p.note.sopInstanceUID, sopClassUID: p.note.sopClassUID, seriesInstanceUID: p.note.seriesInstanceUID });
    } else {
      reports.push(p.report);
      const line = reportLine(p.report);
      if (line) reportLines.set(p.report.sopInstanceUID, line);
      refs.set(p.report.sopInstanceUID, { sopInstanceUID: p.report.sopInstanceUID, sopClassUID: p.sopClassUID, seriesInstanceUID: p.seriesInstanceUID });
    }
  }
  const delivery = new Map<string, EntryDelivery>();
  for (const l of local) {
    // Delivered notes the site already lists need no badge; pending ones show where they are.
    if (!refs.has(l.note.sopInstanceUID)) {
      notes.push(l.note);
      refs.set(l.note.sopInstanceUID, { sopInstanceUID: l.note.sopInstanceUID, sopClassUID: l.note.sopClassUID, seriesInstanceUID: l.note.seriesInstanceUID });
      delivery.set(l.note.sopInstanceUID, l.delivery);
    }
  }
  return buildThread(notes, reports).map((e) => {
    const d = delivery.get(e.id);
    const line = e.kind === 'report' ? reportLines.get(e.id) : undefined;
    return {
      ...e,
      ...(line ? { summary: line } : {}),
      attachments: e.attachments.map((a) => ({ ...a, kind: attachmentKind(a.sopClassUID) })),
      reference: refs.get(e.id) ?? { sopInstanceUID: e.id, sopClassUID: SopClass.ComprehensiveSR, seriesInstanceUID: '' },
      ...(d ? { delivery: d } : {}),
    };
  });
}

export function createCaseThreadStore(deps: CaseThreadStoreDeps): CaseThreadStore {
  const { log } = deps;
  const listeners = createListeners();
  let state: CaseThreadState = { revision: 0, phase: 'idle', entries: [], status: threadStatus([]), source: 'cache' };
  let site: SiteSummary | undefined;
  let siteEntries: ParsedSr[] = [];
  let localNotes: LocalNote[] = [];
  /** Bumped by every open and every site load: an answer carrying an older number is dropped. */
  let loadSeq = 0;
  let openSeq = 0;
  const { fromCache, fromSite, readLocal } = createThreadSources(deps);

  const publish = (patch: Partial<CaseThreadState>): void => {
    const next = { ...state, ...patch, revision: state.revision + 1 };
    next.entries = patch.entries ?? mergeThread(siteEntries, localNotes);
    next.status = threadStatus(next.entries);
    state = next;
    listeners.notify();
  };

  const loadSite = async (): Promise<void> => {
    const seq = ++loadSeq;
    const studyUID = state.studyInstanceUID;
    if (!studyUID) return;
    if (!site) {
      publish({ phase: 'ready', source: 'cache', siteError: 'The study\u2019s site is no longer configured: showing what is cached.' });
      return;
    }
    try {
      const entries = await fromSite(site, studyUID);
      if (seq !== loadSeq || state.studyInstanceUID !== studyUID) return;
      siteEntries = entries;
      const { siteError: _gone, ...rest } = state;
      state = rest;
      publish({ phase: 'ready', source: 'site' });
    } catch (err) {
      if (seq !== loadSeq || state.studyInstanceUID !== studyUID) return;
      const message = classifySiteError(err).message;
      log.warn(`Thread of ${studyUID}: the site could not be read (${message}); showing the cached thread`);
      publish({ phase: 'ready', source: 'cache', siteError: message });
    }
  };

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    open(s, siteId, studyUID) {
      const mine = ++openSeq;
      ++loadSeq;
      site = s;
      siteEntries = [];
      localNotes = [];
      state = { revision: state.revision, phase: 'loading', siteId, studyInstanceUID: studyUID, entries: [], status: threadStatus([]), source: 'cache' };
      publish({});
      // The cached thread first (instant, and all there is offline), then the site.
      const cacheSeq = loadSeq;
      void fromCache(studyUID)
        .then((cached) => {
          if (mine !== openSeq || cacheSeq !== loadSeq) return;
          siteEntries = cached;
          publish({});
        })
        .catch((err: unknown) => log.warn('Thread: reading the cached thread failed', err))
        .finally(() => void (mine === openSeq && loadSite()));
      // Notes written here, live: an action's commit and every outbox state change show at once.
      const sub = liveQuery(() => readLocal(studyUID)).subscribe({
        next: (notes) => {
          if (mine !== openSeq) return;
          const delivered = notes.some((n) => n.delivery === 'sent' && !localNotes.find((o) => o.note.sopInstanceUID === n.note.sopInstanceUID && o.delivery === 'sent'));
          localNotes = notes;
          publish({});
          // A note just delivered: the site now lists it (and may list replies).
          if (delivered && state.phase === 'ready') void loadSite();
        },
        error: (err: unknown) => log.error('Watching the notes written here failed', err),
      });
      return () => {
        sub.unsubscribe();
        if (mine === openSeq) {
          ++openSeq;
          ++loadSeq;
        }
      };
    },
    refresh: () => loadSite(),
    async ensureCached(a) {
      const studyUID = state.studyInstanceUID;
      if (!studyUID) throw new Error('No study is open');
      if (await deps.cache.readInstanceBytes(a.sopInstanceUID).catch(() => undefined)) return false;
      if (!site) throw new Error('The attachment is not in the local cache and the study\u2019s site is no longer configured');
      let bytes: ArrayBuffer;
      try {
        bytes = await deps.dicomweb(site).retrieveInstance({ studyInstanceUID: studyUID, seriesInstanceUID: a.seriesInstanceUID, sopInstanceUID: a.sopInstanceUID });
      } catch (err) {
        throw new Error(`${site.name}: the attachment could not be retrieved (${classifySiteError(err).message})`);
      }
      const header = readPart10Header(bytes);
      await deps.cache.putSeries([{ seriesInstanceUID: a.seriesInstanceUID, studyInstanceUID: studyUID, modality: header.modality ?? '', description: header.seriesDescription ?? '' }]);
      await deps.cache.putInstance({ sopInstanceUID: a.sopInstanceUID, studyInstanceUID: studyUID, seriesInstanceUID: a.seriesInstanceUID, transferSyntaxUID: header.transferSyntaxUID, ...(header.instanceNumber !== undefined ? { instanceNumber: header.instanceNumber } : {}) }, bytes);
      log.info(`Thread: attachment ${a.sopInstanceUID} of ${studyUID} cached (${bytes.byteLength} bytes)`);
      return true;
    },
  };
}
