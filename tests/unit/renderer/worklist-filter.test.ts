// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { EMPTY_FILTER, filterRows, nextSort, sortRows } from '../../../src/renderer/worklist/worklist-filter';
import type { WorklistFilter } from '../../../src/renderer/worklist/worklist-filter';
import type { WorklistRow } from '../../../src/renderer/worklist/worklist-row';

const H = 3_600_000;
const NOW = Date.UTC(2026, 5, 1, 12);

function row(key: string, patch: Partial<WorklistRow> = {}): WorklistRow {
  return {
    key,
    siteId: 'hospital-a',
    studyInstanceUID: key,
    patientName: `PATIENT, ${key.toUpperCase()}`,
    patientId: `ID-${key}`,
    patientSex: 'F',
    age: '40 y',
    ageDays: 40 * 365,
    studyDate: '20260601',
    studyTime: '080000',
    modalities: ['CT'],
    bodyPart: 'CHEST',
    description: 'CT CHEST',
    accessionNumber: `ACC-${key}`,
    numInstances: 10,
    size: { bytes: 5_300_000, exact: false },
    priority: 'routine',
    referralState: 'done',
    status: 'new',
    arrivedAt: NOW - H,
    availableOffline: false,
    fromCacheOnly: false,
    ...patch,
  };
}

const ROWS: WorklistRow[] = [
  row('a', { patientName: 'DOE, JANE', modalities: ['CT', 'SR'], priority: 'STAT', status: 'awaiting-report', studyDate: '20260510' }),
  row('b', { siteId: 'hospital-b', modalities: ['DX'], description: 'CHEST PA', priority: 'urgent', studyDate: '20260520' }),
  row('c', { modalities: ['MR'], priority: undefined, referralState: 'pending', accessionNumber: 'RAD-77', studyDate: '20260601' }),
  row('d', { status: 'reported', studyDate: '', description: 'Knee' }),
];

const only = (f: Partial<WorklistFilter>): string[] => filterRows(ROWS, { ...EMPTY_FILTER, ...f }).map((r) => r.key);

describe('worklist filters', () => {
  it('pass every row when empty', () => {
    expect(only({})).toEqual(['a', 'b', 'c', 'd']);
  });

  it('filter by site, modality (any of the study\'s), priority and status', () => {
    expect(only({ siteId: 'hospital-b' })).toEqual(['b']);
    expect(only({ modality: 'SR' })).toEqual(['a']);
    expect(only({ modality: 'CT' })).toEqual(['a', 'd']);
    expect(only({ priority: 'STAT' })).toEqual(['a']);
    expect(only({ status: 'reported' })).toEqual(['d']);
    expect(only({ status: 'awaiting-report', priority: 'STAT' })).toEqual(['a']);
  });

  it('do not count a study whose priority is still being read as routine', () => {
    expect(only({ priority: 'routine' })).toEqual(['d']);
  });

  it('filter an inclusive date range from date inputs, and leave undated studies out of a bounded range', () => {
    expect(only({ dateFrom: '2026-05-20' })).toEqual(['b', 'c']);
    expect(only({ dateTo: '2026-05-20' })).toEqual(['a', 'b']);
    expect(only({ dateFrom: '2026-05-11', dateTo: '2026-05-31' })).toEqual(['b']);
    expect(only({ dateFrom: '20260601', dateTo: '20260601' })).toEqual(['c']);
  });

  it('match free text in name, patient ID, description and accession, case-insensitively, every word', () => {
    expect(only({ text: 'doe' })).toEqual(['a']);
    expect(only({ text: 'id-b' })).toEqual(['b']);
    expect(only({ text: 'knee' })).toEqual(['d']);
    expect(only({ text: 'rad-77' })).toEqual(['c']);
    expect(only({ text: '  jane   chest ' })).toEqual(['a']);
    expect(only({ text: 'jane knee' })).toEqual([]);
  });
});

describe('worklist sort', () => {
  it('defaults to priority, then the longest waiting first; unknown priority sorts with routine', () => {
    const rows = [
      row('routine-old', { priority: 'routine', arrivedAt: NOW - 30 * H }),
      row('stat-new', { priority: 'STAT', arrivedAt: NOW - 1 * H }),
      row('pending', { priority: undefined, referralState: 'pending', arrivedAt: NOW - 40 * H }),
      row('stat-old', { priority: 'STAT', arrivedAt: NOW - 2 * H }),
      row('urgent', { priority: 'urgent', arrivedAt: NOW - 100 * H }),
      row('undated', { priority: 'STAT', arrivedAt: undefined }),
    ];
    expect(sortRows(rows, { key: 'priority', dir: 'asc' }, NOW).map((r) => r.key)).toEqual([
      'stat-old',
      'stat-new',
      'undated',
      'urgent',
      'pending',
      'routine-old',
    ]);
  });

  it('sorts a column both ways, blanks last either way, ties in the default order', () => {
    const rows = [row('x', { bodyPart: 'KNEE' }), row('y', { bodyPart: '' }), row('z', { bodyPart: 'CHEST', priority: 'STAT' }), row('w', { bodyPart: 'CHEST' })];
    expect(sortRows(rows, { key: 'bodyPart', dir: 'asc' }, NOW).map((r) => r.key)).toEqual(['z', 'w', 'x', 'y']);
    expect(sortRows(rows, { key: 'bodyPart', dir: 'desc' }, NOW).map((r) => r.key)).toEqual(['x', 'z', 'w', 'y']);
  });

  it('sorts by waiting time, size and site name', () => {
    const rows = [row('a', { arrivedAt: NOW - 2 * H, size: { bytes: 1, exact: true } }), row('b', { arrivedAt: NOW - 5 * H, siteId: 'zz' })];
    expect(sortRows(rows, { key: 'waiting', dir: 'desc' }, NOW).map((r) => r.key)).toEqual(['b', 'a']);
    expect(sortRows(rows, { key: 'size', dir: 'desc' }, NOW).map((r) => r.key)).toEqual(['b', 'a']);
    const names = (id: string): string => (id === 'zz' ? 'Alpha Clinic' : 'Zulu Hospital');
    expect(sortRows(rows, { key: 'site', dir: 'asc' }, NOW, names).map((r) => r.key)).toEqual(['b', 'a']);
  });

  it('a header click starts a column in its natural direction and a second click flips it', () => {
    expect(nextSort({ key: 'priority', dir: 'asc' }, 'waiting')).toEqual({ key: 'waiting', dir: 'desc' });
    expect(nextSort({ key: 'priority', dir: 'asc' }, 'patientName')).toEqual({ key: 'patientName', dir: 'asc' });
    expect(nextSort({ key: 'patientName', dir: 'asc' }, 'patientName')).toEqual({ key: 'patientName', dir: 'desc' });
  });

  it('sorts and filters 10,000 rows in well under a frame budget per keystroke', () => {
    const many = Array.from({ length: 10_000 }, (_, i) =>
      row(`r${i}`, { priority: (['STAT', 'urgent', 'routine'] as const)[i % 3], arrivedAt: NOW - (i % 97) * H, patientName: `P${i}` }),
    );
    const t0 = performance.now();
    const sorted = sortRows(filterRows(many, { ...EMPTY_FILTER, text: 'p1' }), { key: 'priority', dir: 'asc' }, NOW);
    const ms = performance.now() - t0;
    expect(sorted.length).toBe(1111);
    // Generous: a bound against an accidental O(n²), not a benchmark.
    expect(ms).toBeLessThan(500);
  });
});
