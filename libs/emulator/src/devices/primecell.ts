/**
 * The PrimeCell identification registers every ARM peripheral ends its 4 KiB window with
 * (PeriphID0-3 at 0xfe0, PCellID0-3 at 0xff0), one byte per word.
 */
export function primecellId(offset: number, periphId: readonly number[]): number | undefined {
  if (offset < 0xfe0 || offset > 0xffc || (offset & 3) !== 0) return undefined;
  const cellId = [0x0d, 0xf0, 0x05, 0xb1];
  const i = (offset - 0xfe0) >> 2;
  return i < 4 ? periphId[i] : cellId[i - 4];
}
