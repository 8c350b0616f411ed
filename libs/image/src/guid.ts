/** Formats a 16-byte EFI GUID (first three fields little-endian) as upper-case text. */
export function formatGuid(b: Buffer, offset = 0): string {
  const hex = (start: number, end: number, reverse: boolean) => {
    const bytes = [...b.subarray(offset + start, offset + end)];
    return (reverse ? bytes.reverse() : bytes).map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)]
    .join('-')
    .toUpperCase();
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
