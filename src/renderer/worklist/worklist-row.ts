import type { ReferralPriority, ReferralRecord } from '../cache/telerad-db';
import { formatBytes } from '../lib/format-bytes';

/**
 * Pure derivations of what a worklist line shows: age, size estimate, case
 * status, waiting time and turnaround colour. No clock is read here: `now`
 * is always an argument, so the thresholds are tested to the minute.
 */

export type { ReferralPriority };

/** Every status a case can have. */
export type CaseStatus = 'new' | 'awaiting-report' | 'more-info' | 'draft' | 'queued' | 'sent' | 'reported' | 'amended';

export const CASE_STATUSES: readonly CaseStatus[] = ['new', 'awaiting-report', 'more-info', 'draft', 'queued', 'sent', 'reported', 'amended'];

export const CASE_STATUS_LABEL: Record<CaseStatus, string> = {
  new: 'new',
  'awaiting-report': 'referral awaiting report',
  'more-info': 'more information requested',
  draft: 'draft',
  queued: 'queued',
  sent: 'sent',
  reported: 'reported',
  amended: 'amended',
};

/**
 * The statuses only this workstation knows (a report being written, waiting
 * in the outbox, sent but not yet seen at the site, or delivered: the site
 * stored it, before its next worklist answer says so). Set through
 * `WorklistStore.setLocalStatus` (reports/report-status.ts).
 */
export type LocalCaseStatus = 'draft' | 'queued' | 'sent' | 'reported';

export const PRIORITIES: readonly ReferralPriority[] = ['STAT', 'urgent', 'routine'];

/** Where a line's referral lookup is: not asked yet / in flight, answered (with or without a note), or failed. */
export type ReferralState = 'pending' | 'done' | 'error';

/** A worklist line: a site's study, a cached one, or both merged. */
export interface WorklistRow {
  key: string;
  siteId: string;
  studyInstanceUID: string;
  patientName: string;
  patientId: string;
  patientSex: string;
  /** For display, e.g. `45 y`, `7 mo`; empty when neither PatientAge nor both dates are known. */
  age: string;
  /** Age in days, for sorting; undefined when unknown. */
  ageDays?: number;
  /** DICOM DA. */
  studyDate: string;
  studyTime: string;
  modalities: string[];
  bodyPart: string;
  description: string;
  accessionNumber: string;
  numInstances?: number;
  size?: SizeEstimate;
  /** From the referral note; undefined while the lookup is pending or when it failed. A study without a note is routine. */
  priority?: ReferralPriority;
  referralState: ReferralState;
  status: CaseStatus;
  /**
   * When the study arrived, ms since epoch: StudyDate + StudyTime (in the
   * site's TimezoneOffsetFromUTC when sent, else this machine's zone).
   * Orthanc does not expose its reception time over QIDO-RS, and the referral
   * summary carries no date of its own, so the study's date is the best
   * stand-in every PACS answers.
   */
  arrivedAt?: number;
  /** Every instance is in the cache: it opens with the network gone. */
  availableOffline: boolean;
  /** Share of the instances stored (0–1) while a cached study is incomplete; absent when complete or none is stored. */
  offlineFraction?: number;
  /** True when the row is known only from the cache (its site did not list it this time). */
  fromCacheOnly: boolean;
}

// ---------------------------------------------------------------- age

const AS_UNIT_LABEL: Record<string, string> = { D: 'd', W: 'wk', M: 'mo', Y: 'y' };
const AS_UNIT_DAYS: Record<string, number> = { D: 1, W: 7, M: 30.44, Y: 365.25 };

function parseDa(da: string): { y: number; m: number; d: number } | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da.trim());
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return undefined;
  return { y, m: mo, d };
}

/**
 * The patient's age at the study: PatientAge (AS, `nnnD|W|M|Y`) when the site
 * stores it, else whole years between birth and study date — months under
 * two years and days under one month, as radiology reports write it.
 */
export function patientAge(patientAgeAs: string | undefined, birthDate: string, studyDate: string): { label: string; days?: number } {
  const as = /^\s*(\d{1,3})\s*([DWMY])\s*$/i.exec(patientAgeAs ?? '');
  if (as) {
    const n = Number(as[1]);
    const unit = as[2]!.toUpperCase();
    return { label: `${n} ${AS_UNIT_LABEL[unit]}`, days: Math.round(n * AS_UNIT_DAYS[unit]!) };
  }
  const b = parseDa(birthDate);
  const s = parseDa(studyDate);
  if (!b || !s) return { label: '' };
  const days = Math.round((Date.UTC(s.y, s.m - 1, s.d) - Date.UTC(b.y, b.m - 1, b.d)) / 86_400_000);
  if (days < 0) return { label: '' };
  let months = (s.y - b.y) * 12 + (s.m - b.m);
  if (s.d < b.d) months -= 1;
  if (months < 1) return { label: `${days} d`, days };
  if (months < 24) return { label: `${months} mo`, days };
  return { label: `${Math.floor(months / 12)} y`, days };
}

// ---------------------------------------------------------------- size

/**
 * Typical bytes of one stored instance per modality, uncompressed: CT 512²×16 bit,
 * MR 256²–512², CR/DX ~2.5k×3k, MG ~3k×4k, multi-frame XA/US runs. Only an order
 * of magnitude for "how long will this take on this link": shown with "≈".
 */
