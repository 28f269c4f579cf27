import type { Logger } from '../../shared/log';
import type { CaseNoteRecord, TeleradDB } from '../cache/telerad-db';
import { OUTBOX_TABLE } from '../outbox';
import type { EnqueueOutboxJob } from '../outbox';
import type { StudyCache } from '../cache/study-cache';
import { CASE_NOTES_TABLE, addCaseNote } from './case-note-rows';
import { readPart10Header } from '../cache/part10-header';
import type { BuiltInstance, StudyContext } from '../lib/dicom/report-dicom-types';
import { uuidToDicomUid } from '../lib/dicom/uid';
import type { CaseNoteInput, NoteReference } from '../lib/dicom/case-note-types';
import type { BuiltObject, CaseDicomContext } from '../case-import';
import { errorMessage } from '../../shared/error-message';

/**
 * What the user does in the thread: the specialist asks for more
 * information (a consult note, status "more information needed"); the
 * referrer answers (a progress note, with new photos and PDFs in the same
 * study) or posts the outcome. Each action builds its instances first (UIDs
 * made here, once, so every retry sends the same bytes), then ONE Dexie
 * transaction writes the outbox job and the `caseNotes` row: after a crash
 * either both exist or neither does. Only then is the outbox woken.
 */

/** An action refused for a reason the user can fix: the message says how. */
export class ThreadActionRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ThreadActionRefused';
  }
}

export interface NewAttachmentFile {
  name: string;
  /** The browser's MIME type ('' when it does not know). */
  type: string;
  bytes: Uint8Array;
}

export interface ThreadActionsDeps {
  db: TeleradDB;
  readInstanceBytes: (sopInstanceUID: string) => Promise<ArrayBuffer | undefined>;
  studyContextFromPart10: (bytes: ArrayBuffer) => StudyContext;
  buildCaseNote: (input: CaseNoteInput) => Promise<BuiltInstance>;
  /** photoToDicom / pdfToDicom bound to dcmjs (loaded when first needed). */
  attachments: () => Promise<{
    photo: (bytes: Uint8Array, mime: string, ctx: CaseDicomContext) => BuiltObject;
    pdf: (bytes: Uint8Array, ctx: CaseDicomContext) => BuiltObject;
  }>;
  /** The new instances go into the local cache too: photos open in the viewer before the site has them. */
  cache?: Pick<StudyCache, 'putInstance' | 'putSeries'>;
  /** Puts the note and its attachments into the outbox, in the transaction that records the note. */
  enqueueOutboxJob: EnqueueOutboxJob;
  now: () => number;
  randomUUID: () => string;
  log: Logger;
}

export interface ThreadCase {
  siteId: string;
  studyInstanceUID: string;
}

export interface ThreadActions {
  askForMoreInformation(c: ThreadCase, question: string, inReplyTo?: NoteReference): Promise<CaseNoteRecord>;
  answer(c: ThreadCase, text: string, files: readonly NewAttachmentFile[], inReplyTo?: NoteReference): Promise<CaseNoteRecord>;
  postOutcome(c: ThreadCase, text: string, inReplyTo?: NoteReference): Promise<CaseNoteRecord>;
}

/** A note's content without what the action fills in (distributed over the kinds of note). */
type NoteBody = CaseNoteInput extends infer T ? (T extends CaseNoteInput ? Omit<T, 'study' | 'sopInstanceUID' | 'seriesInstanceUID' | 'author' | 'writtenAt'> : never) : never;

type Kind = 'consult' | 'answer' | 'outcome';
const LABEL: Record<Kind, string> = { consult: 'Question', answer: 'Answer', outcome: 'Outcome' };

/** The outbox panel's line: "Question — CT CHEST · DOE^JANE". */
export function threadJobLabel(kind: Kind, study: Pick<StudyContext, 'studyDescription' | 'patientName'>): string {
  return `${LABEL[kind]} — ${study.studyDescription?.trim() || 'study'} · ${study.patientName || 'unknown patient'}`;
}

function isPdfFile(f: NewAttachmentFile): boolean {
  return f.type === 'application/pdf' || /\.pdf$/i.test(f.name);
}

type AttachmentConverters = Awaited<ReturnType<ThreadActionsDeps['attachments']>>;

/** The picked files as DICOM instances of the study; the first that cannot be converted refuses the whole answer. */
function convertFiles(convert: AttachmentConverters, study: StudyContext, files: readonly NewAttachmentFile[]): BuiltObject[] {
  const built: BuiltObject[] = [];
  const ctx: CaseDicomContext = { ...study };
  for (const [i, f] of files.entries()) {
    const base = { ...ctx, instanceNumber: 1, description: f.name.replace(/\.[^.]+$/, '') || (isPdfFile(f) ? 'Document' : 'Photo') };
    try {
      built.push(isPdfFile(f) ? convert.pdf(f.bytes, base) : convert.photo(f.bytes, f.type, base));
    } catch (err) {
      // Nothing is written: the user fixes the file list and answers again.
      throw new ThreadActionRefused(`${f.name} (attachment ${i + 1}) cannot be attached: ${errorMessage(err)}`);
    }
  }
  return built;
}

