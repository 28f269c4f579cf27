import { memo, useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { JSX, KeyboardEvent } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { formatDicomDate } from '../../shared/dicom/dicomweb-json';
import type { SiteStatus, WorklistState, WorklistStore } from './worklist-store';
import { selectVisibleRows, selectWorklistRows } from './worklist-store';
import { isFilterActive, nextSort } from './worklist-filter';
import type { SortKey, WorklistSort } from './worklist-filter';
import { CASE_STATUSES, CASE_STATUS_LABEL, PRIORITIES, formatSize, formatWaiting, turnaroundState, waitingMs } from './worklist-row';
import type { WorklistRow } from './worklist-row';
import type { QualityBadges } from '../quality';
import { badgeText } from '../quality';
import type { QualityResult } from '../quality';

export interface WorklistViewProps {
  store: WorklistStore;
  onOpen: (row: WorklistRow) => void;
  /** How often the waiting times and turnaround colours move on; default 30 s. */
  clockTickMs?: number;
  /** The user's prefetch marks (a toggle per row); no toggle without it. */
  prefetchMarks?: PrefetchMarks;
  /** Quality badges of cached cases (computed in the background); no badges without it. */
  quality?: QualityBadges;
  /** Transfers under way: a streaming study's row says how far it is. */
  transfers?: StreamingTransfers;
}

/** What the per-row "prefetch" toggle needs (the prefetch settings store satisfies it). */
export interface PrefetchMarks {
  getState(): { marks: ReadonlySet<string> };
  subscribe(listener: () => void): () => void;
  setMark(siteId: string, studyInstanceUID: string, marked: boolean): Promise<void>;
}

const NO_MARKS = { marks: new Set<string>() as ReadonlySet<string> };
const NO_QUALITY = { byStudy: new Map<string, QualityResult>() as ReadonlyMap<string, QualityResult> };
const noSubscribe = (): (() => void) => () => undefined;

/** Fixed row height: the virtualizer places rows by arithmetic, with no measuring per row. */
const ROW_HEIGHT = 34;

function statusText(s: SiteStatus): string {
  if (s.state === 'loading') return `${s.site.name}: loading…`;
  if (s.state === 'error') return `${s.site.name}: ${s.message ?? 'failed'}`;
  if (s.cappedAt !== undefined) return `${s.site.name}: more than ${s.cappedAt} studies (first ${s.cappedAt} listed)`;
  return `${s.site.name}: ${s.rows.length} ${s.rows.length === 1 ? 'study' : 'studies'}`;
}

interface Column {
  id: string;
  label: string;
  /** Least width, rem; the column never shrinks below it (the grid scrolls sideways instead). */
  min: number;
  /** Share of the spare width (fr); fixed when absent. */
  grow?: number;
  sort?: SortKey;
  className?: string;
  cell: (row: WorklistRow, ctx: CellContext) => JSX.Element | string;
}

interface CellContext {
  now: number;
  siteName: (id: string) => string;
  onOpen: (row: WorklistRow) => void;
  marked?: ReadonlySet<string>;
  onMark?: (row: WorklistRow, marked: boolean) => void;
  quality?: ReadonlyMap<string, QualityResult>;
  /** Studies streaming in now, by study UID. */
  streaming?: ReadonlyMap<string, StreamingTransfer>;
}

/** What a row shows of a study streaming in (the transfers store's snapshot satisfies it). */
export interface StreamingTransfer {
  studyInstanceUID: string;
  state: string;
  instancesDone: number;
  instancesTotal: number;
  previewsDone: number;
  previewsTotal: number;
}

/** The transfers under way (the transfers store satisfies it). */
export interface StreamingTransfers {
  getState(): { transfers: readonly StreamingTransfer[] };
  subscribe(listener: () => void): () => void;
}

/** "preview ready · 37 of 300 lossless" while a study streams in. */
export function streamingLabel(t: StreamingTransfer): string {
  const lossless = `${t.instancesDone} of ${t.instancesTotal} lossless`;
  if (t.previewsTotal === 0) return lossless;
  const preview = t.previewsDone >= t.previewsTotal ? 'preview ready' : `previews ${t.previewsDone}/${t.previewsTotal}`;
  return `${preview} · ${lossless}`;
}

const NO_TRANSFERS: readonly StreamingTransfer[] = [];

const WAITING_TITLE =
  'Time since the study date and time (StudyDate + StudyTime): the site does not report when the study arrived';

const COLUMNS: readonly Column[] = [
  {
    id: 'priority',
    label: 'Priority',
    min: 5.5,
    sort: 'priority',
    cell: (r) => (
      <span
        className="priority"
        data-priority={r.priority ?? ''}
        title={r.referralState === 'pending' ? 'Reading the referral note…' : r.referralState === 'error' ? 'The referral note could not be read' : undefined}
      >
        {r.priority ?? (r.referralState === 'error' ? '?' : '…')}
      </span>
    ),
  },
  { id: 'status', label: 'Status', min: 10.5, sort: 'status', cell: (r) => CASE_STATUS_LABEL[r.status] },
  {
    id: 'waiting',
    label: 'Waiting',
    min: 8,
    sort: 'waiting',
    className: 'waiting',
    cell: (r, { now }) => <span title={WAITING_TITLE}>{formatWaiting(waitingMs(r, now))}</span>,
  },
  { id: 'patientName', label: 'Patient name', min: 10, grow: 1.3, sort: 'patientName', cell: (r) => r.patientName },
  { id: 'patientId', label: 'Patient ID', min: 7.5, sort: 'patientId', cell: (r) => r.patientId },
  { id: 'age', label: 'Age / sex', min: 7, sort: 'age', cell: (r) => [r.age, r.patientSex].filter(Boolean).join(' ') },
  { id: 'modalities', label: 'Modality', min: 7, sort: 'modalities', cell: (r) => r.modalities.join(', ') },
  { id: 'bodyPart', label: 'Body part', min: 7.5, sort: 'bodyPart', cell: (r) => r.bodyPart },
  { id: 'studyDate', label: 'Study date', min: 7.5, sort: 'studyDate', cell: (r) => formatDicomDate(r.studyDate) },
  { id: 'description', label: 'Description', min: 10, grow: 2, sort: 'description', cell: (r) => r.description },
  { id: 'site', label: 'Site', min: 8, grow: 0.5, sort: 'site', cell: (r, { siteName }) => siteName(r.siteId) },
  { id: 'numInstances', label: 'Images', min: 5, sort: 'numInstances', className: 'num', cell: (r) => (r.numInstances ?? '').toString() },
  {
    id: 'size',
    label: 'Size',
    min: 6,
    sort: 'size',
    className: 'num',
    cell: (r) => (
      <span title={r.size ? (r.size.exact ? 'Stored bytes in the local cache' : 'Estimate: images × a typical size for the modality') : undefined}>
        {formatSize(r.size)}
      </span>
    ),
  },
  {
    id: 'offline',
    label: 'Offline',
    min: 8.5,
    sort: 'offline',
    cell: (r, { marked, onMark, streaming }) => (
      <>
        {streaming?.get(r.studyInstanceUID) && !r.availableOffline ? (
          <span className="badge badge-streaming" data-testid="streaming-badge" title="Streaming in: previews first, then every image lossless">
            {streamingLabel(streaming.get(r.studyInstanceUID)!)}
          </span>
        ) : r.availableOffline ? (
          <span className="badge" data-testid="offline-badge" data-complete="true" title="Every image is in the local cache">
            available offline
          </span>
        ) : (
          r.offlineFraction !== undefined && (
            <span className="badge badge-partial" data-testid="offline-badge" data-complete="false" title="Part of the images are in the local cache">
              {`${Math.floor(r.offlineFraction * 100)} % offline`}
            </span>
          )
        )}
        {onMark && !r.availableOffline && (
          <input
            type="checkbox"
            data-testid="prefetch-mark"
            aria-label="Prefetch this case"
            title="Prefetch this case for offline use"
            checked={marked?.has(r.studyInstanceUID) ?? false}
            onChange={(e) => onMark(r, e.target.checked)}
            tabIndex={-1}
          />
        )}
      </>
    ),
  },
  {
    id: 'quality',
    label: 'Quality',
    min: 7.5,
    cell: (r, { quality }) => {
      const result = quality?.get(r.studyInstanceUID);
      if (!result) return '';
      const { label, description } = badgeText(result);
      return (
        <span className="badge quality-badge" data-testid="quality-badge" data-level={result.worst} title={description} aria-label={description}>
          {label}
        </span>
      );
    },
  },
  {
    id: 'open',
    label: '',
    min: 5,
    cell: (r, { onOpen }) => (
      <button type="button" className="btn btn-small" data-testid="open-study" onClick={() => onOpen(r)} tabIndex={-1}>
        Open
      </button>
    ),
  },
];

const GRID_TEMPLATE = COLUMNS.map((c) => (c.grow ? `minmax(${c.min}rem, ${c.grow}fr)` : `${c.min}rem`)).join(' ');
/** Header and rows share this least width, so their tracks resolve to the same columns whatever their content. */
const GRID_MIN_WIDTH = `${COLUMNS.reduce((sum, c) => sum + c.min, 0)}rem`;

function useNow(tickMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), tickMs);
    return () => clearInterval(id);
  }, [tickMs]);
  return now;
}

