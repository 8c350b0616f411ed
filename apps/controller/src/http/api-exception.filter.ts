import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiHttpError } from '../errors';

/** body-parser and similar middleware errors carry an HTTP status and a `type`. */
interface HttpishError {
  status?: number;
  statusCode?: number;
  type?: string;
  message?: string;
}

/**
 * A full disk under the data directory or the database (files, SQLite, PostgreSQL's disk_full): the
 * host's trouble and passing, not the request's nor a bug. Agents and the CLI retry a 5xx.
 */
const STORAGE_FULL = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', '53100']);

/** Maps anything thrown to the ApiError shape; never a stack trace to the client. */
export function toApiError(err: unknown): ApiHttpError {
  if (err instanceof ApiHttpError) return err;
  if (err instanceof HttpException) {
    const body = err.getResponse();
    const message =
      typeof body === 'string' ? body : String((body as { message?: unknown }).message ?? err.message);
    return new ApiHttpError(err.getStatus(), message);
  }
  const e = err as HttpishError;
  if (e?.type === 'entity.parse.failed') return new ApiHttpError(400, `malformed JSON body: ${e.message}`);
  if (e?.type === 'entity.too.large') return new ApiHttpError(413, 'request body too large');
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported')
    return new ApiHttpError(415, e.message ?? 'unsupported encoding');
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && STORAGE_FULL.has(code))
    return new ApiHttpError(507, `the controller's storage is full (${code}); try again once space is freed`);
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500)
    return new ApiHttpError(status, e.message ?? 'bad request');
  return new ApiHttpError(500, 'internal error (see the controller log)');
}

const log = new Logger('Http');

export function sendApiError(res: Response, err: unknown, req?: Request): void {
  const api = toApiError(err);
  if (api.status >= 500) log.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // Refused before its body was read (no token, too large): the connection closes after the
  // answer rather than take in the rest of the body only to throw it away.
  if (req && !req.complete) res.setHeader('Connection', 'close');
  res.status(api.status).json(api.toBody());
}

@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  catch(err: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendApiError(http.getResponse<Response>(), err, http.getRequest<Request>());
  }
}
