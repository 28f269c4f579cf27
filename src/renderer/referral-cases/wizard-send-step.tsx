import { useState } from 'react';
import type { JSX } from 'react';
import type { ReferralCaseRecord } from '../cache/telerad-db';
import type { Finding } from '../../shared/quality';
import type { CaseFields } from './referral-case-repo';
import { MIN_OVERRIDE_REASON_LENGTH } from './referral-case-repo';
import type { SendEstimate } from './referral-case-wiring';
import type { WizardQuality } from './wizard-checks';
import type { WizardCaseSize } from './wizard-case-state';
import type { WizardSite } from './wizard-types';
import { formatBytes } from '../lib/format-bytes';

export interface WizardSendStepProps {
  record: ReferralCaseRecord;
  sites: readonly WizardSite[];
  size: WizardCaseSize;
  estimate: SendEstimate;
  /** JPEG-LS lossless transcoding is available (case-send). */
  canCompress: boolean;
  problems: readonly string[];
  quality: WizardQuality;
  busy: string | undefined;
  save: (fields: Partial<CaseFields>) => void;
  setError: (error: string | undefined) => void;
  send: (options?: { sendAnyway: { reason: string } }) => void;
}

function formatDuration(s: number): string {
  if (s < 60) return `${Math.max(1, Math.round(s))} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

const SEVERITY_ORDER: Record<Finding['severity'], number> = { blocker: 0, warning: 1, info: 2 };

/** The review step's quality findings (issue 8), worst first. */
function QualityFindings({ findings }: { findings: readonly Finding[] }): JSX.Element {
  if (findings.length === 0) return <p data-testid="referral-quality-ok">Quality checks: nothing found.</p>;
  const sorted = [...findings].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
  return (
    <ul className="referral-quality" data-testid="referral-quality-findings" aria-label="Quality findings">
      {sorted.map((f, k) => (
        <li key={`${f.checkId}|${f.seriesInstanceUID ?? ''}|${k}`} data-severity={f.severity} data-check={f.checkId}>
          <strong>{f.severity}</strong> · {f.title}: {f.message}
        </li>
      ))}
    </ul>
  );
}

/** The quality checks of what is sent: running, failed, or their findings and whether they block. */
function QualityArea({ quality }: { quality: WizardQuality }): JSX.Element {
  const { current, blockers, checking } = quality;
  return (
    <div className="referral-quality-step" data-testid="referral-quality">
      {checking && <p role="status">Checking image quality…</p>}
      {current?.failed && <p role="alert">The quality checks could not run: {current.failed}</p>}
      {current?.findings && <QualityFindings findings={current.findings} />}
      {blockers.length > 0 && (
        <p role="alert" data-testid="referral-quality-blocked">
          {blockers.length} blocking quality problem(s): the case is not sent as it is. Fix the images, or send anyway with a reason (kept with the outbox item and in the
          audit log).
        </p>
      )}
    </div>
  );
}

interface SendAnywayProps extends Pick<WizardSendStepProps, 'busy' | 'problems' | 'setError' | 'send'> {
  sendAnyway: boolean;
  setSendAnyway: (on: boolean) => void;
  reason: string;
  setReason: (reason: string) => void;
}

/** "Send anyway" despite blocking quality problems, with the reason it needs. */
function SendAnyway({ busy, problems, setError, send, sendAnyway, setSendAnyway, reason, setReason }: SendAnywayProps): JSX.Element {
  const reasonOk = reason.trim().length >= MIN_OVERRIDE_REASON_LENGTH;
  return (
    <div className="referral-send-anyway" data-testid="referral-send-anyway-area">
      <label>
        <input type="checkbox" data-testid="referral-send-anyway" checked={sendAnyway} disabled={!!busy || problems.length > 0} onChange={(e) => setSendAnyway(e.currentTarget.checked)} />
        Send anyway, despite the blocking problems
      </label>
      {sendAnyway && (
        <>
          <label>
            Reason (required, at least {MIN_OVERRIDE_REASON_LENGTH} characters)
            <textarea data-testid="referral-override-reason" value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
          </label>
          <button
            type="button"
            className="btn"
            data-testid="referral-send-anyway-confirm"
            disabled={!!busy || problems.length > 0}
            onClick={() => {
              // Refused here with a clear message; the repo refuses the same, whatever calls it.
              if (!reasonOk) {
                setError(`"Send anyway" needs a reason of at least ${MIN_OVERRIDE_REASON_LENGTH} characters.`);
                return;
              }
              send({ sendAnyway: { reason } });
            }}
          >
            Send anyway
          </button>
        </>
      )}
    </div>
  );
}

/** Step 5: the size and time to send, the checks, and the send buttons (or where the sent case is). */
export function WizardSendStep(props: WizardSendStepProps): JSX.Element {
  const { record, size, estimate, canCompress, problems, quality, busy } = props;
  const draft = record.state === 'draft';
  const { blockers } = quality;
  // Kept here, not in "Send anyway": what was typed stays while the checks run again.
  const [sendAnyway, setSendAnyway] = useState(false);
  const [reason, setReason] = useState('');
  return (
    <section aria-labelledby="rw-send" className="referral-step" data-testid="referral-step-send">
      <h3 id="rw-send">5. Review and send</h3>
      <p data-testid="referral-size">
        {size.instances} instance(s), {formatBytes(size.bytes)}
        {estimate.bytes !== size.bytes ? ` (about ${formatBytes(estimate.bytes)} compressed)` : ''} · about {formatDuration(estimate.seconds)} at {estimate.basis}
      </p>
      <label>
        <input type="checkbox" data-testid="referral-compress" disabled={!draft || !canCompress} checked={record.compress && canCompress} onChange={(e) => props.save({ compress: e.currentTarget.checked })} />
        Send JPEG-LS lossless compressed (smaller, identical pixels){canCompress ? '' : ' — not available in this build'}
      </label>
      {draft && problems.length > 0 && (
        <ul className="referral-problems" data-testid="referral-problems">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      {draft && record.sopInstanceUIDs.length > 0 && <QualityArea quality={quality} />}
      {draft ? (
        <>
          <button
            type="button"
            className="btn"
            data-testid="referral-send"
            disabled={!!busy || problems.length > 0 || quality.checking || blockers.length > 0}
            title={blockers.length > 0 ? 'Blocking quality problems: use "Send anyway" with a reason' : undefined}
            onClick={() => props.send()}
          >
            Send
          </button>
          {blockers.length > 0 && (
            <SendAnyway
              busy={busy}
              problems={problems}
              setError={props.setError}
              send={props.send}
              sendAnyway={sendAnyway}
              setSendAnyway={setSendAnyway}
              reason={reason}
              setReason={setReason}
            />
          )}
        </>
      ) : (
        <p role="status" data-testid="referral-sent">
          Queued in the outbox: it is delivered when {props.sites.find((s) => s.id === record.siteId)?.name ?? 'the site'} can be reached.
        </p>
      )}
    </section>
  );
}
