import { useCallback, useEffect, useRef, useState } from 'react';
import type { AppInfo, ServiceClient } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { OpenRequest, ViewerStore } from '../viewer/viewer-store';
import type { WorklistRow, WorklistStore } from '../worklist/worklist-store';
import type { AppDeps } from './app-deps';

/** The app's name, host and version for the header; the worklist's first load starts with it. */
export function useAppInfo(client: ServiceClient, worklist: WorklistStore, log: Logger): AppInfo | undefined {
  const [info, setInfo] = useState<AppInfo | undefined>(undefined);
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
  return info;
}

/**
 * Case thread: a photo that reached the cache after the viewer opened reopens the viewer (from the cache)
 * on it. `viewerEpoch` keys the viewer; `showThreadSeries` shows a series, remounting when it is not there yet.
 */
export function useThreadSeries(viewer: ViewerStore): { viewerEpoch: number; showThreadSeries: (seriesUid: string) => void } {
  const [viewerEpoch, setViewerEpoch] = useState(0);
  const threadPhoto = useRef<string | undefined>(undefined);
  useEffect(() => {
    // Runs after the remounted viewer's open (child effects first): the series is shown once it is in.
    if (threadPhoto.current) viewer.selectSeries(threadPhoto.current);
    threadPhoto.current = undefined;
  }, [viewerEpoch, viewer]);
  const showThreadSeries = useCallback(
    (seriesUid: string) => {
      if (viewer.getState().series.some((s) => s.seriesInstanceUID === seriesUid)) viewer.selectSeries(seriesUid);
      else {
        threadPhoto.current = seriesUid;
        setViewerEpoch((n) => n + 1);
      }
    },
    [viewer],
  );
  return { viewerEpoch, showThreadSeries };
}

/** A worklist row opened: its instance list asked at once (when not offline already), then the viewer's request. */
export function useOpenWorklistRow(worklist: WorklistStore, listAhead: AppDeps['listAhead'], setOpen: (req: OpenRequest) => void): (row: WorklistRow) => void {
  return useCallback(
    (row: WorklistRow) => {
      const site = worklist.getState().sites.find((s) => s.site.id === row.siteId)?.site;
      if (site && !row.availableOffline) listAhead?.(site, row.studyInstanceUID);
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
    [worklist, listAhead, setOpen],
  );
}

/** Who looked at which patient's images, when: one audit event per study opened (issue 9). */
export function useStudyViewAudit(open: OpenRequest | undefined, auditReport: NonNullable<AppDeps['audit']>['report'] | undefined): void {
  const openedUid = open?.study.studyInstanceUID;
  useEffect(() => {
    if (!open || !auditReport) return;
    const { study } = open;
    void auditReport({
      action: 'study.view',
      patient: { ...(study.patientId ? { id: study.patientId } : {}), ...(study.patientName ? { name: study.patientName } : {}) },
      studyInstanceUID: study.studyInstanceUID,
      ...(open.site ? { siteId: open.site.id } : {}),
      outcome: 'success',
    });
    // Once per opened study, not per re-render of the same request.
  }, [openedUid, auditReport]);
}
