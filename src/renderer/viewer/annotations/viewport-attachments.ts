/**
 * Which viewports the store follows, for which study: event listeners on
 * each, the study's records loaded once while any viewport shows it.
 */
import { dropStudy } from './annotation-history';
import { LOCAL_AUTHOR } from './measurement-types';
import type { DisplayedImages } from './measurement-types';
import { refresh } from './panel-state';
import type { Attachment, StoreContext } from './store-context';
import { answerTextPrompt } from './text-prompt';
import { onToolEvent } from './tool-events';
import { restore } from './tool-state-bridge';

function loadStudy(ctx: StoreContext, uid: string): void {
  const { repo, log } = ctx.deps;
  const entry = ctx.studies.get(uid)!;
  void repo.authorName().then(
    (name) => (ctx.author = name ?? LOCAL_AUTHOR),
    (err: unknown) => log.warn('Reading the user profile failed; annotations are signed "me"', err),
  );
  void Promise.all([repo.listForStudy(uid), repo.listKeyImages(uid)])
    .then(([list, keys]) => {
      if (ctx.studies.get(uid) !== entry) return; // closed (and maybe reopened) meanwhile
      entry.loaded = true;
      // Anything drawn while the list was loading is kept.
      for (const r of list) if (!ctx.records.has(r.id)) ctx.records.set(r.id, r);
      for (const k of keys) if (!ctx.keyImages.has(k.sopInstanceUID)) ctx.keyImages.set(k.sopInstanceUID, k);
      for (const att of ctx.attachments) if (att.studyUid === uid) restore(ctx, att);
      refresh(ctx);
    })
    .catch((err: unknown) => log.error('Reading the study annotations failed', err));
}

/** Starts following `el` for one open study; returns the function that stops. */
export function attachViewport(ctx: StoreContext, el: HTMLElement, studyInstanceUID: string, imgs: DisplayedImages): () => void {
  const { tools } = ctx.deps;
  // Opening another study forgets the ones no viewport shows any more (and their history).
  for (const [uid, s] of ctx.studies) if (uid !== studyInstanceUID && s.refs === 0) dropStudy(ctx, uid);
  const att: Attachment = { el, studyUid: studyInstanceUID, images: imgs, restoredImageId: undefined, detach: () => undefined };
  const handlers = {
    completed: onToolEvent(ctx, att, 'completed'),
    modified: onToolEvent(ctx, att, 'modified'),
    removed: onToolEvent(ctx, att, 'removed'),
  };
  el.addEventListener(tools.EVENTS.completed, handlers.completed);
  el.addEventListener(tools.EVENTS.modified, handlers.modified);
  el.addEventListener(tools.EVENTS.removed, handlers.removed);
  const unsubscribe = imgs.subscribe(() => {
    const shown = imgs.displayed();
    if (shown && shown.imageId !== att.restoredImageId) restore(ctx, att);
  });
  ctx.attachments.push(att);
  ctx.focused ??= att;
  let study = ctx.studies.get(studyInstanceUID);
  if (!study) {
    study = { refs: 0, loaded: false };
    ctx.studies.set(studyInstanceUID, study);
    loadStudy(ctx, studyInstanceUID);
  }
  study.refs++;
  restore(ctx, att);
  if (att === ctx.focused) refresh(ctx);
  let attached = true;
  att.detach = () => {
    if (!attached) return;
    attached = false;
    unsubscribe();
    el.removeEventListener(tools.EVENTS.completed, handlers.completed);
    el.removeEventListener(tools.EVENTS.modified, handlers.modified);
    el.removeEventListener(tools.EVENTS.removed, handlers.removed);
    ctx.attachments.splice(ctx.attachments.indexOf(att), 1);
    const s = ctx.studies.get(studyInstanceUID);
    if (s) s.refs--;
    if (ctx.pending?.att === att) answerTextPrompt(ctx, undefined);
    if (ctx.focused === att) ctx.focused = ctx.attachments[ctx.attachments.length - 1];
    if (ctx.attachments.length === 0) tools.clearAll();
    refresh(ctx);
  };
  return att.detach;
}

export function focusViewport(ctx: StoreContext, el: HTMLElement): void {
  const att = ctx.attachments.find((a) => a.el === el);
  if (!att || att === ctx.focused) return;
  ctx.focused = att;
  refresh(ctx);
}
