import { isQuotaExceeded } from './cache-write-budget';
import type { CacheWriteBudget } from './cache-write-budget';
import type { InstancePreviewRecord, InstanceRecord, SeriesRecord, SiteCapabilityRecord, StudyListingRecord, StudyRecord, TeleradDB } from './telerad-db';
import { SealedRowError } from './sealing/row-sealer';

/** An instance whose sealed bytes failed authentication: handled as a hash mismatch. */
const TAMPERED: unique symbol = Symbol('tampered');

/** Instance metadata as the caller supplies it; size, hash and time are the cache's to fill. */
export type InstanceMeta = Omit<InstanceRecord, 'size' | 'sha256' | 'storedAt'>;

/** Study fields the caller may set; `complete` is only ever set by `markComplete`. */
export type StudyUpsert = Omit<StudyRecord, 'complete' | 'storedAt' | 'lastOpenedAt'> & {
  lastOpenedAt?: number;
};

/** A preview as the retriever hands it to the cache; size, hash and time are the cache's to fill. */
export type PreviewPut = Omit<InstancePreviewRecord, 'size' | 'sha256' | 'storedAt'>;

/** A stored preview read back: its JPEG and the raster size it was rendered at. */
export interface StoredPreview {
  bytes: ArrayBuffer;
  width: number;
  height: number;
}

/** A stored instance whose bytes no longer match the hash taken when it was stored. */
export class CacheIntegrityError extends Error {
  constructor(readonly sopInstanceUID: string) {
    super(
      `Cached instance ${sopInstanceUID} is corrupt (SHA-256 mismatch); it was removed from the cache and must be retrieved again`,
    );
    this.name = 'CacheIntegrityError';
  }
}

