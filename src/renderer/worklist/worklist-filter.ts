import type { ReferralPriority } from '../cache/telerad-db';
import type { CaseStatus, WorklistRow } from './worklist-row';
import { waitingMs } from './worklist-row';

/**
 * Filtering and sorting of worklist lines: pure functions over rows, so the
 * view only renders and the rules are tested without a browser.
 */

export interface WorklistFilter {
  siteId: string;
  modality: string;
  priority: '' | ReferralPriority;
  status: '' | CaseStatus;
  /** Matched case-insensitively against patient name, patient ID, description and accession number. */
  text: string;
  /** Inclusive bounds on the study date, `YYYY-MM-DD` (an `<input type="date">` value) or `YYYYMMDD`; empty = open. */
  dateFrom: string;
  dateTo: string;
  /** 'complete': only cases whose every image is in the local cache (they open with no network). */
  offline?: '' | 'complete';
}

export const EMPTY_FILTER: WorklistFilter = { siteId: '', modality: '', priority: '', status: '', text: '', dateFrom: '', dateTo: '', offline: '' };

export function isFilterActive(f: WorklistFilter): boolean {
  return Object.values(f).some((v) => v !== '' && v !== undefined);
}

const toDa = (date: string): string => date.replace(/-/g, '').trim();

/**
 * A study whose priority is not known yet (its referral is still being read,
 * or reading it failed) is routine for the filter only once known: filtering
 * "STAT" must not show a study that may turn out routine, nor hide one that
 * may turn out STAT for longer than its lookup takes.
 */
export function matchesFilter(row: WorklistRow, f: WorklistFilter): boolean {
  if (f.siteId && row.siteId !== f.siteId) return false;
  if (f.modality && !row.modalities.includes(f.modality)) return false;
  if (f.priority && row.priority !== f.priority) return false;
  if (f.status && row.status !== f.status) return false;
  if (f.offline === 'complete' && !row.availableOffline) return false;
  const from = toDa(f.dateFrom);
  const to = toDa(f.dateTo);
  // A study without a date cannot be placed in a range: a bounded filter leaves it out.
  if ((from || to) && !/^\d{8}$/.test(row.studyDate)) return false;
  if (from && row.studyDate < from) return false;
  if (to && row.studyDate > to) return false;
  const text = f.text.trim().toLowerCase();
  if (text) {
    const hay = `${row.patientName}\n${row.patientId}\n${row.description}\n${row.accessionNumber}`.toLowerCase();
    // Every word must match somewhere: "doe ct" finds DOE's CT.
    if (!text.split(/\s+/).every((w) => hay.includes(w))) return false;
  }
  return true;
}

export function filterRows(rows: readonly WorklistRow[], f: WorklistFilter): WorklistRow[] {
  if (!isFilterActive(f)) return [...rows];
  return rows.filter((r) => matchesFilter(r, f));
}

// ---------------------------------------------------------------- sort

export type SortKey =
  | 'priority'
  | 'status'
  | 'waiting'
  | 'patientName'
  | 'patientId'
  | 'age'
  | 'modalities'
  | 'bodyPart'
  | 'studyDate'
  | 'description'
  | 'site'
  | 'numInstances'
  | 'size'
  | 'offline';

export interface WorklistSort {
  key: SortKey;
  dir: 'asc' | 'desc';
}

/** The reading order: most urgent first, and within a priority the longest waiting first. */
export const DEFAULT_SORT: WorklistSort = { key: 'priority', dir: 'asc' };

/** The direction a first click on a column header sorts in: waiting time, size and counts biggest first. */
export function firstDirection(key: SortKey): 'asc' | 'desc' {
  return key === 'waiting' || key === 'size' || key === 'numInstances' || key === 'studyDate' || key === 'offline' ? 'desc' : 'asc';
}

/** Clicking a header: a new column starts in its natural direction, the same column flips. */
export function nextSort(current: WorklistSort, key: SortKey): WorklistSort {
  if (current.key === key) return { key, dir: current.dir === 'asc' ? 'desc' : 'asc' };
  return { key, dir: firstDirection(key) };
}

const PRIORITY_RANK: Record<ReferralPriority, number> = { STAT: 0, urgent: 1, routine: 2 };
const STATUS_RANK: Record<CaseStatus, number> = {
  'awaiting-report': 0,
  'more-info': 0,
  new: 1,
  draft: 2,
  queued: 3,
  sent: 4,
  amended: 5,
  reported: 6,
};

/** Unknown priority (lookup pending) sorts with routine: it must not jump ahead of a known STAT. */
const priorityRank = (r: WorklistRow): number => PRIORITY_RANK[r.priority ?? 'routine'];

type Value = string | number | undefined;

function valueOf(r: WorklistRow, key: SortKey, now: number, siteName: (id: string) => string): Value {
  switch (key) {
    case 'priority':
      return priorityRank(r);
    case 'status':
      return STATUS_RANK[r.status];
    case 'waiting':
      return waitingMs(r, now);
    case 'patientName':
      return r.patientName;
    case 'patientId':
      return r.patientId;
    case 'age':
      return r.ageDays;
    case 'modalities':
      return r.modalities.join(',');
    case 'bodyPart':
      return r.bodyPart;
    case 'studyDate':
      return `${r.studyDate}${r.studyTime}`;
    case 'description':
      return r.description;
    case 'site':
      return siteName(r.siteId);
    case 'numInstances':
      return r.numInstances;
    case 'size':
      return r.size?.bytes;
    case 'offline':
      return r.availableOffline ? 1 : 0;
  }
}

/** Missing values ('' or undefined) go last in either direction: a blank never heads the list. */
function compareValues(a: Value, b: Value, dir: 1 | -1): number {
  const aMissing = a === undefined || a === '';
  const bMissing = b === undefined || b === '';
  if (aMissing || bMissing) return aMissing === bMissing ? 0 : aMissing ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return (a - b) * dir;
  return String(a).localeCompare(String(b), undefined, { sensitivity: 'base', numeric: true }) * dir;
}

/** The default order as a tie-break for every column: priority, then longest waiting, then a stable key. */
function defaultCompare(a: WorklistRow, b: WorklistRow, now: number): number {
  return (
    priorityRank(a) - priorityRank(b) ||
    compareValues(waitingMs(a, now), waitingMs(b, now), -1) ||
    a.patientName.localeCompare(b.patientName) ||
    a.key.localeCompare(b.key)
  );
}

/**
 * Sorted copy. Values are computed once per row (a 10,000-line list sorts
 * without re-deriving them n·log n times).
 */
export function sortRows(
  rows: readonly WorklistRow[],
  sort: WorklistSort,
  now: number,
  siteName: (id: string) => string = (id) => id,
): WorklistRow[] {
  const dir = sort.dir === 'asc' ? 1 : -1;
  const keyed = rows.map((row) => ({ row, v: valueOf(row, sort.key, now, siteName) }));
  keyed.sort((a, b) => compareValues(a.v, b.v, dir) || defaultCompare(a.row, b.row, now));
  return keyed.map((k) => k.row);
}
