import { useEffect, useState } from 'react';
import type { Logger } from '../../shared/log';
import { errorMessage } from '../../shared/error-message';
import type { ComposeDrafts, ComposeForm } from './compose-drafts';
import type { NewAttachmentFile, ThreadActions } from './thread-actions';
import type { ThreadItem } from './thread-store';

/** Which form the composer shows: none, a question, an answer, an outcome. */
export type ComposeMode = ComposeForm | undefined;

export interface ThreadComposeDeps {
  actions: ThreadActions;
  drafts: ComposeDrafts | undefined;
  siteId: string;
  studyInstanceUID: string;
  /** The entries shown: a question or an outcome replies to the latest. */
  entries: readonly ThreadItem[];
  /** The referrer's answer replies to the latest question. */
  lastQuestion: ThreadItem | undefined;
  /** The panel's one error line: a refused action says why there. */
  setMessage: (message: string | undefined) => void;
  /** Opens the panel: a restored draft must be seen. */
  expand: () => void;
  log: Logger;
}

export interface ThreadCompose {
  form: ComposeMode;
  text: string;
  /** The text shown was unsent text kept from before. */
  restored: boolean;
  busy: boolean;
  start: (form: ComposeMode) => void;
  type: (value: string) => void;
  setFiles: (files: File[]) => void;
  close: () => void;
  submit: () => Promise<void>;
}

/** The picked files as the actions take them: bytes, not the browser's File objects. */
async function readFiles(files: readonly File[]): Promise<NewAttachmentFile[]> {
  return Promise.all(files.map(async (f) => ({ name: f.name, type: f.type, bytes: new Uint8Array(await f.arrayBuffer()) })));
}

/** The composer's state: the open form, its text (kept as a draft while typed), the picked files, the send. */
export function useThreadCompose(deps: ThreadComposeDeps): ThreadCompose {
  const { drafts, studyInstanceUID } = deps;
  const [form, setForm] = useState<ComposeMode>(undefined);
  const [text, setText] = useState('');
  const [files, setFiles] = useState<File[]>([]);
  const [busy, setBusy] = useState(false);
  // Text written here and not yet sent comes back with the case (after a lock, a reload or a crash).
  const [restored, setRestored] = useState(false);
  useEffect(() => {
    let live = true;
    setRestored(false);
    void drafts?.load(studyInstanceUID).then(
      (d) => {
        if (!live || !d) return;
        setForm(d.form);
        setText(d.text);
        setRestored(true);
        deps.expand();
      },
      (err: unknown) => deps.log.warn('Reading the unsent thread text failed', err),
    );
    return () => {
      live = false;
    };
    // Once per case: the logger does not change what is read.
  }, [drafts, studyInstanceUID]);
  const type = (value: string): void => {
    setText(value);
    if (form) drafts?.save(studyInstanceUID, form, value);
  };
  const close = (): void => {
    setForm(undefined);
    setRestored(false);
    void drafts?.discard(studyInstanceUID);
  };

  const start = (f: ComposeMode): void => {
    setForm(f);
    setText('');
    setFiles([]);
    deps.setMessage(undefined);
    setRestored(false);
  };

  const submit = async (): Promise<void> => {
    const { actions, entries } = deps;
    const c = { siteId: deps.siteId, studyInstanceUID };
    setBusy(true);
    deps.setMessage(undefined);
    try {
      if (form === 'ask') await actions.askForMoreInformation(c, text, entries[entries.length - 1]?.reference);
      else if (form === 'answer') await actions.answer(c, text, await readFiles(files), deps.lastQuestion?.reference);
      else if (form === 'outcome') await actions.postOutcome(c, text, entries[entries.length - 1]?.reference);
      close();
    } catch (err) {
      const why = errorMessage(err);
      deps.log.warn(`Thread action ${form ?? ''} refused: ${why}`);
      deps.setMessage(why);
    } finally {
      setBusy(false);
    }
  };

  return { form, text, restored, busy, start, type, setFiles, close, submit };
}
