import { useCallback, useEffect, useRef, useState } from 'react';
import type { Dispatch, SetStateAction } from 'react';
import type { ReferralCaseRecord } from '../cache/telerad-db';
import type { IdentityGroup } from '../case-import';
import type { Logger } from '../../shared/log';
import type { CaseFields, CaseStudy, DeidentificationPreview, ReferralCases } from './referral-case-repo';
import { errorMessage } from '../../shared/error-message';

export interface WizardCaseSize {
  instances: number;
  bytes: number;
}

export interface WizardCase {
  record: ReferralCaseRecord | undefined;
  setRecord: Dispatch<SetStateAction<ReferralCaseRecord | undefined>>;
  studies: CaseStudy[];
  identities: IdentityGroup[];
  problems: string[];
  size: WizardCaseSize;
  notice: string | undefined;
  setNotice: (notice: string | undefined) => void;
  preview: DeidentificationPreview | undefined;
  setPreview: (preview: DeidentificationPreview | undefined) => void;
  busy: string | undefined;
  error: string | undefined;
  setError: (error: string | undefined) => void;
  /** Saves a change as a draft (one save after another); the screen shows it at once. */
  save: (fields: Partial<CaseFields>) => void;
  /** Runs an action after the pending saves, shows it as busy, then reads the case again. */
  run: (what: string, work: () => Promise<void>) => Promise<void>;
}

/**
 * The wizard's case: the stored record and its checks, read again after each action,
 * with the saves of typed changes queued one after another.
 */
export function useWizardCase(cases: ReferralCases, caseId: string, log: Logger): WizardCase {
  const [record, setRecord] = useState<ReferralCaseRecord | undefined>(undefined);
  const [studies, setStudies] = useState<CaseStudy[]>([]);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [preview, setPreview] = useState<DeidentificationPreview | undefined>(undefined);
  const [identities, setIdentities] = useState<IdentityGroup[]>([]);
  const [problems, setProblems] = useState<string[]>([]);
  const [size, setSize] = useState<WizardCaseSize>({ instances: 0, bytes: 0 });
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
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

  return { record, setRecord, studies, identities, problems, size, notice, setNotice, preview, setPreview, busy, error, setError, save, run };
}
