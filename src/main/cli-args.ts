/**
 * Reads `--name value` or `--name=value` from an argv list. Tolerant on
 * purpose: Electron and Chromium put their own switches (`--no-sandbox`, the
 * app path) in the same argv, so unknown arguments are not errors here.
 */
export function readFlag(argv: readonly string[], name: string): string | undefined {
  const flag = `--${name}`;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === flag) {
      const value = argv[i + 1];
      return value !== undefined && !value.startsWith('--') ? value : undefined;
    }
    if (arg?.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
  }
  return undefined;
}

/** Whether a bare switch such as `--allow-basic-text-secrets` is on the command line. */
export function hasFlag(argv: readonly string[], name: string): boolean {
  return argv.includes(`--${name}`);
}
