import { useEffect, useRef, useState } from 'react';
import type { ReferralCaseRecord } from '../cache/telerad-db';
import type { Logger } from '../../shared/log';
import type { Finding } from '../../shared/quality';
import type { ReferralCases } from './referral-case-repo';
import { errorMessage } from '../../shared/error-message';

export interface WizardQualityResult {
  key: string;
  findings: Finding[] | undefined;
  failed?: string;
}

export interface WizardQuality {
  /** The findings for what is sent now, once checked. */
  current: WizardQualityResult | undefined;
  blockers: Finding[];
  /** The checks of what is sent now are still running. */
  checking: boolean;
}

/** The review step's quality checks (issue 8), run again whenever what is sent changes. */
export function useWizardQuality(cases: ReferralCases, caseId: string, record: ReferralCaseRecord | undefined, log: Logger): WizardQuality {
  const [quality, setQuality] = useState<WizardQualityResult | undefined>(undefined);
  const qualityRevision = useRef(0);
  // The findings follow what is sent: the images, de-identification and the chosen patient.
  const qualityKey = record && record.state === 'draft' ? `${record.sopInstanceUIDs.join(',')}|${record.deidentify.enabled}|${record.identityResolution ?? ''}|${record.patient.id}|${record.patient.name}` : undefined;
  useEffect(() => {
    if (qualityKey === undefined) return;
    const mine = ++qualityRevision.current;
    cases.quality(caseId).then(
      (findings) => mine === qualityRevision.current && setQuality({ key: qualityKey, findings }),
      (err: unknown) => {
        log.warn(`Quality checks of case ${caseId} failed`, err);
        if (mine === qualityRevision.current) setQuality({ key: qualityKey, findings: undefined, failed: errorMessage(err) });
      },
    );
  }, [cases, caseId, qualityKey, log]);
  const current = quality?.key === qualityKey ? quality : undefined;
  const blockers = current?.findings?.filter((f) => f.severity === 'blocker') ?? [];
  const checking = qualityKey !== undefined && !!record && record.sopInstanceUIDs.length > 0 && !current;
  return { current, blockers, checking };
}

/**
 * The compressed size of the case, when sending compressed; undefined until estimated.
 * One estimate per case size: a result stays good for the bytes it was made
 * for, so a record saved again meanwhile (a ticked box, a typed question)
 * neither discards it nor starts a second encoding behind it in the worker.
 */
export function useCompressedEstimate(
  compressOn: boolean,
  record: ReferralCaseRecord | undefined,
  sizeBytes: number,
  compressedBytes: (record: ReferralCaseRecord) => Promise<number>,
  log: Logger,
): { forBytes: number; bytes: number } | undefined {
  const [compressed, setCompressed] = useState<{ forBytes: number; bytes: number } | undefined>(undefined);
  const estimating = useRef<number | undefined>(undefined);
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  useEffect(() => {
    if (!compressOn || !record || sizeBytes === 0 || compressed?.forBytes === sizeBytes || estimating.current === sizeBytes) return;
    const forBytes = sizeBytes;
    estimating.current = forBytes;
    compressedBytes(record).then(
      (bytes) => {
        if (estimating.current === forBytes) estimating.current = undefined;
        if (mounted.current) setCompressed({ forBytes, bytes });
      },
      (err: unknown) => {
        if (estimating.current === forBytes) estimating.current = undefined;
        log.warn('Estimating the compressed size failed', err);
      },
    );
  }, [compressOn, record, sizeBytes, compressed, compressedBytes, log]);
  return compressed;
}
