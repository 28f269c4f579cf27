import type { JSX } from 'react';
import type { ComposeForm } from './compose-drafts';
import type { ThreadCompose } from './use-thread-compose';

function promptOf(form: ComposeForm): string {
  return form === 'ask' ? 'Your question to the referrer' : form === 'answer' ? 'Your answer' : 'What happened to the patient';
}

function submitLabelOf(form: ComposeForm): string {
  return form === 'ask' ? 'Send question' : form === 'answer' ? 'Send answer' : 'Post outcome';
}

/** The open form: the text, the kept-text notice, the files (answers only), send and cancel. */
export function ThreadComposeForm(props: { form: ComposeForm; compose: ThreadCompose }): JSX.Element {
  const { form, compose } = props;
  return (
    <form
      className="case-thread-form"
      data-testid="thread-form"
      onSubmit={(ev) => {
        ev.preventDefault();
        void compose.submit();
      }}
    >
      <label>
        {promptOf(form)}
        <textarea data-testid="thread-text-input" rows={4} spellCheck value={compose.text} onChange={(ev) => compose.type(ev.target.value)} />
      </label>
      {compose.restored && (
        <p className="case-thread-restored" role="status" data-testid="thread-restored">
          Your unsent text was kept{form === 'answer' ? ' (attach the files again)' : ''}.
        </p>
      )}
      {form === 'answer' && (
        <label>
          Photos and PDFs
          <input
            type="file"
            data-testid="thread-files"
            multiple
            accept="image/jpeg,image/png,application/pdf"
            onChange={(ev) => compose.setFiles(ev.target.files ? [...ev.target.files] : [])}
          />
        </label>
      )}
      <div className="case-thread-form-buttons">
        <button type="submit" className="btn btn-primary btn-small" data-testid="thread-submit" disabled={compose.busy}>
          {submitLabelOf(form)}
        </button>
        <button type="button" className="btn btn-small" onClick={compose.close} disabled={compose.busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** No form open: what each side may do (an answer needs a question to answer). */
export function ThreadActionButtons(props: { start: ThreadCompose['start']; canAnswer: boolean }): JSX.Element {
  const { start } = props;
  return (
    <div className="case-thread-actions">
      <span className="case-thread-actions-side">Specialist</span>
      <button type="button" className="btn btn-small" data-testid="thread-ask" onClick={() => start('ask')}>
        Ask for more information
      </button>
      <span className="case-thread-actions-side">Referrer</span>
      <button type="button" className="btn btn-small" data-testid="thread-answer" onClick={() => start('answer')} disabled={!props.canAnswer}>
        Answer
      </button>
      <button type="button" className="btn btn-small" data-testid="thread-outcome" onClick={() => start('outcome')}>
        Post outcome
      </button>
    </div>
  );
}
