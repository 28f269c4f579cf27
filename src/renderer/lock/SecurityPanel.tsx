import { useState, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import type { LockController } from './lock-controller';

const IDLE_CHOICES = [1, 2, 5, 10, 15, 30, 60, 120, 240];

/** The header's "Security" panel: lock now, the idle lock time, and a PIN for quick unlock in this run. */
export function SecurityPanel({ lock, onClose }: { lock: LockController; onClose: () => void }): JSX.Element {
  const state = useSyncExternalStore(lock.subscribe, lock.getState);
  const [pin, setPin] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [saved, setSaved] = useState<string | undefined>(undefined);
  const choices = IDLE_CHOICES.includes(state.idleLockMinutes) ? IDLE_CHOICES : [...IDLE_CHOICES, state.idleLockMinutes].sort((a, b) => a - b);
  return (
    <section className="security-panel" aria-labelledby="security-title" data-testid="security-panel">
      <header className="panel-header">
        <h2 id="security-title">Security</h2>
        <button type="button" className="btn btn-small" onClick={onClose}>
          Close
        </button>
      </header>
      <p>
        <button type="button" className="btn" data-testid="lock-now" onClick={() => void lock.lock('user')}>
          Lock now
        </button>
      </p>
      <label>
        Lock after{' '}
        <select data-testid="idle-minutes" value={state.idleLockMinutes} onChange={(e) => void lock.setIdleLockMinutes(Number(e.target.value))}>
          {choices.map((m) => (
            <option key={m} value={m}>
              {m} {m === 1 ? 'minute' : 'minutes'}
            </option>
          ))}
        </select>{' '}
        without input
      </label>
      <form
        className="security-pin"
        onSubmit={(e) => {
          e.preventDefault();
          void lock.setPin(pin === '' ? null : pin, passphrase).then((ok) => {
            setPassphrase('');
            setPin('');
            if (ok) setSaved(pin === '' ? 'PIN removed.' : 'PIN set: it unlocks this run of the app; after a restart the passphrase is needed.');
          });
        }}
      >
        <h3>PIN for quick unlock</h3>
        <p>{state.pinSet ? 'A PIN is set.' : 'No PIN: the passphrase unlocks.'} Five wrong PINs and the passphrase is required again.</p>
        <label>
          New PIN (6–12 digits, empty to remove){' '}
          <input type="password" inputMode="numeric" data-testid="pin-new" value={pin} onChange={(e) => setPin(e.target.value)} />
        </label>
        <label>
          Passphrase{' '}
          <input type="password" autoComplete="current-password" data-testid="pin-passphrase" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} />
        </label>
        <button type="submit" className="btn btn-small" data-testid="pin-save" disabled={passphrase === ''}>
          Save PIN
        </button>
      </form>
      {state.error && (
        <p role="alert" className="lock-error">
          {state.error}
        </p>
      )}
      {saved && !state.error && <p role="status">{saved}</p>}
    </section>
  );
}
