import type { Logger } from '../../../shared/log';
import type { TeleradDB } from '../../cache/telerad-db';
import type { StorageStore } from '../../storage/storage-store';
import { createStorageStore } from '../../storage/storage-store';
import type { WorklistStore } from '../../worklist/worklist-store';
import type { CacheWiring } from './cache';
import { worklistSite } from './worklist';

/** The Storage panel's store: usage, budget, eviction, pins. */
export function wireStorage(deps: { db: TeleradDB; cache: CacheWiring; worklist: WorklistStore; log: Logger }): StorageStore {
  const { db, cache, worklist, log } = deps;
  const storage = createStorageStore({
    db,
    budget: cache.budget,
    isOpen: cache.openStudies.isOpen,
    siteName: (id) => worklistSite(worklist, id)?.name,
    onCacheChanged: () => void worklist.refreshCached(),
    log: log.child('storage'),
  });
  cache.onEvicted(() => void storage.refresh());
  return storage;
}
