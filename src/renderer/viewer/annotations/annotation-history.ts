/**
 * Every change the reader makes goes through one undo stack, applied to the
 * in-memory records and the database alike: the writes and the history live
 * together so neither can change without the other.
 */
import type { AnnotationRecord } from '../../cache/telerad-db';
import { withPixelFigures } from './measurement-figures';
import { KIND, KIND_WORD, setState } from './store-context';
import type { StoreContext, UndoEntry } from './store-context';

/** Counts a database write in pendingWrites until it settles; a failure is logged, not thrown. */
export function track(ctx: StoreContext, write: Promise<unknown>, what: string): void {
  setState(ctx, { pendingWrites: ctx.state.pendingWrites + 1 });
  void write
    .catch((err: unknown) => ctx.deps.log.error(`${what} failed`, err))
    .finally(() => setState(ctx, { pendingWrites: ctx.state.pendingWrites - 1 }));
}

/** Makes `rec` (or its absence) the truth for `id`, in memory and in the database. */
export function write(ctx: StoreContext, id: string, given: AnnotationRecord | undefined): void {
  const rec = given && withPixelFigures(ctx, given);
  if (rec) {
    ctx.records.set(id, rec);
    track(ctx, ctx.deps.repo.put(rec), `Saving annotation ${id}`);
  } else if (ctx.records.has(id)) {
    ctx.records.delete(id);
    track(ctx, ctx.deps.repo.remove(id), `Deleting annotation ${id}`);
  }
}

export function commit(ctx: StoreContext, entry: UndoEntry): void {
  ctx.state.notice = undefined;
  for (const c of entry.changes) write(ctx, c.id, c.after);
  for (const e of ctx.undoStack) delete e.openId;
  ctx.undoStack.push(entry);
  ctx.redoStack = ctx.redoStack.filter((e) => e.study !== entry.study);
}

/** The latest entry of `study` in `stack`: undo and redo act on the focused study only. */
export function topOf(stack: UndoEntry[], study: string | undefined): UndoEntry | undefined {
  return study === undefined ? undefined : [...stack].reverse().find((e) => e.study === study);
}

/** Applies one side of an entry; refused (false) while an annotation it would change is locked. */
function applyEntry(ctx: StoreContext, entry: UndoEntry, dir: 'undo' | 'redo'): boolean {
  const locked = entry.changes.map((c) => ctx.records.get(c.id)).find((r) => r?.locked);
  if (locked) {
    setState(ctx, { notice: `The ${KIND_WORD[KIND[locked.tool] ?? 'length']} is locked: unlock it to ${dir} "${entry.what}".` });
    return false;
  }
  for (const c of entry.changes) write(ctx, c.id, dir === 'undo' ? c.before : c.after);
  delete entry.openId;
  return true;
}

/** Undoes or redoes the focused study's latest entry, moving it to the other stack; false when nothing changed. */
export function step(ctx: StoreContext, dir: 'undo' | 'redo'): boolean {
  // Read after applying too: the stacks are reassigned (filtered), never kept by reference.
  const from = (): UndoEntry[] => (dir === 'undo' ? ctx.undoStack : ctx.redoStack);
  const to = (): UndoEntry[] => (dir === 'undo' ? ctx.redoStack : ctx.undoStack);
  const entry = topOf(from(), ctx.focused?.studyUid);
  if (!entry || !applyEntry(ctx, entry, dir)) return false;
  from().splice(from().lastIndexOf(entry), 1);
  to().push(entry);
  ctx.state.notice = undefined;
  return true;
}

/** Forgets a study no viewport shows: its records, key images and history. */
export function dropStudy(ctx: StoreContext, uid: string): void {
  for (const [id, r] of ctx.records) if (r.studyInstanceUID === uid) ctx.records.delete(id);
  for (const [sop, k] of ctx.keyImages) if (k.studyInstanceUID === uid) ctx.keyImages.delete(sop);
  ctx.undoStack = ctx.undoStack.filter((e) => e.study !== uid);
  ctx.redoStack = ctx.redoStack.filter((e) => e.study !== uid);
  ctx.studies.delete(uid);
}
