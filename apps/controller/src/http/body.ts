import type { Request } from 'express';
import { ApiHttpError } from '../errors';

const tooLarge = (limit: number, env: string) =>
  new ApiHttpError(413, `request body larger than the limit of ${limit} bytes (${env})`);

/** Whether a request carries a body at all (a length, or a chunked stream). */
function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return length !== undefined ? Number(length) > 0 : req.headers['transfer-encoding'] !== undefined;
}

/**
 * Reads a JSON request body of at most `limit` bytes. A declared length over the limit is refused
 * before a byte is read, a stream that goes over it as soon as it does: a large body never sits in
 * memory. Called after the guard, so that nobody without a token gets this far. No body: undefined.
 */
export async function readJsonBody(req: Request, limit: number, env: string): Promise<unknown> {
  if (!hasBody(req)) return undefined;
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw tooLarge(limit, env);
  const type = req.headers['content-type']?.split(';')[0].trim().toLowerCase();
  if (type !== 'application/json' && !type?.endsWith('+json'))
    throw new ApiHttpError(
      415,
      `send the request body as application/json (got ${type ?? 'no content type'})`,
    );
  const charset = /charset=([^;]+)/i
    .exec(req.headers['content-type'] ?? '')?.[1]
    .trim()
    .toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8')
    throw new ApiHttpError(415, `unsupported charset ${charset}: send UTF-8`);
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err) reject(err);
      else resolve();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        return done(tooLarge(limit, env));
      }
      chunks.push(chunk);
    };
    const onEnd = () => done();
    const onError = (err: Error) => done(err);
    const onAborted = () => done(new ApiHttpError(400, 'request aborted by the client'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiHttpError(400, `malformed JSON body: ${(err as Error).message}`);
  }
}
