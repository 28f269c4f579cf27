/**
 * One keyboard shortcut of the viewer: the help overlay lists them, the
 * viewer's key handler runs the first that matches (keys typed into a form
 * field never reach it). The viewer's own shortcuts and the annotation
 * tools' (annotations/annotation-shortcuts.ts) share this shape.
 */
export interface ViewerShortcut {
  /** As shown in the help overlay: "Ctrl+Z", "L", "?". */
  keys: string;
  description: string;
  matches(e: KeyboardEvent): boolean;
  run(): void;
}
