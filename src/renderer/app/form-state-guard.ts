/**
 * Chromium saves what is typed in form fields outside the page: session restore writes each control's
 * value into the profile's Sessions files, and autofill keeps typed entries in its own database — both
 * in clear, beside the encrypted cache (the lock-encryption e2e found report text in Sessions/).
 * Blink skips both for a control whose `autocomplete` is "off". Rather than rely on every component to
 * remember it, every input, textarea and select gets it as it enters the page; fields that ask for a
 * specific autocomplete (the lock screen's current-password / new-password) keep theirs.
 * Returns the function that stops watching.
 */
export function keepTypedTextOutOfBrowserStorage(root: ParentNode & Node, MutationObserverImpl: typeof MutationObserver): () => void {
  const guard = (el: Element): void => {
    if (!(el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement)) return;
    const current = el.getAttribute('autocomplete');
    if (current === null || current === '' || current === 'on') el.setAttribute('autocomplete', 'off');
  };
  const sweep = (node: Node): void => {
    if (!(node instanceof Element)) return;
    guard(node);
    for (const el of node.querySelectorAll('input, textarea, select')) guard(el);
  };
  sweep(root as unknown as Node);
  const observer = new MutationObserverImpl((records) => {
    for (const r of records) {
      if (r.type === 'attributes' && r.target instanceof Element) guard(r.target);
      for (const n of r.addedNodes) sweep(n);
    }
  });
  observer.observe(root, { childList: true, subtree: true, attributes: true, attributeFilter: ['autocomplete'] });
  return () => observer.disconnect();
}