interface RowProps {
  row: WorklistRow;
  index: number;
  start: number;
  ctx: CellContext;
  onKey: (e: KeyboardEvent<HTMLDivElement>, row: WorklistRow, index: number) => void;
}

/**
 * One line. Memoised: while scrolling, only the lines entering the view
 * render; the ones already there keep their DOM untouched but for their
 * offset. Rows are objects from selectWorklistRows, so an unchanged study
 * keeps its identity until its data (or the clock) changes.
 */
const Row = memo(function Row({ row: r, index, start, ctx, onKey }: RowProps): JSX.Element {
  return (
    <div
      role="row"
      aria-rowindex={index + 2}
      tabIndex={0}
      className="wl-row"
      data-testid="worklist-row"
      data-study-uid={r.studyInstanceUID}
      data-site-id={r.siteId}
      data-priority={r.priority ?? ''}
      data-status={r.status}
      data-turnaround={turnaroundState(r, ctx.now)}
      data-cache-only={r.fromCacheOnly ? 'true' : undefined}
      style={{ transform: `translateY(${start}px)`, height: ROW_HEIGHT }}
      onDoubleClick={() => ctx.onOpen(r)}
      onKeyDown={(e) => onKey(e, r, index)}
    >
      {COLUMNS.map((c, i) => (
        <div key={c.id} role="gridcell" aria-colindex={i + 1} className={`wl-cell wl-${c.id}${c.className ? ` ${c.className}` : ''}`}>
          {c.cell(r, ctx)}
        </div>
      ))}
    </div>
  );
});

