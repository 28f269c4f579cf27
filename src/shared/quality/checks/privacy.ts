// Privacy: text burned into the pixels survives header de-identification.
import { evidenceOf, finding } from '../series';
import type { QualityCheck } from '../types';

export const burnedInAnnotation: QualityCheck = {
  id: 'privacy.burned-in',
  group: 'privacy',
  title: 'Burned-in annotation on a case to de-identify',
  severity: 'blocker',
  run(images, context) {
    if (!context.markedForDeidentification) return [];
    const hits = images.filter((im) => !im.unreadable && im.burnedInAnnotation?.trim().toUpperCase() === 'YES');
    if (!hits.length) return [];
    return [
      finding(
        this,
        'blocker',
        `Burned In Annotation = YES on ${hits.length} image${hits.length > 1 ? 's' : ''} of a case marked for de-identification: names or dates drawn into the pixels would leave with it — remove those images or mask the text`,
        hits[0],
        hits.map((im) => evidenceOf(im, 'YES')),
      ),
    ];
  },
};

export const privacyChecks: QualityCheck[] = [burnedInAnnotation];
