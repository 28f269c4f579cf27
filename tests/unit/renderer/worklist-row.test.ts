// @vitest-environment node
import { describe, expect, it } from 'vitest';
import {
  TURNAROUND_MS,
  deriveCaseStatus,
  estimateStudySize,
  formatSize,
  formatWaiting,
  patientAge,
  studyArrivedAt,
  turnaroundState,
} from '../../../src/renderer/worklist/worklist-row';
import type { ReferralRecord } from '../../../src/renderer/cache/telerad-db';

const MIN = 60_000;
const H = 60 * MIN;

describe('patient age', () => {
  it('uses PatientAge when the site stores it', () => {
    expect(patientAge('045Y', '19000101', '20260101').label).toBe('45 y');
    expect(patientAge('006M', '', '').label).toBe('6 mo');
    expect(patientAge('003W', '', '').label).toBe('3 wk');
    expect(patientAge('010D', '', '').label).toBe('10 d');
  });

  it('computes whole years from the birth date to the study date, not to today', () => {
    expect(patientAge(undefined, '19800615', '20260614').label).toBe('45 y');
    expect(patientAge(undefined, '19800615', '20260615').label).toBe('46 y');
    expect(patientAge('', '20000229', '20260228').label).toBe('25 y');
  });

  it('writes months under two years and days under one month', () => {
    expect(patientAge(undefined, '20250110', '20260109').label).toBe('11 mo');
    expect(patientAge(undefined, '20240110', '20260109').label).toBe('23 mo');
    expect(patientAge(undefined, '20260101', '20260115').label).toBe('14 d');
  });

  it('leaves the age blank when a date is missing, malformed or the birth is after the study', () => {
    expect(patientAge(undefined, '', '20260101').label).toBe('');
    expect(patientAge(undefined, '1980', '20260101').label).toBe('');
    expect(patientAge(undefined, '20270101', '20260101').label).toBe('');
  });

  it('gives an age in days to sort by', () => {
    expect(patientAge('001Y', '', '').days).toBe(365);
    expect(patientAge(undefined, '20260101', '20260115').days).toBe(14);
  });
});

describe('size estimate', () => {
  it('is instances times the typical size of the largest imaging modality, marked ≈', () => {
    const ct = estimateStudySize(['CT', 'SR'], 100);
    expect(ct).toEqual({ bytes: 100 * 530_000, exact: false });
    expect(formatSize(ct)).toBe('≈ 53 MB');
    expect(estimateStudySize(['DX'], 2)?.bytes).toBe(20_000_000);
    expect(estimateStudySize(['SR'], 1)?.bytes).toBe(10_000);
  });

  it('is exact, without ≈, when the study is in the cache', () => {
    const exact = estimateStudySize(['CT'], 24, 12_615_000);
    expect(exact).toEqual({ bytes: 12_615_000, exact: true });
    expect(formatSize(exact)).toBe('13 MB');
  });

  it('is unknown without an instance count', () => {
    expect(estimateStudySize(['CT'], undefined)).toBeUndefined();
  });
});

describe('case status', () => {
  const ref = (patch: Partial<ReferralRecord>): ReferralRecord => ({ studyInstanceUID: '1', siteId: 'a', attachments: [], hasReport: false, fetchedAt: 0, ...patch });

  it('is new without a referral, awaiting a report with one, reported once the site holds a report', () => {
    expect(deriveCaseStatus(undefined, undefined)).toBe('new');
    expect(deriveCaseStatus(ref({ noteSopInstanceUID: '1.2' }), undefined)).toBe('awaiting-report');
    expect(deriveCaseStatus(ref({ noteSopInstanceUID: '1.2', hasReport: true }), undefined)).toBe('reported');
  });

  it('shows what this workstation is doing (draft, queued, sent) until the site holds the report', () => {
    expect(deriveCaseStatus(ref({ noteSopInstanceUID: '1.2' }), 'draft')).toBe('draft');
    expect(deriveCaseStatus(undefined, 'queued')).toBe('queued');
    expect(deriveCaseStatus(ref({ hasReport: true }), 'sent')).toBe('reported');
  });
});

describe('waiting time and turnaround colouring', () => {
  const arrived = Date.UTC(2026, 0, 1, 8, 0, 0);
  const row = (priority: 'STAT' | 'urgent' | 'routine' | undefined, status: 'new' | 'reported' = 'new') => ({ priority, status, arrivedAt: arrived });

  it('turns a STAT study red after 1 h, urgent after 4 h, routine after 24 h — not a minute before', () => {
    for (const [p, allowance] of Object.entries(TURNAROUND_MS) as ['STAT' | 'urgent' | 'routine', number][]) {
      expect(turnaroundState(row(p), arrived + allowance), p).not.toBe('overdue');
      expect(turnaroundState(row(p), arrived + allowance + MIN), p).toBe('overdue');
    }
    expect(TURNAROUND_MS).toEqual({ STAT: 1 * H, urgent: 4 * H, routine: 24 * H });
  });

  it('warns from three quarters of the allowance', () => {
    expect(turnaroundState(row('STAT'), arrived + 44 * MIN)).toBe('ok');
    expect(turnaroundState(row('STAT'), arrived + 46 * MIN)).toBe('due-soon');
    expect(turnaroundState(row('urgent'), arrived + 3 * H + MIN)).toBe('due-soon');
  });

  it('times a study whose priority is still unknown as routine, and stops once it is reported', () => {
    expect(turnaroundState(row(undefined), arrived + 2 * H)).toBe('ok');
    expect(turnaroundState(row(undefined), arrived + 25 * H)).toBe('overdue');
    expect(turnaroundState(row('STAT', 'reported'), arrived + 25 * H)).toBe('done');
    expect(turnaroundState({ priority: 'STAT', status: 'new' }, arrived)).toBe('unknown');
  });

  it('reads StudyDate + StudyTime in the site\'s time zone offset when it is sent', () => {
    expect(studyArrivedAt('20260101', '080000', '+0200')).toBe(Date.UTC(2026, 0, 1, 6, 0, 0));
    expect(studyArrivedAt('20260101', '0930', '-0500')).toBe(Date.UTC(2026, 0, 1, 14, 30, 0));
    expect(studyArrivedAt('20260101', '101500.123')).toBe(new Date(2026, 0, 1, 10, 15, 0).getTime());
    expect(studyArrivedAt('20260101', undefined)).toBe(new Date(2026, 0, 1).getTime());
    expect(studyArrivedAt('', '101500')).toBeUndefined();
  });

  it('writes waiting time in minutes, hours, then days', () => {
    expect(formatWaiting(59 * MIN)).toBe('59 min');
    expect(formatWaiting(3 * H + 10 * MIN)).toBe('3 h 10 min');
    expect(formatWaiting(50 * H)).toBe('2 d 2 h');
    expect(formatWaiting(undefined)).toBe('');
  });
});
