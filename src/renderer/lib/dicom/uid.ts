/** "2.25." + the UUID as one decimal integer (PS3.5 §B.2): unique without an org root. */
export function uuidToDicomUid(uuid: string): string {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`Not a UUID: ${uuid}`);
  return `2.25.${BigInt(`0x${hex}`).toString(10)}`;
}

const UID_PATTERN = /^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/;

/** A UI value (PS3.5 §9.1): dot-separated numbers without leading zeros, at most 64 characters. */
export function validUid(uid: string | undefined): boolean {
  return !!uid && uid.length <= 64 && UID_PATTERN.test(uid);
}