export async function sha256Hex(bytes: ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The offline cache of studies, in domain terms. Everything here works with
 * the network gone: it touches IndexedDB only. Writes that span tables run in
 * one Dexie transaction, so a crash or a closed tab never leaves metadata
 * without its bytes (or the other way round).
 */
export class StudyCache {
  constructor(
    private readonly db: TeleradDB,
    private readonly now: () => number = Date.now,
    /** The byte budget and eviction around writes; none in tests that do not need it. */
    private readonly budget?: CacheWriteBudget,
  ) {}

  /**
   * Stores one instance: its metadata and its bytes together, with the
   * SHA-256 of the bytes. Overwrites an earlier copy of the same SOP instance.
   * Offline: works (local only).
   */
  async putInstance(meta: InstanceMeta, bytes: ArrayBuffer): Promise<InstanceRecord> {
    const [record] = await this.putInstances([{ meta, bytes }]);
    return record!;
  }

  /**
   * Stores instances of one study in one transaction: all of them, metadata
   * and bytes, or none (a failure part-way leaves none of the batch). One
   * transaction per instance costs more than the writes themselves on a
   * 300-slice CT, which is why the retriever batches. A later copy of the
   * same SOP instance in the batch wins. Offline: works (local only).
   */
  async putInstances(items: ReadonlyArray<{ meta: InstanceMeta; bytes: ArrayBuffer }>): Promise<InstanceRecord[]> {
    if (items.length === 0) return [];
    const studyInstanceUID = items[0]!.meta.studyInstanceUID;
    // The budget protects the study being written from eviction: one study per batch keeps that rule exact.
    if (items.some((i) => i.meta.studyInstanceUID !== studyInstanceUID)) {
      throw new Error('putInstances: a batch holds instances of one study only');
    }
    // Hash outside the transaction: an IndexedDB transaction commits as soon as
    // it has no pending request, so awaiting crypto inside it would end it early.
    const hashes = await Promise.all(items.map((i) => sha256Hex(i.bytes)));
    const storedAt = this.now();
    const bySop = new Map<string, { record: InstanceRecord; bytes: ArrayBuffer }>();
    items.forEach(({ meta, bytes }, k) => {
      bySop.set(meta.sopInstanceUID, { record: { ...meta, size: bytes.byteLength, sha256: hashes[k]!, storedAt }, bytes });
    });
    const entries = [...bySop.values()];
    const records = entries.map((e) => e.record);
    const size = records.reduce((n, r) => n + r.size, 0);
    const write = (): Promise<void> =>
      this.db.transaction('rw', [this.db.instances, this.db.instanceBytes, this.db.studies, this.db.instancePreviews], async () => {
        const old = await this.db.instances.bulkGet([...bySop.keys()]);
        await this.db.instances.bulkPut(records);
        await this.db.instanceBytes.bulkPut(entries.map((e) => ({ sopInstanceUID: e.record.sopInstanceUID, bytes: e.bytes })));
        // The lossless file supersedes its preview, in the same transaction: no moment holds both or neither.
        await this.db.instancePreviews.bulkDelete([...bySop.keys()]);
        // Kept in the same transaction as the bytes, so budget and eviction never read a stale sum.
        // No study row yet (the retriever's early first image): upsertStudy counts these when it creates it.
        const study = await this.db.studies.get(studyInstanceUID);
        if (study) {
          const replaced = old.reduce((n, o) => n + (o?.studyInstanceUID === studyInstanceUID ? o.size : 0), 0);
          const storedBytes = (study.storedBytes ?? 0) + size - replaced;
          // A stored instance is a use of the study (prefetch included): it moves to the back of the LRU order.
          await this.db.studies.update(studyInstanceUID, { storedBytes, lastAccessedAt: storedAt });
        }
      });
    await this.writeWithinBudget(studyInstanceUID, size, write);
    return records;
  }

  /**
   * Runs a write under the byte budget: evicts first when it would go over,
   * and when the browser refuses it for lack of space evicts and tries once
   * more. Throws CacheFullError when there is no room to be made.
   */
  private async writeWithinBudget(studyInstanceUID: string, size: number, write: () => Promise<void>): Promise<void> {
    const budget = this.budget;
    if (!budget) return write();
    await budget.beforeWrite(studyInstanceUID, size);
    try {
      await write();
    } catch (err) {
      if (!isQuotaExceeded(err)) throw err;
      await budget.afterQuotaExceeded(studyInstanceUID, size);
      try {
        await write();
      } catch (again) {
        throw isQuotaExceeded(again) ? await budget.fullError() : again;
      }
    }
  }

  /** Whether both the metadata and the bytes of an instance are stored. Offline: works. */
  async hasInstance(sopInstanceUID: string): Promise<boolean> {
    const [meta, bytesKey] = await Promise.all([
      this.db.instances.get(sopInstanceUID),
      // primaryKeys() reads keys only: no pixel bytes are loaded to answer this.
      this.db.instanceBytes.where(':id').equals(sopInstanceUID).primaryKeys(),
    ]);
    return meta !== undefined && bytesKey.length > 0;
  }

  /**
   * The study's instances stored whole (metadata and bytes), read from keys
   * only: nothing is loaded or decrypted, so a 300-slice study answers in one
   * round trip rather than 300 (the retriever asks this before its first
   * request). Offline: works.
   */
  async storedSops(studyInstanceUID: string): Promise<Set<string>> {
    const sops = (await this.db.instances.where('studyInstanceUID').equals(studyInstanceUID).primaryKeys()) as string[];
    if (sops.length === 0) return new Set();
    return new Set((await this.db.instanceBytes.where(':id').anyOf(sops).primaryKeys()) as string[]);
  }

  /** Every study with a record in the cache, most recently opened first. Offline: works. */
  async listCachedStudies(): Promise<StudyRecord[]> {
    const all = await this.db.studies.toArray();
    return all.sort((a, b) => (b.lastOpenedAt ?? 0) - (a.lastOpenedAt ?? 0) || b.storedAt - a.storedAt);
  }

  async getStudy(studyInstanceUID: string): Promise<StudyRecord | undefined> {
    return this.db.studies.get(studyInstanceUID);
  }

  /**
   * Creates or updates a study's record. A change in the instance count
   * reopens a complete study (new instances arrived at the site), so it will
   * be retrieved again. Offline: works.
   */
  async upsertStudy(study: StudyUpsert): Promise<StudyRecord> {
    return this.db.transaction('rw', this.db.studies, this.db.instances, async () => {
      const old = await this.db.studies.get(study.studyInstanceUID);
      // A new record counts instances stored before it existed (the retriever's early first image).
      const storedBytes =
        old?.storedBytes ??
        (await this.db.instances.where('studyInstanceUID').equals(study.studyInstanceUID).toArray()).reduce((n, i) => n + i.size, 0);
      const record: StudyRecord = {
        ...old,
        storedBytes,
        ...study,
        lastOpenedAt: study.lastOpenedAt ?? old?.lastOpenedAt,
        // A new record starts at the back of the LRU order, not at its front (undefined counts as oldest).
        lastAccessedAt: study.lastAccessedAt ?? old?.lastAccessedAt ?? this.now(),
        complete: old !== undefined && old.complete && old.numInstances === study.numInstances,
        storedAt: old?.storedAt ?? this.now(),
      };
      await this.db.studies.put(record);
      return record;
    });
  }

  /** Notes that the study was used now (prefetched, read): the LRU eviction order. Offline: works. */
  async touchAccessed(studyInstanceUID: string): Promise<void> {
    await this.db.studies.update(studyInstanceUID, { lastAccessedAt: this.now() });
  }

  /** Notes that the study was opened now (for "recent first" and, later, LRU eviction). Offline: works. */
  async touchStudy(studyInstanceUID: string): Promise<void> {
    const now = this.now();
    await this.db.studies.update(studyInstanceUID, { lastOpenedAt: now, lastAccessedAt: now });
  }

  /**
   * Stores series records. Fields already known are kept where the new record
   * leaves them empty: a QIDO answer without series description must not
   * erase the one read from the files. Offline: works.
   */
  async putSeries(series: readonly SeriesRecord[]): Promise<void> {
    await this.db.transaction('rw', this.db.series, async () => {
      const old = await this.db.series.bulkGet(series.map((s) => s.seriesInstanceUID));
      const merged = series.map((s, i): SeriesRecord => {
        const o = old[i];
        if (!o) return s;
        const seriesNumber = s.seriesNumber ?? o.seriesNumber;
        return {
          ...s,
          modality: s.modality || o.modality,
          description: s.description || o.description,
          ...(seriesNumber !== undefined ? { seriesNumber } : {}),
        };
      });
      await this.db.series.bulkPut(merged);
    });
  }

  /** Offline: works. */
  async getStudySeries(studyInstanceUID: string): Promise<SeriesRecord[]> {
    return this.db.series.where('studyInstanceUID').equals(studyInstanceUID).toArray();
  }

  /** Metadata of every stored instance of a study, without bytes. Offline: works. */
  async getStudyInstances(studyInstanceUID: string): Promise<InstanceRecord[]> {
    return this.db.instances.where('studyInstanceUID').equals(studyInstanceUID).toArray();
  }

  /**
   * The stored bytes of an instance, after checking them against the hash
   * taken when they were stored. A mismatch (disk corruption, a tampered
   * profile) removes the instance, marks its study incomplete so the next
   * open retrieves it again, and throws CacheIntegrityError: corrupt pixels
   * are never shown. Undefined when the instance is not stored. Offline: works.
   */
  async readInstanceBytes(sopInstanceUID: string): Promise<ArrayBuffer | undefined> {
    // Sealed (encryption at rest): AES-GCM authenticates the bytes on every read, so a changed file fails
    // there and the SHA-256 over the whole file is not computed again (it cost 0.3–0.4 ms per image).
    const sealed = this.db.sealer !== null;
    const [meta, entry] = await Promise.all([
      this.db.instances.get(sopInstanceUID),
      this.db.instanceBytes.get(sopInstanceUID).catch((err: unknown): typeof TAMPERED => {
        if (sealed && err instanceof SealedRowError) return TAMPERED;
        throw err;
      }),
    ]);
    if (!meta || !entry) return undefined;
    if (entry === TAMPERED || (!sealed && (await sha256Hex(entry.bytes)) !== meta.sha256)) {
      await this.db.transaction('rw', this.db.instances, this.db.instanceBytes, this.db.studies, async () => {
        await this.db.instances.delete(sopInstanceUID);
        await this.db.instanceBytes.delete(sopInstanceUID);
        // In the same transaction: the study is never seen complete without the instance, and the
        // budget's byte sum never counts bytes that are gone.
        const study = await this.db.studies.get(meta.studyInstanceUID);
        if (study) {
          const storedBytes = Math.max(0, (study.storedBytes ?? meta.size) - meta.size);
          await this.db.studies.update(meta.studyInstanceUID, { complete: false, storedBytes });
        }
      });
      throw new CacheIntegrityError(sopInstanceUID);
    }
    return entry.bytes;
  }

  /**
   * Marks a study complete — openable with no network — only when every one
   * of its `numInstances` instances is stored. Returns whether it is complete;
   * false (and the flag left unset) when some are missing or the study is unknown.
   * Offline: works.
   */
  async markComplete(studyInstanceUID: string): Promise<boolean> {
    return this.db.transaction('rw', this.db.studies, this.db.instances, this.db.instanceBytes, async () => {
      const study = await this.db.studies.get(studyInstanceUID);
      if (!study) return false;
      const sops = (await this.db.instances.where('studyInstanceUID').equals(studyInstanceUID).primaryKeys()) as string[];
      const withBytes = await this.db.instanceBytes.where(':id').anyOf(sops).primaryKeys();
      const complete = study.numInstances > 0 && withBytes.length >= study.numInstances;
      if (complete !== study.complete) await this.db.studies.update(studyInstanceUID, { complete });
      return complete;
    });
  }

  /**
   * Stores a study's instance list as its site answered it (reading order per
   * series), replacing the one before. Offline: works.
   */
  async putListing(listing: StudyListingRecord): Promise<void> {
    await this.db.studyListings.put(listing);
  }

  /** The study's last instance list, if it was ever listed here. Offline: works. */
  async getListing(studyInstanceUID: string): Promise<StudyListingRecord | undefined> {
    return this.db.studyListings.get(studyInstanceUID);
  }

  /**
   * Stores previews in one transaction, each with the SHA-256 of its JPEG,
   * except those whose lossless instance is stored already (a preview is only
   * ever a stand-in). Returns the SOP Instance UIDs written. Previews are not
   * counted in the study's `storedBytes` (≈ 2 % of a CT; evicted with it).
   * Offline: works.
   */
  async putPreviews(items: readonly PreviewPut[]): Promise<string[]> {
    if (items.length === 0) return [];
    const hashes = await Promise.all(items.map((i) => sha256Hex(i.bytes)));
    const storedAt = this.now();
    return this.db.transaction('rw', this.db.instancePreviews, this.db.instanceBytes, async () => {
      const lossless = new Set((await this.db.instanceBytes.where(':id').anyOf(items.map((i) => i.sopInstanceUID)).primaryKeys()) as string[]);
      const rows = items.flatMap((i, k): InstancePreviewRecord[] =>
        lossless.has(i.sopInstanceUID) ? [] : [{ ...i, size: i.bytes.byteLength, sha256: hashes[k]!, storedAt }],
      );
      await this.db.instancePreviews.bulkPut(rows);
      return rows.map((r) => r.sopInstanceUID);
    });
  }

  /** Whether a preview of the instance is stored (its key only is read). Offline: works. */
  async hasPreview(sopInstanceUID: string): Promise<boolean> {
    return (await this.db.instancePreviews.where(':id').equals(sopInstanceUID).primaryKeys()).length > 0;
  }

  /** SOP Instance UIDs of the study's stored previews (keys only, no bytes read). Offline: works. */
  async previewSops(studyInstanceUID: string): Promise<string[]> {
    return (await this.db.instancePreviews.where('studyInstanceUID').equals(studyInstanceUID).primaryKeys()) as string[];
  }

  /**
   * A stored preview, checked like an instance (hash in clear, GCM when
   * sealed). A preview that fails the check is deleted and reads as absent:
   * it is never shown, and the slice waits for its lossless file instead.
   * Offline: works.
   */
  async readPreview(sopInstanceUID: string): Promise<StoredPreview | undefined> {
    const sealed = this.db.sealer !== null;
    const row = await this.db.instancePreviews.get(sopInstanceUID).catch((err: unknown): typeof TAMPERED => {
      if (sealed && err instanceof SealedRowError) return TAMPERED;
      throw err;
    });
    if (!row) return undefined;
    if (row === TAMPERED || (!sealed && (await sha256Hex(row.bytes)) !== row.sha256)) {
      await this.db.instancePreviews.delete(sopInstanceUID);
      return undefined;
    }
    return { bytes: row.bytes, width: row.width, height: row.height };
  }

  /** What a site was found to support, if it was ever probed. Offline: works. */
  async getSiteCapability(siteId: string): Promise<SiteCapabilityRecord | undefined> {
    return this.db.siteCapabilities.get(siteId);
  }

  /**
   * Remembers what a site supports, merged over what was known: a probe that
   * learns one thing does not erase another. Offline: works.
   */
  async putSiteCapability(record: SiteCapabilityRecord): Promise<void> {
    await this.db.transaction('rw', this.db.siteCapabilities, async () => {
      const old = await this.db.siteCapabilities.get(record.siteId);
      await this.db.siteCapabilities.put({ ...old, ...record });
    });
  }
}

/*
 * Writes of the study tables (studies, series, instances, instanceBytes,
 * instancePreviews, studyListings) made for the cache budget. This module owns
 * those tables: the budget decides what to pin and what to evict, and these
 * functions do the writing.
 */

/** Pins or unpins a study (a pinned study is never evicted). */
export async function setStudyPinned(db: TeleradDB, studyInstanceUID: string, pinned: boolean): Promise<void> {
  await db.studies.update(studyInstanceUID, { pinned });
}

/**
 * Deletes a study's instances, their bytes, its previews and instance list, its series and its record in
 * one transaction: an interrupted eviction leaves the study whole, never a
 * "complete" record over missing instances.
 */
export async function deleteCachedStudy(db: TeleradDB, studyInstanceUID: string): Promise<void> {
  await db.transaction('rw', [db.studies, db.series, db.instances, db.instanceBytes, db.instancePreviews, db.studyListings], async () => {
    const sops = (await db.instances.where('studyInstanceUID').equals(studyInstanceUID).primaryKeys()) as string[];
    await db.instanceBytes.bulkDelete(sops);
    await db.instances.bulkDelete(sops);
    await db.instancePreviews.where('studyInstanceUID').equals(studyInstanceUID).delete();
    await db.studyListings.delete(studyInstanceUID);
    await db.series.where('studyInstanceUID').equals(studyInstanceUID).delete();
    await db.studies.delete(studyInstanceUID);
  });
}
