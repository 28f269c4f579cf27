// Referral cases built on this workstation (issue 7): drafts, import into the
// local cache, identity, and sending through the outbox. Nothing here touches
// the network: `send` builds every Part 10 file in memory, writes the outbox
// job, the case, the mapping and the note in ONE Dexie transaction, and only
// then wakes the outbox, which delivers when the site answers.
//
// This module is the API and the draft lifecycle; the work is split by concern
// (issue 16) into referral-case-import / -identity / -gate / -send / -preview,
// each handed the per-repo store (deps, record access, identity memo) as an
// argument so two repos never share state.
import { readOpenableRows } from '../cache/sealing/openable-rows';
import { isSealedRowError } from '../cache/sealing/row-sealer';
import type { ReferralCaseRecord, ReferralPriority } from '../cache/telerad-db';
import { newUid } from '../lib/dicom/dcmjs-runtime';
import { problemsOf, qualityOf } from './referral-case-gate';
import { EMPTY_PATIENT, chooseIdentity, createIdentitiesOf, splitByIdentity } from './referral-case-identity';
import { addAttachments, importDicom } from './referral-case-import';
import { caseStudies, previewDeidentification, sizeOf } from './referral-case-preview';
import { send } from './referral-case-send';
import { findOutboxJobs } from '../outbox';
import { createCaseStore, isAttachment } from './referral-case-store';
import { addCase, deleteCase, markCaseSent } from './referral-case-rows';
import type { CaseContext } from './referral-case-store';
import type { ReferralCaseDeps, ReferralCases } from './referral-case-types';

// The public API, unchanged for callers: the types and errors now live in referral-case-types.ts.
export { LOCAL_SITE_ID, MIN_OVERRIDE_REASON_LENGTH, QualityBlockedError, SendRefusedError, findingLabel, referralLabel } from './referral-case-types';
export type {
  AttachmentFile,
  CaseCache,
  CaseFields,
  CaseQualityChecker,
  CaseStudy,
  DeidentificationPreview,
  ImportSummary,
  ReferralCaseDeps,
  ReferralCases,
  SendFile,
  SendOptions,
} from './referral-case-types';

export function createReferralCases(deps: ReferralCaseDeps): ReferralCases {
  const { db } = deps;
  const store = createCaseStore(deps);
  const ctx: CaseContext = { ...store, identitiesOf: createIdentitiesOf(store) };
  const { mustGet, mustBeDraft, update, randomBytes } = ctx;

  return {
    async list() {
      const { rows, refused } = await readOpenableRows({
        readAll: () => db.referralCases.orderBy('updatedAt').reverse().toArray(),
        readKeys: () => db.referralCases.orderBy('updatedAt').reverse().primaryKeys(),
        readOne: (key) => db.referralCases.get(key as string),
      });
      for (const r of refused) deps.log.error(`Referral case ${String(r.key)} failed its integrity check (${r.reason}): kept on disk, not listed`);
      return { cases: rows, unreadable: refused.length };
    },
    get: (id) => db.referralCases.get(id),

    async createDraft(defaults) {
      const t = deps.now();
      const c: ReferralCaseRecord = {
        id: deps.randomUUID(),
        // Made once: a photo-only case is this study; a case with images takes its first imported study.
        localStudyInstanceUID: newUid(randomBytes),
        patient: { ...EMPTY_PATIENT },
        clinicalQuestion: '',
        history: '',
        urgency: 'routine' as ReferralPriority,
        requestedSpecialty: '',
        ...(defaults?.referringClinician ? { referringClinician: defaults.referringClinician } : {}),
        deidentify: { enabled: false, retainLongitudinalFullDates: false, cleanDescriptors: false },
        compress: false,
        sopInstanceUIDs: [],
        skipped: [],
        attachments: [],
        state: 'draft',
        outboxJobIds: [],
        createdAt: t,
        updatedAt: t,
      };
      await addCase(db, c);
      return c;
    },

    async saveFields(id, fields) {
      const c = await mustBeDraft(id);
      const patch: Partial<ReferralCaseRecord> = { ...fields };
      // Typing the patient is how a photo-only case gets one.
      if (fields.patient && c.sopInstanceUIDs.every((uid) => isAttachment(c)(uid))) patch.identityResolution = 'typed';
      return update(id, patch);
    },

    async discardDraft(id) {
      await mustBeDraft(id);
      await deleteCase(db, id);
    },

    importDicom: (id, entries) => importDicom(ctx, id, entries),
    addAttachments: (id, files) => addAttachments(ctx, id, files),
    identities: async (id) => ctx.identitiesOf(await mustGet(id)),
    chooseIdentity: (id, identity) => chooseIdentity(ctx, id, identity),
    splitByIdentity: (id) => splitByIdentity(ctx, id),
    problems: async (id) => problemsOf(ctx, await mustGet(id)),
    studies: (id) => caseStudies(ctx, id),
    previewDeidentification: (id) => previewDeidentification(ctx, id),
    sizeOf: (id) => sizeOf(ctx, id),
    quality: async (id) => qualityOf(deps, await mustGet(id)),
    send: (id, options) => send(ctx, id, options),

    async settleDelivered() {
      // Cases or jobs that fail their integrity check are left as they are (list() names them; the outbox shows its own).
      const { rows: queued } = await readOpenableRows({
        readAll: () => db.referralCases.where('state').equals('queued').toArray(),
        readKeys: () => db.referralCases.where('state').equals('queued').primaryKeys(),
        readOne: (key) => db.referralCases.get(key as string),
      });
      for (const c of queued) {
        const jobs = await findOutboxJobs(db, c.outboxJobIds).catch((err: unknown) => {
          if (isSealedRowError(err)) return [];
          throw err;
        });
        if (jobs.length > 0 && jobs.every((j) => j?.state === 'sent')) {
          await markCaseSent(db, c.id, deps.now());
        }
      }
    },
  };
}
