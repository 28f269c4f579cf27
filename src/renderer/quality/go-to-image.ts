// "Go to image": the finding's instance, in its series, on the active viewport.
import type { ViewerStore } from '../viewer';

/**
 * Loads the series in the active viewport (unless it is there already) and
 * shows the instance's slice. False when the open study has no such instance
 * in the local cache (the viewer then stays where it is).
 */
export function goToInstance(viewer: Pick<ViewerStore, 'session' | 'selectSeries' | 'activeViewport'>, seriesInstanceUID: string, sopInstanceUID: string): boolean {
  const stack = viewer.session.stackOf(seriesInstanceUID);
  const index = stack.findIndex((i) => i.sopInstanceUID === sopInstanceUID);
  if (index < 0) return false;
  viewer.selectSeries(seriesInstanceUID);
  const vp = viewer.activeViewport();
  if (vp.getState().seriesInstanceUID !== seriesInstanceUID) return false;
  vp.show(index);
  return true;
}