function ariaSort(sort: WorklistSort, key: SortKey | undefined): 'ascending' | 'descending' | 'none' | undefined {
  if (!key) return undefined;
  if (sort.key !== key) return 'none';
  return sort.dir === 'asc' ? 'ascending' : 'descending';
}

function Filters({ store, state, rows }: { store: WorklistStore; state: WorklistState; rows: readonly WorklistRow[] }): JSX.Element {
  const f = state.filter;
  const modalities = useMemo(() => [...new Set(rows.flatMap((r) => r.modalities))].sort(), [rows]);
  return (
    <div className="worklist-filters" role="search" aria-label="Filter the worklist">
      <input
        type="search"
        className="filter-text"
        placeholder="Name, ID, description, accession"
        aria-label="Search name, patient ID, description or accession number"
        data-testid="filter-text"
        value={f.text}
        onChange={(e) => store.setFilter({ text: e.target.value })}
      />
      <select aria-label="Priority" data-testid="filter-priority" value={f.priority} onChange={(e) => store.setFilter({ priority: e.target.value as typeof f.priority })}>
        <option value="">Any priority</option>
        {PRIORITIES.map((p) => (
          <option key={p} value={p}>
            {p}
          </option>
        ))}
      </select>
      <select aria-label="Status" data-testid="filter-status" value={f.status} onChange={(e) => store.setFilter({ status: e.target.value as typeof f.status })}>
        <option value="">Any status</option>
        {CASE_STATUSES.map((s) => (
          <option key={s} value={s}>
            {CASE_STATUS_LABEL[s]}
          </option>
        ))}
      </select>
      <select aria-label="Site" data-testid="filter-site" value={f.siteId} onChange={(e) => store.setFilter({ siteId: e.target.value })}>
        <option value="">All sites</option>
        {state.sites.map((s) => (
          <option key={s.site.id} value={s.site.id}>
            {s.site.name}
          </option>
        ))}
      </select>
      <select aria-label="Modality" data-testid="filter-modality" value={f.modality} onChange={(e) => store.setFilter({ modality: e.target.value })}>
        <option value="">Any modality</option>
        {/* A filter set before a refresh keeps its option even if no row has it now. */}
        {[...new Set([...modalities, ...(f.modality ? [f.modality] : [])])].map((m) => (
          <option key={m} value={m}>
            {m}
          </option>
        ))}
      </select>
      <label className="filter-date">
        from
        <input type="date" data-testid="filter-date-from" value={f.dateFrom} onChange={(e) => store.setFilter({ dateFrom: e.target.value })} />
      </label>
      <label className="filter-date">
        to
        <input type="date" data-testid="filter-date-to" value={f.dateTo} onChange={(e) => store.setFilter({ dateTo: e.target.value })} />
      </label>
      <label className="filter-offline" title="Only cases whose every image is in the local cache">
        <input
          type="checkbox"
          data-testid="filter-offline"
          checked={f.offline === 'complete'}
          onChange={(e) => store.setFilter({ offline: e.target.checked ? 'complete' : '' })}
        />
        available offline
      </label>
      <button type="button" className="btn btn-small" onClick={() => store.clearFilter()} disabled={!isFilterActive(f)} data-testid="filter-clear">
        Clear
      </button>
    </div>
  );
}

