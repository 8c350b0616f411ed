/** Formats a 16-byte EFI GUID (first three fields little-endian) as upper-case text. */
export function formatGuid(b: Buffer, offset = 0): string {
  // One hex conversion, then the byte pairs of the little-endian fields swapped: a GPT has 128
  // entries to name on every read, so this stays cheap.
  const h = b.toString('hex', offset, offset + 16).toUpperCase();
  const p = (i: number) => h.slice(i * 2, i * 2 + 2);
  return `${p(3)}${p(2)}${p(1)}${p(0)}-${p(5)}${p(4)}-${p(7)}${p(6)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The 16 bytes of a GUID given as text. */
export function guidBytes(text: string): Buffer {
  const h = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(h)) throw new Error(`bad GUID ${text}`);
  const raw = Buffer.from(h, 'hex');
  const out = Buffer.alloc(16);
  raw.subarray(0, 4).reverse().copy(out, 0);
  raw.subarray(4, 6).reverse().copy(out, 4);
  raw.subarray(6, 8).reverse().copy(out, 6);
  raw.subarray(8, 16).copy(out, 8);
  return out;
}

export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';
export const ESP_TYPE_GUID = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