/** The new photos and PDFs into the cache, so they open here before (and without) the site; best effort: the outbox job has them anyway. */
async function cacheAttachments(cache: NonNullable<ThreadActionsDeps['cache']>, studyUID: string, attachments: readonly BuiltObject[], log: Logger): Promise<void> {
  for (const a of attachments) {
    try {
      const header = readPart10Header(a.bytes);
      await cache.putSeries([{ seriesInstanceUID: a.seriesInstanceUID, studyInstanceUID: studyUID, modality: header.modality ?? 'XC', description: header.seriesDescription ?? '' }]);
      await cache.putInstance({ sopInstanceUID: a.sopInstanceUID, studyInstanceUID: studyUID, seriesInstanceUID: a.seriesInstanceUID, transferSyntaxUID: a.transferSyntaxUID }, a.bytes);
    } catch (err) {
      log.warn(`Attachment ${a.sopInstanceUID} not cached locally: ${errorMessage(err)}`);
    }
  }
}

export function createThreadActions(deps: ThreadActionsDeps): ThreadActions {
  const { db, log } = deps;
  const uid = (): string => uuidToDicomUid(deps.randomUUID());

  const author = async (): Promise<{ name: string; credentials?: string; organization?: string }> => {
    const p = await db.userProfile.get('me');
    if (!p?.name.trim()) throw new ThreadActionRefused('Add your name in your profile (in the report panel) first: every note names who wrote it.');
    return { name: p.name.trim(), ...(p.credentials.trim() ? { credentials: p.credentials.trim() } : {}), ...(p.institution?.trim() ? { organization: p.institution.trim() } : {}) };
  };

  const studyContext = async (studyUID: string): Promise<StudyContext> => {
    const instances = await db.instances.where('studyInstanceUID').equals(studyUID).toArray();
    for (const inst of instances) {
      const bytes = await deps.readInstanceBytes(inst.sopInstanceUID).catch(() => undefined);
      if (bytes) return deps.studyContextFromPart10(bytes);
    }
    throw new ThreadActionRefused('No instance of this study is in the local cache, so the note cannot name its patient: open the study\u2019s images once, then try again.');
  };

  const commit = async (c: ThreadCase, kind: Kind, study: StudyContext, note: BuiltInstance, attachments: BuiltObject[], authorName: string): Promise<CaseNoteRecord> => {
    const t = deps.now();
    const jobId = deps.randomUUID();
    const row: CaseNoteRecord = { sopInstanceUID: note.sopInstanceUID, studyInstanceUID: c.studyInstanceUID, siteId: c.siteId, kind, outboxJobId: jobId, author: authorName, createdAt: t };
    await db.transaction('rw', [OUTBOX_TABLE, CASE_NOTES_TABLE], async (tx) => {
      await deps.enqueueOutboxJob(tx, {
        id: jobId,
        siteId: c.siteId,
        studyInstanceUID: c.studyInstanceUID,
        kind: 'referral',
        label: threadJobLabel(kind, study),
        // Attachments first: when the note arrives, what it points at is already there.
        instances: [...attachments, note],
        createdAt: t,
      });
      await addCaseNote(tx, row);
    });
    log.info(`${LABEL[kind]} ${note.sopInstanceUID} of ${c.studyInstanceUID} written with ${attachments.length} attachment(s): outbox job ${jobId}`);
    if (deps.cache && attachments.length > 0) await cacheAttachments(deps.cache, c.studyInstanceUID, attachments, log);
    return row;
  };

  const noteOf = async (c: ThreadCase, input: NoteBody, study: StudyContext, who: Awaited<ReturnType<typeof author>>): Promise<BuiltInstance> =>
    deps.buildCaseNote({ ...input, study, sopInstanceUID: uid(), seriesInstanceUID: uid(), author: who, writtenAt: deps.now() } as CaseNoteInput);

  return {
    async askForMoreInformation(c, question, inReplyTo) {
      if (!question.trim()) throw new ThreadActionRefused('Write the question first: what do you need to know?');
      const who = await author();
      const study = await studyContext(c.studyInstanceUID);
      const note = await noteOf(c, { kind: 'consult', status: 'more-info-needed', question: question.trim(), ...(inReplyTo ? { answers: inReplyTo } : {}) }, study, who);
      return commit(c, 'consult', study, note, [], who.name);
    },

    async answer(c, text, files, inReplyTo) {
      if (!text.trim() && files.length === 0) throw new ThreadActionRefused('Write the answer or attach a photo or PDF first.');
      const who = await author();
      const study = await studyContext(c.studyInstanceUID);
      // The converters (dcmjs) load only when there is a file to convert.
      const built = files.length > 0 ? convertFiles(await deps.attachments(), study, files) : [];
      const attachments: NoteReference[] = built.map((b) => ({ sopInstanceUID: b.sopInstanceUID, sopClassUID: b.sopClassUID, seriesInstanceUID: b.seriesInstanceUID }));
      const note = await noteOf(
        c,
        { kind: 'answer', sections: text.trim() ? [{ id: 'answer', label: 'Answer', text: text.trim() }] : [], attachments, ...(inReplyTo ? { answers: inReplyTo } : {}) },
        study,
        who,
      );
      return commit(c, 'answer', study, note, built, who.name);
    },

    async postOutcome(c, text, inReplyTo) {
      if (!text.trim()) throw new ThreadActionRefused('Write what happened to the patient first.');
      const who = await author();
      const study = await studyContext(c.studyInstanceUID);
      const note = await noteOf(c, { kind: 'outcome', sections: [{ id: 'outcome', label: 'Outcome', text: text.trim() }], ...(inReplyTo ? { answers: inReplyTo } : {}) }, study, who);
      return commit(c, 'outcome', study, note, [], who.name);
    },
  };
}