/** One line per site (loading, its count, or why it failed), and the host's own failure. */
function SiteStatuses({ hostError, sites }: { hostError: string | undefined; sites: readonly SiteStatus[] }): JSX.Element {
  return (
    <ul className="site-statuses">
      {hostError && (
        <li className="site-status" data-state="error" role="alert">
          Sites unavailable: {hostError}
        </li>
      )}
      {sites.map((s) => (
        <li
          key={s.site.id}
          className="site-status"
          data-testid="site-status"
          data-site-id={s.site.id}
          data-state={s.state}
          title={s.site.url}
        >
          <span className="dot" aria-hidden="true" />
          {statusText(s)}
        </li>
      ))}
    </ul>
  );
}

/** The sortable column headers; a click cycles the column's sort. */
function GridHeader({ store, sort }: { store: WorklistStore; sort: WorklistSort }): JSX.Element {
  return (
    <div role="rowgroup" className="wl-head">
      <div role="row" aria-rowindex={1} className="wl-row">
        {COLUMNS.map((c, i) => (
          <div
            key={c.id}
            role="columnheader"
            aria-colindex={i + 1}
            aria-sort={ariaSort(sort, c.sort)}
            className={`wl-cell${c.className ? ` ${c.className}` : ''}`}
          >
            {c.sort ? (
              <button type="button" className="wl-sort" data-testid={`sort-${c.id}`} onClick={() => store.setSort(nextSort(sort, c.sort!))}>
                {c.label}
                <span className="wl-sort-mark" aria-hidden="true">
                  {sort.key === c.sort ? (sort.dir === 'asc' ? '▲' : '▼') : ''}
                </span>
              </button>
            ) : (
              <span className="visually-hidden">{c.id === 'open' ? 'Open' : c.label}</span>
            )}
          </div>
        ))}
      </div>
    </div>
  );
}

/**
 * The merged worklist: every site's studies and every cached one, one
 * status line per site, filters, sortable headers, and a virtualized grid
 * (only the rows in view, plus a margin, are in the DOM), so 10,000 studies
 * scroll as smoothly as ten. ARIA grid semantics stand in for the table the
 * absolute-positioned rows cannot be.
 */
