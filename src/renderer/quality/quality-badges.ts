// The worklist's quality badges: checks over cached studies, computed in the
// background one study at a time, so the list never waits for them.
import type { Logger } from '../../shared/log';
import { createListeners } from '../../shared/store/listeners';
import type { StudyRecord } from '../cache/telerad-db';
import type { QualityResult, QualityService } from './study-quality';

export interface CachedStudyRef {
  studyInstanceUID: string;
  /** Instances stored: a change means new instances arrived, and the badge is worked out again. */
  version: string;
}

/**
 * The cached studies a badge is worked out for: complete ones only (a study
 * still arriving would show slices "missing" that are on their way), versioned
 * by instance count and stored bytes so new or evicted instances redo it.
 */
export function badgeCandidates(cached: readonly Pick<StudyRecord, 'studyInstanceUID' | 'complete' | 'numInstances' | 'storedBytes'>[]): CachedStudyRef[] {
  return cached.filter((c) => c.complete).map((c) => ({ studyInstanceUID: c.studyInstanceUID, version: `${c.numInstances}:${c.storedBytes ?? 0}` }));
}

export interface QualityBadgesState {
  byStudy: ReadonlyMap<string, QualityResult>;
}

export interface QualityBadges {
  getState(): QualityBadgesState;
  subscribe(listener: () => void): () => void;
  /** Queues the studies whose badge is missing or out of date; returns when the queue is empty. */
  update(studies: readonly CachedStudyRef[]): Promise<void>;
  /** A result computed elsewhere (the viewer's panel) shows in the worklist too. */
  put(studyInstanceUID: string, result: QualityResult): void;
}

export function createQualityBadges(deps: { quality: QualityService; log: Logger }): QualityBadges {
  const listeners = createListeners();
  let state: QualityBadgesState = { byStudy: new Map() };
  const versions = new Map<string, string>();
  const queue = new Map<string, string>();
  let draining: Promise<void> | undefined;

  const put = (uid: string, result: QualityResult): void => {
    const byStudy = new Map(state.byStudy);
    byStudy.set(uid, result);
    state = { byStudy };
    listeners.notify();
  };

  const drain = async (): Promise<void> => {
    for (;;) {
      const next = queue.entries().next();
      if (next.done) return;
      const [uid, version] = next.value;
      queue.delete(uid);
      try {
        put(uid, await deps.quality.checkStudy(uid));
        versions.set(uid, version);
      } catch (err) {
        deps.log.warn(`Quality checks of study ${uid} failed`, err);
      }
    }
  };

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    update(studies) {
      for (const s of studies) if (versions.get(s.studyInstanceUID) !== s.version) queue.set(s.studyInstanceUID, s.version);
      if (!draining) {
        draining = drain().finally(() => {
          draining = undefined;
        });
      }
      return draining;
    },
    put,
  };
}

/** The badge's words: level, count and the top finding (for its title and aria-label). */
export function badgeText(result: QualityResult): { label: string; description: string } {
  const n = result.findings.length;
  const label = result.worst === 'ok' ? 'QC ok' : `QC ${result.worst} (${n})`;
  const top = result.findings[0];
  const description =
    result.worst === 'ok'
      ? 'Quality checks: no findings'
      : `Quality checks: ${result.counts.blocker} blocker(s), ${result.counts.warning} warning(s), ${result.counts.info} info — ${top?.title ?? ''}`;
  return { label, description };
}
