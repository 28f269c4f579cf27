import { useEffect, useState } from 'react';
import type { FormEvent, JSX } from 'react';
import type { ServiceClient, VaultStatus } from '../../shared/ipc/contract';
import { VAULT_PASSPHRASE_MIN } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import { errorMessage } from '../../shared/error-message';

export interface LockScreenProps {
  vault: ServiceClient['vault'];
  status: VaultStatus;
  /** Called once main has unlocked: the page restarts into the unlocked app. */
  onUnlocked: () => void;
  /** Outbox jobs still waiting, counted while locked (no patient data on this screen). */
  outboxWaiting?: number;
  log: Logger;
}

/** Why main locked, as the lock screen says it (VaultStatus.lockReason). */
export const LOCK_REASON_TEXT: Record<NonNullable<VaultStatus['lockReason']>, string> = {
  user: 'Locked by the user.',
  idle: 'Locked after the idle time without input.',
  'os-lock': 'Locked because the computer’s screen was locked.',
  suspend: 'Locked because the computer went to sleep.',
  'no-page': 'Locked because no app window was open.',
};

/**
 * What the app shows when it starts and after every lock: no patient data, only the way back in.
 * First start: choose the passphrase that protects the offline data.
 */
export function LockScreen({ vault, status, onUnlocked, outboxWaiting, log }: LockScreenProps): JSX.Element {
  const isNew = status.state === 'new';
  const [method, setMethod] = useState<'passphrase' | 'pin'>(status.pinSet ? 'pin' : 'passphrase');
  const [secret, setSecret] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [waitUntil, setWaitUntil] = useState(() => Date.now() + status.retryAfterMs);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (waitUntil <= now) return;
    const t = setTimeout(() => setNow(Date.now()), 1000);
    return () => clearTimeout(t);
  }, [waitUntil, now]);
  const waitS = Math.max(0, Math.ceil((waitUntil - now) / 1000));

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    if (isNew) {
      if (secret.length < VAULT_PASSPHRASE_MIN) return setError(`The passphrase needs at least ${VAULT_PASSPHRASE_MIN} characters.`);
      if (secret !== confirm) return setError('The two passphrases differ.');
    }
    setBusy(true);
    try {
      if (isNew) await vault.setup({ passphrase: secret });
      else await vault.unlock({ method, secret });
      setSecret('');
      setConfirm('');
      onUnlocked();
    } catch (err) {
      setSecret('');
      setError(errorMessage(err));
      log.warn(isNew ? 'Setting up the passphrase failed' : `Unlock refused (${method})`);
      // The wait main imposes after wrong passphrases, shown as a countdown.
      const s = await vault.status({}).catch(() => undefined);
      if (s) {
        setWaitUntil(Date.now() + s.retryAfterMs);
        setNow(Date.now());
        if (!s.pinSet && method === 'pin') setMethod('passphrase');
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="lock-screen" data-testid="lock-screen">
      <form className="lock-card" onSubmit={(e) => void submit(e)} aria-labelledby="lock-title">
        <h1 id="lock-title">{isNew ? 'Protect this workstation' : 'Workstation locked'}</h1>
        {isNew ? (
          <p>
            Choose a passphrase. It encrypts the patient data this app keeps on this computer (cached studies, drafts,
            reports, referrals) and unlocks the app. It cannot be recovered: without it the offline data cannot be read
            again (what the sites hold is not affected).
          </p>
        ) : (
          <>
            {status.lockReason ? <p data-testid="lock-reason">{LOCK_REASON_TEXT[status.lockReason]}</p> : null}
            <p>Patient data is hidden and encrypted while the app is locked.</p>
          </>
        )}
        {!isNew && status.pinSet && (
          <div className="lock-methods" role="radiogroup" aria-label="Unlock with">
            <label>
              <input type="radio" name="method" checked={method === 'pin'} onChange={() => setMethod('pin')} /> PIN
            </label>
            <label>
              <input type="radio" name="method" checked={method === 'passphrase'} onChange={() => setMethod('passphrase')} /> Passphrase
            </label>
          </div>
        )}
        <label className="lock-field">
          {method === 'pin' && !isNew ? 'PIN' : 'Passphrase'}
          <input
            type="password"
            autoComplete={`${isNew ? 'new' : 'current'}-password`}
            inputMode={method === 'pin' && !isNew ? 'numeric' : 'text'}
            data-testid="lock-secret"
            value={secret}
            autoFocus
            onChange={(e) => setSecret(e.target.value)}
          />
        </label>
        {isNew && (
          <label className="lock-field">
            Passphrase again
            <input type="password" autoComplete="new-password" data-testid="lock-confirm" value={confirm} onChange={(e) => setConfirm(e.target.value)} />
          </label>
        )}
        {error && (
          <p className="lock-error" role="alert" data-testid="lock-error">
            {error}
          </p>
        )}
        {waitS > 0 && (
          <p className="lock-wait" data-testid="lock-wait">
            Too many wrong attempts: try again in {waitS} s.
          </p>
        )}
        <button type="submit" className="btn" data-testid="lock-submit" disabled={busy || secret === '' || (waitS > 0 && method === 'passphrase')}>
          {isNew ? 'Set passphrase and start' : 'Unlock'}
        </button>
        {outboxWaiting !== undefined && outboxWaiting > 0 && (
          <p className="lock-outbox" data-testid="lock-outbox">
            Sending in the background: {outboxWaiting} {outboxWaiting === 1 ? 'item' : 'items'} waiting in the outbox.
          </p>
        )}
      </form>
    </main>
  );
}