export function WorklistView({ store, onOpen, clockTickMs = 30_000, prefetchMarks, quality: qualityBadges, transfers }: WorklistViewProps): JSX.Element {
  const transferList = useSyncExternalStore(transfers?.subscribe ?? noSubscribe, () => transfers?.getState().transfers ?? NO_TRANSFERS);
  const streaming = useMemo(
    () => new Map(transferList.filter((t) => t.state === 'running' || t.state === 'queued' || t.state === 'paused').map((t) => [t.studyInstanceUID, t])),
    [transferList],
  );
  const state = useSyncExternalStore(store.subscribe, store.getState);
  const { marks } = useSyncExternalStore(prefetchMarks?.subscribe ?? noSubscribe, prefetchMarks?.getState ?? (() => NO_MARKS));
  const onMark = useMemo(
    () => (prefetchMarks ? (r: WorklistRow, on: boolean) => void prefetchMarks.setMark(r.siteId, r.studyInstanceUID, on) : undefined),
    [prefetchMarks],
  );
  const now = useNow(clockTickMs);
  const { byStudy: quality } = useSyncExternalStore(qualityBadges?.subscribe ?? noSubscribe, qualityBadges?.getState ?? (() => NO_QUALITY));
  const { sites, cached, cachedBytes, storedCounts, referrals, localStatus, referralLookups } = state;
  const merged = useMemo(
    () => selectWorklistRows({ sites, cached, cachedBytes, storedCounts, referrals, localStatus, referralLookups }),
    [sites, cached, cachedBytes, storedCounts, referrals, localStatus, referralLookups],
  );
  const { filter, sort } = state;
  const rows = useMemo(() => selectVisibleRows(merged, { filter, sort, sites }, now), [merged, filter, sort, sites, now]);
  const siteNames = useMemo(() => new Map(sites.map((s) => [s.site.id, s.site.name])), [sites]);
  const ctx: CellContext = useMemo(
    () => ({ now, siteName: (id) => siteNames.get(id) ?? id, onOpen, marked: marks, quality, streaming, ...(onMark ? { onMark } : {}) }),
    [now, siteNames, onOpen, marks, onMark, quality, streaming],
  );

  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    // Before the first measurement, assume a window-sized viewport, so the first paint already has rows.
    initialRect: { width: 1280, height: 900 },
    getItemKey: (i) => rows[i]?.key ?? i,
    useFlushSync: false,
  });

  // Stable across scroll frames (read through refs), so memoised rows are not re-rendered for it.
  const rowCount = useRef(rows.length);
  rowCount.current = rows.length;
  const scrollToIndex = useRef(virtualizer.scrollToIndex);
  scrollToIndex.current = virtualizer.scrollToIndex;
  const onRowKey = useCallback(
    (e: KeyboardEvent<HTMLDivElement>, row: WorklistRow, index: number): void => {
      if (e.key === 'Enter') {
        e.preventDefault();
        onOpen(row);
      } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const next = Math.min(rowCount.current - 1, Math.max(0, index + (e.key === 'ArrowDown' ? 1 : -1)));
        scrollToIndex.current(next);
        // The next row may only exist after the virtualizer re-renders.
        requestAnimationFrame(() => scrollRef.current?.querySelector<HTMLElement>(`[aria-rowindex="${next + 2}"]`)?.focus());
      }
    },
    [onOpen],
  );

  return (
    <section className="worklist" aria-label="Worklist">
      <div className="worklist-toolbar">
        <h2>Worklist</h2>
        <button type="button" className="btn" onClick={() => void store.refresh()} disabled={state.refreshing} data-testid="refresh">
          {state.refreshing ? 'Refreshing…' : 'Refresh'}
        </button>
        <SiteStatuses hostError={state.hostError} sites={sites} />
      </div>
      <Filters store={store} state={state} rows={merged} />
      <div className="worklist-count" data-testid="worklist-count" aria-live="polite">
        {rows.length === merged.length ? `${merged.length} studies` : `${rows.length} of ${merged.length} studies`}
      </div>
      <div
        ref={scrollRef}
        className={`worklist-grid${rows.length === 0 ? ' is-empty' : ''}`}
        role="grid"
        aria-label="Studies"
        aria-rowcount={rows.length + 1}
        aria-colcount={COLUMNS.length}
        style={{ ['--wl-columns' as string]: GRID_TEMPLATE, ['--wl-min-width' as string]: GRID_MIN_WIDTH }}
      >
        <GridHeader store={store} sort={sort} />
        <div role="rowgroup" className="wl-body" style={{ height: virtualizer.getTotalSize() }}>
          {virtualizer.getVirtualItems().map((v) => {
            const r = rows[v.index];
            return r ? <Row key={v.key} row={r} index={v.index} start={v.start} ctx={ctx} onKey={onRowKey} /> : null;
          })}
        </div>
      </div>
      {rows.length === 0 && (
        <p className="worklist-empty">
          {state.refreshing ? 'Loading studies…' : merged.length > 0 ? 'No study matches the filters.' : 'No studies.'}
        </p>
      )}
    </section>
  );
}
