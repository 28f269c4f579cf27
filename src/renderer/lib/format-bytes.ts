/**
 * A size for people: "870 B", "45 kB", "4.2 MB", "61 MB", "1.3 GB" — three
 * figures at most. Decimal units, as links and disks are sold; `binary` for the
 * storage panel, whose budget field and storage-full message count
 * 1 MB = 1024 × 1024 bytes, so the figures there agree with each other.
 */
export function formatBytes(bytes: number, opts: { binary?: boolean } = {}): string {
  const k = opts.binary ? 1024 : 1000;
  if (bytes < k) return `${bytes} B`;
  if (bytes < k * k) return `${Math.round(bytes / k)} kB`;
  if (bytes < k * k * k) {
    const mb = bytes / (k * k);
    return `${mb.toFixed(mb < 10 ? 1 : 0)} MB`;
  }
  return `${(bytes / (k * k * k)).toFixed(1)} GB`;
}
