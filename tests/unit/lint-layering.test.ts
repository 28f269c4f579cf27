import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';

// Lints source text as if it lived at a given path, with the project's real
// eslint.config.js, so this fails if the layering rule is ever weakened.
async function lintAs(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: process.cwd() });
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => `${m.line}: ${m.message}`);
}

describe('layering rule', () => {
  it('rejects the renderer importing from main', async () => {
    const errors = await lintAs('src/renderer/app/bad.ts', "import { x } from '../../main/services/app-services';\nexport const y = x;\n");
    expect(errors.join('\n')).toMatch(/src\/renderer imports only src\/shared/);
  });

  it('rejects the qc command importing from the renderer', async () => {
    const errors = await lintAs('src/cli/bad.ts', "import { x } from '../renderer/case-import/import-files';\nexport const y = x;\n");
    expect(errors.join('\n')).toMatch(/src\/cli imports only src\/shared/);
  });

  it('rejects main importing from the renderer', async () => {
    const errors = await lintAs('src/main/bad.ts', "import { x } from '../renderer/app/App';\nexport const y = x;\n");
    expect(errors.join('\n')).toMatch(/src\/main imports only src\/shared/);
  });

  it('rejects shared importing from main or the renderer', async () => {
    const errors = await lintAs(
      'src/shared/bad.ts',
      "import { a } from '../main/web-host';\nimport { b } from '../renderer/main';\nexport const y = [a, b];\n",
    );
    const lines = new Set(errors.map((e) => e.split(':')[0]));
    expect([...lines].sort()).toEqual(['1', '2']);
  });

  it('accepts the renderer importing from shared', async () => {
    const errors = await lintAs('src/renderer/app/good.ts', "import { contract } from '../../shared/ipc/contract';\nexport const y = contract;\n");
    expect(errors).toEqual([]);
  });
});
