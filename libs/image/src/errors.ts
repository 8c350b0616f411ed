/**
 * The image itself is malformed or uses something the farm refuses (truncated, bad magic, a backing
 * file). Suites turn it into a FAIL of the clause being checked; every other error is the host's.
 */
export class ImageFormatError extends Error {
  override name = 'ImageFormatError';
  /** The container format, when it was recognised before the problem (a refused qcow2). */
  constructor(
    message: string,
    readonly format?: 'raw' | 'qcow2',
  ) {
    super(message);
  }
}

/** The host cannot do what reading the image needs (a tool is missing): an ERROR, never a FAIL. */
export class HostError extends Error {
  override name = 'HostError';
}
