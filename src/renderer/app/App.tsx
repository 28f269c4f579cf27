import { useCallback, useEffect, useState } from 'react';
import type { JSX } from 'react';
import type { AppInfo, ServiceClient } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { WorklistRow, WorklistStore } from '../worklist/worklist-store';
import { WorklistView } from '../worklist/WorklistView';
import type { OpenRequest, ViewerStore } from '../viewer/viewer-store';
import { StackViewer } from '../viewer/StackViewer';

/** Everything the UI needs, built once in main.tsx: components receive, never construct, their services. */
export interface AppDeps {
  client: ServiceClient;
  worklist: WorklistStore;
  viewer: ViewerStore;
  log: Logger;
}

export function App({ deps }: { deps: AppDeps }): JSX.Element {
  const { client, worklist, viewer, log } = deps;
  const [info, setInfo] = useState<AppInfo | undefined>(undefined);
  const [open, setOpen] = useState<OpenRequest | undefined>(undefined);

  useEffect(() => {
    let live = true;
    client.app
      .info({})
      .then((i) => live && setInfo(i))
      .catch((err: unknown) => log.warn('app.info failed', err));
    void worklist.refresh();
    return () => {
      live = false;
    };
  }, [client, worklist, log]);

  const onOpen = useCallback(
    (row: WorklistRow) => {
      const site = worklist.getState().sites.find((s) => s.site.id === row.siteId)?.site;
      setOpen({
        site,
        study: {
          studyInstanceUID: row.studyInstanceUID,
          siteId: row.siteId,
          patientName: row.patientName,
          patientId: row.patientId,
          studyDate: row.studyDate,
          modalities: row.modalities,
          description: row.description,
          numInstances: row.numInstances ?? 0,
        },
      });
    },
    [worklist],
  );
  const onClose = useCallback(() => setOpen(undefined), []);

  return (
    <div className="app">
      <header className="app-header">
        <span className="app-name">{info?.name ?? 'Telerad Workstation'}</span>
        {info && (
          <span className="app-host" data-testid="app-host">
            {info.host === 'electron' ? 'desktop' : 'browser host'} · v{info.version}
          </span>
        )}
      </header>
      <main className="app-main">
        {open ? (
          <StackViewer store={viewer} request={open} onClose={onClose} />
        ) : (
          <WorklistView store={worklist} onOpen={onOpen} />
        )}
      </main>
    </div>
  );
}
