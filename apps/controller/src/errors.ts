import type { ApiError } from '@vmfarm/protocol';

export type FieldError = ApiError['errors'][number];

const NAMES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** What services throw for the client's mistakes; the exception filter renders it as ApiError. */
export class ApiHttpError extends Error {
  override name = 'ApiHttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
  }

  toBody(): ApiError {
    return {
      statusCode: this.status,
      error: NAMES[this.status] ?? 'Error',
      message: this.message,
      errors: this.errors,
    };
  }
}

export const badRequest = (message: string, errors: FieldError[] = []) =>
  new ApiHttpError(400, message, errors);
export const notFound = (message: string) => new ApiHttpError(404, message);
export const conflict = (message: string) => new ApiHttpError(409, message);
