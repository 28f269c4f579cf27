import { describe, expect, it } from 'vitest';
import type { ReferralCaseRecord } from '../../../src/renderer/cache/telerad-db';
import { caseProgress, describeProgress } from '../../../src/renderer/referral-cases/referral-case-status';
import type { JobProgressView } from '../../../src/renderer/referral-cases/referral-case-status';

const base: ReferralCaseRecord = {
  id: 'c1',
  localStudyInstanceUID: '2.25.1',
  patient: { name: 'NDLOVU^SIPHO', id: 'ZIT-1' },
  clinicalQuestion: 'Fracture?',
  history: '',
  urgency: 'routine',
  requestedSpecialty: '',
  deidentify: { enabled: false, retainLongitudinalFullDates: false, cleanDescriptors: false },
  compress: false,
  sopInstanceUIDs: ['1', '2', '3'],
  skipped: [],
  state: 'queued',
  outboxJobIds: ['j1'],
  createdAt: 0,
  updatedAt: 0,
};

const job = (states: ('pending' | 'stored' | 'failed')[], state: JobProgressView['state'], lastError?: string): JobProgressView => ({
  id: 'j1',
  state,
  ...(lastError ? { lastError } : {}),
  instances: states.map((s) => ({ state: s })),
});

describe('referral case progress', () => {
  it('counts the instances the site has stored while the job is under way', () => {
    const p = caseProgress(base, [job(['stored', 'stored', 'pending', 'failed'], 'failed', 'HTTP 503')], false);
    expect(p).toEqual({ state: 'queued', stored: 2, total: 4, jobState: 'failed', lastError: 'HTTP 503' });
    expect(describeProgress(p)).toBe('queued: 2 of 4 instances sent');
  });

  it('reads received once every job is sent, and report arrived once the site has a report', () => {
    const sent = job(['stored', 'stored'], 'sent');
    expect(caseProgress(base, [sent], false)).toEqual({ state: 'received' });
    expect(caseProgress(base, [sent], true)).toEqual({ state: 'reported' });
    expect(describeProgress(caseProgress(base, [sent], true))).toBe('report arrived');
  });

  it('keeps a draft a draft, and a sent case received when its job has left the outbox list', () => {
    expect(caseProgress({ ...base, state: 'draft', outboxJobIds: [] }, [], true)).toEqual({ state: 'draft' });
    expect(caseProgress({ ...base, state: 'sent' }, [], false)).toEqual({ state: 'received' });
  });
});
