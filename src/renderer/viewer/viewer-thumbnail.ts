import { hangingIndex } from '../../shared/dicom/stack-order';
import type { StudySession } from './study-session-types';
import type { ViewerDeps } from './viewer-types';
import { assertDecodedSize } from './viewport-store';

/** Resolves once the slice has a preview or its lossless file; rejects when the retrieval ended without it. */
function whenAvailable(session: StudySession, sop: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (session.quality(sop) !== 'missing') return resolve();
    const done = (): void => {
      offSlice();
      offState();
    };
    const offSlice = session.onSliceChange((s, q) => {
      if (s !== sop || q === 'missing') return;
      done();
      resolve();
    });
    const offState = session.subscribe(() => {
      const st = session.getState();
      if ((st.streaming || st.phase === 'loading') && session.request()) return;
      if (session.quality(sop) !== 'missing') return;
      done();
      reject(new Error('its middle image has not arrived'));
    });
  });
}

/** Paints a series' middle image (or, while it streams, its preview) on a small canvas; rejects when it cannot be decoded. */
export async function renderThumbnail(session: StudySession, imaging: ViewerDeps['imaging'], seriesUid: string, canvas: HTMLCanvasElement): Promise<void> {
  const stack = session.stackOf(seriesUid);
  const inst = stack[hangingIndex(stack.length)];
  if (!inst) throw new Error('The series has no images in the local cache');
  // Streaming: the middle image (fetched first) or its preview is there soon.
  await whenAvailable(session, inst.sopInstanceUID);
  const previewId = session.quality(inst.sopInstanceUID) === 'preview' ? await session.previewImageIdFor(inst) : undefined;
  const image = await imaging.cornerstone.loadAndCacheImage(previewId ?? (await session.imageIdFor(inst)));
  if (!previewId) assertDecodedSize(image);
  imaging.cornerstone.renderToCanvas(canvas, image);
}
