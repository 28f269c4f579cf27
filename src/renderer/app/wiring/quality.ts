import type { Logger } from '../../../shared/log';
import type { StoredPixels } from '../../../shared/quality';
import type { StudyCache } from '../../cache/study-cache';
import type { QualityBadges } from '../../quality/quality-badges';
import { badgeCandidates, createQualityBadges } from '../../quality/quality-badges';
import type { QualityService } from '../../quality/study-quality';
import { createQualityService } from '../../quality/study-quality';
import type { ImagingRuntime } from '../../viewer/cornerstone-setup';
import type { WorklistStore } from '../../worklist/worklist-store';

export interface QualityWiring {
  /** The full checks (compressed pixels decoded): the viewer's panel, signing and the referral send. */
  service: QualityService;
  /** The worklist's badges, from header checks only. */
  badges: QualityBadges;
}

/**
 * Image quality checks (issue 8) over the local cache: compressed pixels decode in the viewer's decode
 * workers. Made before the reports and referral cases, whose gates ask it; nothing runs until asked.
 */
export function wireQuality(deps: { cache: StudyCache; imaging: ImagingRuntime; log: Logger }): QualityWiring {
  const { cache, imaging, log } = deps;
  const service = createQualityService({
    readInstanceBytes: (sop) => cache.readInstanceBytes(sop),
    listStudyInstances: (uid) => cache.getStudyInstances(uid),
    decodePixels: async (bytes) => {
      const file = new Blob([bytes], { type: 'application/dicom' });
      const imageId = imaging.addFile(file);
      try {
        const image = await imaging.cornerstone.loadImage(imageId);
        // Not in the image cache, so nothing else would release the loader's parsed copy of the file.
        image.decache?.();
        const px = image.getPixelData();
        return ArrayBuffer.isView(px) ? (px as StoredPixels) : undefined;
      } finally {
        imaging.removeFile?.(imageId, file);
      }
    },
    log: log.child('quality'),
  });
  // The worklist's badges read headers and native pixels only: decoding every cached compressed study on each
  // launch would keep the viewer's decode workers busy. Opening a case runs the full checks (its panel) and
  // updates its badge with that result.
  const headerQuality = createQualityService({
    readInstanceBytes: (sop) => cache.readInstanceBytes(sop),
    listStudyInstances: (uid) => cache.getStudyInstances(uid),
    log: log.child('quality'),
  });
  const badges = createQualityBadges({ quality: headerQuality, log: log.child('quality') });
  return { service, badges };
}

/** Badges for complete cached cases, in the background, whenever the worklist's cached list changes. */
export function followCachedStudiesWithBadges(worklist: WorklistStore, badges: QualityBadges): void {
  let lastCached = worklist.getState().cached;
  worklist.subscribe(() => {
    if (worklist.getState().cached === lastCached) return;
    lastCached = worklist.getState().cached;
    void badges.update(badgeCandidates(lastCached));
  });
}
