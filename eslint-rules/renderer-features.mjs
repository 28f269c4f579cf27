// @ts-check
import path from 'node:path';

/**
 * Rooms inside src/renderer (issue 16). Platform folders are the page's library
 * and import no feature; a feature imports the platform freely and another
 * feature only through that feature's public entry (`<feature>/index.ts`), never
 * its internals. main.tsx and app/ are the composition root: they wire the
 * features together, so they may reach anything, and nothing imports them.
 * A local rule rather than no-restricted-imports because the verdict depends on
 * where the importing file lives and where the specifier resolves.
 */
export const PLATFORM_FOLDERS = ['lib', 'types', 'cache', 'dicomweb', 'storage'];
const COMPOSITION_ROOT = ['app', 'main.tsx'];

/** '<root>/src/renderer/<folder>/…' → [folder, rest], or undefined outside the renderer. */
function rendererPlace(file) {
  const parts = file.split(path.sep);
  for (let i = parts.length - 2; i >= 1; i--) {
    if (parts[i - 1] === 'src' && parts[i] === 'renderer') return { folder: parts[i + 1], rest: parts.slice(i + 2).join('/') };
  }
  return undefined;
}

/** @type {import('eslint').Rule.RuleModule} */
export const rendererFeatures = {
  meta: {
    type: 'problem',
    docs: { description: 'features use the platform folders and other features only through their public entry' },
    schema: [],
    messages: {
      internals: "'{{from}}' reaches into the '{{to}}' feature's internals: import its public entry ('{{to}}/index.ts') instead, or move what both need into lib/.",
      platformUp: "Platform folder '{{from}}' imports the '{{to}}' feature: the platform (lib, types, cache, dicomweb, storage) imports no feature; pass it in as a dependency instead.",
      root: "'{{from}}' imports the composition root ('{{to}}'): only main.tsx and app/ wire features together.",
    },
  },
  create(context) {
    const file = path.resolve(context.filename);
    const here = rendererPlace(file);
    if (!here || here.rest === '' || COMPOSITION_ROOT.includes(here.folder)) return {};
    const check = (node, spec) => {
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const there = rendererPlace(path.resolve(path.dirname(file), spec.split('?')[0]));
      if (!there || there.folder === here.folder) return;
      const data = { from: here.folder, to: there.folder };
      if (COMPOSITION_ROOT.includes(there.folder)) return context.report({ node, messageId: 'root', data });
      if (PLATFORM_FOLDERS.includes(there.folder)) return;
      if (PLATFORM_FOLDERS.includes(here.folder)) return context.report({ node, messageId: 'platformUp', data });
      const entry = there.rest === '' || there.rest === 'index' || there.rest === 'index.ts';
      if (!entry) context.report({ node, messageId: 'internals', data });
    };
    const fromSource = (node) => node.source && check(node.source, node.source.value);
    return {
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression: (node) => node.source.type === 'Literal' && check(node.source, node.source.value),
    };
  },
};
