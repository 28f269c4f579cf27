/** The questions the store asks in the app's own dialog (an arrow's text, a reference size). */
import type { TextPrompt } from './measurement-types';
import { setState } from './store-context';
import type { Attachment, StoreContext } from './store-context';

export function askText(ctx: StoreContext, prompt: Omit<TextPrompt, 'id'>, att: Attachment | undefined, resolve: (text: string | undefined) => void): void {
  ctx.pending?.resolve(undefined); // one question at a time: a new one cancels the old
  const p: TextPrompt = { ...prompt, id: ++ctx.promptSeq };
  ctx.pending = { prompt: p, att, resolve };
  setState(ctx, { textPrompt: p });
}

/** The dialog's answer; undefined: cancelled. A numeric prompt stays open on an answer that is not a size. */
export function answerTextPrompt(ctx: StoreContext, text: string | undefined): void {
  const p = ctx.pending;
  if (!p) return;
  const trimmed = text?.trim();
  if (trimmed !== undefined && trimmed !== '' && p.prompt.numeric) {
    const mm = Number.parseFloat(trimmed.replace(',', '.'));
    if (!/^\d*[.,]?\d+$/.test(trimmed) || !(mm > 0)) {
      setState(ctx, { textPrompt: { ...p.prompt, error: `"${trimmed}" is not a size in millimetres: type a positive number, e.g. 25 or 24.5.` } });
      return;
    }
  }
  ctx.pending = undefined;
  setState(ctx, { textPrompt: undefined });
  p.resolve(trimmed ? trimmed : undefined);
}
