import { useState } from 'react';

/** Which of the header's panels are shown; each button toggles its own. */
export interface HeaderPanels {
  sites: boolean;
  audit: boolean;
  security: boolean;
  transfers: boolean;
  storage: boolean;
  outbox: boolean;
  prefetch: boolean;
  toggleSites(): void;
  toggleAudit(): void;
  toggleSecurity(): void;
  toggleTransfers(): void;
  /** Also closes Transfers: both panels drop down from the same corner, one at a time. */
  toggleStorage(): void;
  toggleOutbox(): void;
  togglePrefetch(): void;
  closeSites(): void;
  closeAudit(): void;
  closeSecurity(): void;
  closeStorage(): void;
  closeOutbox(): void;
}

export function useHeaderPanels(): HeaderPanels {
  const [sites, setSites] = useState(false);
  const [audit, setAudit] = useState(false);
  const [security, setSecurity] = useState(false);
  const [transfers, setTransfers] = useState(false);
  const [storage, setStorage] = useState(false);
  const [outbox, setOutbox] = useState(false);
  const [prefetch, setPrefetch] = useState(false);
  const flip = (v: boolean): boolean => !v;
  return {
    sites,
    audit,
    security,
    transfers,
    storage,
    outbox,
    prefetch,
    toggleSites: () => setSites(flip),
    toggleAudit: () => setAudit(flip),
    toggleSecurity: () => setSecurity(flip),
    toggleTransfers: () => setTransfers(flip),
    toggleStorage: () => {
      setTransfers(false);
      setStorage(flip);
    },
    toggleOutbox: () => setOutbox(flip),
    togglePrefetch: () => setPrefetch(flip),
    closeSites: () => setSites(false),
    closeAudit: () => setAudit(false),
    closeSecurity: () => setSecurity(false),
    closeStorage: () => setStorage(false),
    closeOutbox: () => setOutbox(false),
  };
}