export const TYPICAL_INSTANCE_BYTES: Record<string, number> = {
  CT: 530_000,
  MR: 200_000,
  PT: 70_000,
  NM: 300_000,
  CR: 10_000_000,
  DX: 10_000_000,
  MG: 25_000_000,
  US: 1_000_000,
  XA: 10_000_000,
  RF: 5_000_000,
  OT: 1_000_000,
  SC: 1_000_000,
  XC: 3_000_000,
  ES: 3_000_000,
  DOC: 500_000,
  SR: 10_000,
  KO: 5_000,
  PR: 5_000,
};
const DEFAULT_INSTANCE_BYTES = 1_000_000;
const NON_IMAGE_MODALITIES = new Set(['SR', 'KO', 'PR', 'DOC']);

export interface SizeEstimate {
  bytes: number;
  /** True when summed from the cached files, false for the per-modality estimate. */
  exact: boolean;
}

/**
 * Instances × the typical size of the study's largest imaging modality (an SR
 * or a PDF beside a CT does not make the CT small); exact bytes win when the
 * whole study is cached.
 */
export function estimateStudySize(modalities: readonly string[], numInstances: number | undefined, exactBytes?: number): SizeEstimate | undefined {
  if (exactBytes !== undefined) return { bytes: exactBytes, exact: true };
  if (numInstances === undefined) return undefined;
  const imaging = modalities.filter((m) => !NON_IMAGE_MODALITIES.has(m));
  const pool = imaging.length > 0 ? imaging : modalities;
  const perInstance = pool.length > 0 ? Math.max(...pool.map((m) => TYPICAL_INSTANCE_BYTES[m] ?? DEFAULT_INSTANCE_BYTES)) : DEFAULT_INSTANCE_BYTES;
  return { bytes: numInstances * perInstance, exact: false };
}

export function formatSize(size: SizeEstimate | undefined): string {
  if (!size) return '';
  return size.exact ? formatBytes(size.bytes) : `≈ ${formatBytes(size.bytes)}`;
}

// ---------------------------------------------------------------- status

/**
 * What the site's study holds decides first (a report there is the end of
 * the case), then what this workstation is doing with it, then whether a
 * referral asks for a report. `amended` needs the report's amendment chain,
 * which the referral summary does not carry yet.
 */
export function deriveCaseStatus(referral: ReferralRecord | undefined, local: LocalCaseStatus | undefined): CaseStatus {
  // The specialist asked a question (issue 7): the case waits for the referrer, whatever came before.
  if (referral?.moreInformationRequested) return local ?? 'more-info';
  if (referral?.hasReport) return 'reported';
  if (local) return local;
  if (referral?.noteSopInstanceUID !== undefined || referral?.priority !== undefined) return 'awaiting-report';
  return 'new';
}

// ---------------------------------------------------------------- waiting time

/**
 * StudyDate + StudyTime as ms since epoch. With a TimezoneOffsetFromUTC the
 * instant is exact; without one the site's local time is read as this
 * machine's, which is right for a site in the same zone and off by the zone
 * difference otherwise (no better information travels in QIDO-RS).
 */
export function studyArrivedAt(studyDate: string, studyTime: string | undefined, timezoneOffset?: string): number | undefined {
  const d = parseDa(studyDate);
  if (!d) return undefined;
  const t = /^(\d{2})(\d{2})?(\d{2})?/.exec((studyTime ?? '').trim());
  const hh = t ? Number(t[1]) : 0;
  const mm = t?.[2] ? Number(t[2]) : 0;
  const ss = t?.[3] ? Number(t[3]) : 0;
  const tz = /^([+-])(\d{2})(\d{2})$/.exec((timezoneOffset ?? '').trim());
  if (tz) {
    const sign = tz[1] === '-' ? -1 : 1;
    const offsetMin = sign * (Number(tz[2]) * 60 + Number(tz[3]));
    return Date.UTC(d.y, d.m - 1, d.d, hh, mm, ss) - offsetMin * 60_000;
  }
  return new Date(d.y, d.m - 1, d.d, hh, mm, ss).getTime();
}

export function waitingMs(row: Pick<WorklistRow, 'arrivedAt'>, now: number): number | undefined {
  return row.arrivedAt === undefined ? undefined : Math.max(0, now - row.arrivedAt);
}

export function formatWaiting(ms: number | undefined): string {
  if (ms === undefined) return '';
  const min = Math.floor(ms / 60_000);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h ${min % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** How long each priority may wait for its report before the line turns red. */
export const TURNAROUND_MS: Record<ReferralPriority, number> = {
  STAT: 60 * 60_000,
  urgent: 4 * 60 * 60_000,
  routine: 24 * 60 * 60_000,
};

/** Share of the allowance after which the line warns (amber) before it is overdue. */
export const TURNAROUND_WARN_FRACTION = 0.75;

export type TurnaroundState = 'ok' | 'due-soon' | 'overdue' | 'done' | 'unknown';

/**
 * The turnaround colour of a line: `overdue` past the allowance of its
 * priority (STAT 1 h, urgent 4 h, routine 24 h; strictly over), `due-soon`
 * past three quarters of it, `done` once reported or sent (nothing left to
 * wait for), `unknown` without a study date. A study whose referral is still
 * being read is timed as routine until its priority is known.
 */
export function turnaroundState(row: Pick<WorklistRow, 'priority' | 'status' | 'arrivedAt'>, now: number): TurnaroundState {
  if (row.status === 'reported' || row.status === 'amended' || row.status === 'sent') return 'done';
  const waited = waitingMs(row, now);
  if (waited === undefined) return 'unknown';
  const allowance = TURNAROUND_MS[row.priority ?? 'routine'];
  if (waited > allowance) return 'overdue';
  if (waited > allowance * TURNAROUND_WARN_FRACTION) return 'due-soon';
  return 'ok';
}
