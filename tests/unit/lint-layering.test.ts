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

// Inside the renderer: features meet through public entries (eslint-rules/renderer-features.mjs).
async function featureErrors(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: process.cwd() });
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'local/renderer-features').map((m) => `${m.line}: ${m.message}`);
}

describe('renderer feature rule', () => {
  it("rejects a feature importing another feature's internals", async () => {
    const errors = await featureErrors(
      'src/renderer/reports/bad.ts',
      "import { selectWorklistRows } from '../worklist/worklist-store';\nexport const y = selectWorklistRows;\n",
    );
    expect(errors).toEqual([expect.stringMatching(/^1: 'reports' reaches into the 'worklist' feature's internals/)]);
  });

  it('rejects a planted deep import written as a re-export or a dynamic import', async () => {
    const errors = await featureErrors(
      'src/renderer/viewer/bad.ts',
      "export { readReportSr } from '../reports/report-panel-store';\nexport const m = import('../case-thread/thread-store');\n",
    );
    expect(errors.map((e) => e.split(':')[0])).toEqual(['1', '2']);
  });

  it('rejects the platform importing a feature, even its public entry', async () => {
    const errors = await featureErrors('src/renderer/cache/bad.ts', "import type { WorklistStore } from '../worklist';\nexport type Y = WorklistStore;\n");
    expect(errors.join('\n')).toMatch(/Platform folder 'cache' imports the 'worklist' feature/);
  });

  it('rejects a feature importing the composition root', async () => {
    const errors = await featureErrors('src/renderer/worklist/bad.ts', "import { App } from '../app/App';\nexport const y = App;\n");
    expect(errors.join('\n')).toMatch(/imports the composition root/);
  });

  it("accepts the platform, another feature's public entry, its own folder, and the composition root reaching anything", async () => {
    const code =
      "import { formatBytes } from '../lib/format-bytes';\nimport type { WorklistStore } from '../worklist';\nimport { x } from './here';\nexport const y = [formatBytes, x];\nexport type Z = WorklistStore;\n";
    expect(await featureErrors('src/renderer/reports/good.ts', code)).toEqual([]);
    expect(await featureErrors('src/renderer/app/good.ts', "import { createReportRepo } from '../reports/report-repo';\nexport const y = createReportRepo;\n")).toEqual([]);
    expect(await featureErrors('src/renderer/main.tsx', "import { createReportRepo } from './reports/report-repo';\nexport const y = createReportRepo;\n")).toEqual([]);
  });

  // The whole tree is held to the rule by the lint gate of `npm test` (scripts/test-all.mjs).
});
