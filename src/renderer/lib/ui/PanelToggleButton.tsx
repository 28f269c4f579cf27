import type { ButtonHTMLAttributes, JSX } from 'react';

/** What a header button that shows and hides one panel needs; every other button attribute passes through. */
export type PanelToggleButtonProps = Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'type' | 'onClick' | 'aria-pressed'> & {
  /** Whether the panel it toggles is open. */
  pressed: boolean;
  onToggle: () => void;
};

/**
 * A small header button that shows and hides one panel (prefetch settings,
 * transfers). aria-pressed, not aria-expanded: the panel opens elsewhere in the
 * layout, so the button states whether it is on, as a toolbar toggle does.
 */
export function PanelToggleButton({ pressed, onToggle, className, children, ...attributes }: PanelToggleButtonProps): JSX.Element {
  return (
    <button type="button" className={`btn btn-small ${className ?? ''}`.trim()} aria-pressed={pressed} onClick={onToggle} {...attributes}>
      {children}
    </button>
  );
}
