import { createReadStream } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform } from 'node:stream';
import {
  API,
  ApiRequestError,
  buildRequest,
  createClient,
  EXIT,
  parseAnswer,
  requestErrorOf,
  type ApiClient,
  type Arch,
  type ImageResource,
  type MatrixReport,
  type TokenCreate,
  type TokenCreated,
} from '@vmfarm/protocol';
import { apiToken, controllerUrl } from './apps';
import { CommandError } from './failure';

const REQUEST_TIMEOUT_MS = 30000;
/** An upload goes quiet while the controller hashes and decompresses what it received. */
const UPLOAD_IDLE_TIMEOUT_MS = 600000;
/** Cells per report page: a big matrix's report comes in pieces the controller's limits allow. */
const REPORT_PAGE = 100;
/** Items per list page (the controller's default maximum is 500). */
const LIST_PAGE = 100;

export type Api = ApiClient<typeof API>;

/**
 * The controller's REST API as the CLI uses it: the typed client of the route table, with every
 * failure turned into a CommandError and its exit code.
 */
export class ControllerClient {
  readonly api: Api;

  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {
    this.api = createClient(API, { baseUrl, token, timeoutMs: REQUEST_TIMEOUT_MS });
  }

  /**
   * What a failed call means for the user: the controller unreachable or broken (exit 3), the
   * request or the token refused (exit 2, every error listed).
   */
  failure(err: unknown, what: string): unknown {
    if (!(err instanceof ApiRequestError)) return err;
    const { status, message } = err;
    if (status === 0)
      return new CommandError(
        `cannot reach the controller at ${this.baseUrl}: ${message}`,
        EXIT.infrastructure,
      );
    if (err.detail.unexpected)
      return new CommandError(
        `${what}: the controller's answer is not what this CLI expects`,
        EXIT.infrastructure,
      );
    const details = err.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
    if (status === 401 || status === 403)
      return new CommandError(`the controller refused the token: ${message}`, EXIT.usage);
    return status >= 400 && status < 500
      ? new CommandError(`${what} was refused (${status}): ${message}`, EXIT.usage, details)
      : new CommandError(
          `${what} failed on the controller (${status}): ${message}`,
          EXIT.infrastructure,
          details,
        );
  }

  /** One call of the typed client; `what` names it in the error a failure becomes. */
  async call<T>(what: string, call: (api: Api) => Promise<T>): Promise<T> {
    try {
      return await call(this.api);
    } catch (err) {
      throw this.failure(err, what);
    }
  }

  /** Every item of a list, a page at a time. */
  async all<T>(
    what: string,
    page: (api: Api, query: { limit: number; offset: number }) => Promise<T[]>,
  ): Promise<T[]> {
    const items: T[] = [];
    for (let offset = 0; ; offset += LIST_PAGE) {
      const got = await this.call(what, (api) => page(api, { limit: LIST_PAGE, offset }));
      items.push(...got);
      if (got.length < LIST_PAGE) return items;
    }
  }

  /** `vmfarm serve` gives its local agents a token of their own, and revokes it when it stops. */
  createToken(body: TokenCreate): Promise<TokenCreated> {
    return this.call('the token', (api) => api.createToken({ body }));
  }

  async revokeToken(id: string): Promise<void> {
    await this.call(`token ${id}`, (api) => api.revokeToken({ params: { id } }));
  }

  /**
   * The whole report, fetched a page of cells at a time, checked against the contract, and its
   * JSON as the controller sent it (the pages joined).
   */
  async report(id: string): Promise<{ report: MatrixReport; raw: Record<string, unknown> }> {
    const what = `the report of matrix ${id}`;
    let raw: Record<string, unknown> | undefined;
    const cells: unknown[] = [];
    for (let offset = 0; ; offset += REPORT_PAGE) {
      const query = { format: 'json' as const, offset, limit: REPORT_PAGE };
      const res = await this.call(what, (api) => api.raw.getMatrixReport({ params: { id }, query }));
      const text = await res.text();
      let page: { cells: unknown[]; page?: { total: number } } & Record<string, unknown>;
      try {
        parseAnswer(API.getMatrixReport, res.status, text);
        page = JSON.parse(text) as typeof page;
      } catch (err) {
        throw this.failure(err, what);
      }
      raw ??= page as Record<string, unknown>;
      cells.push(...page.cells);
      if (page.cells.length < REPORT_PAGE || offset + REPORT_PAGE >= (page.page?.total ?? 0)) break;
    }
    const { page: _page, ...whole }: Record<string, unknown> = { ...raw!, cells };
    return { report: API.getMatrixReport.responses[200].parse(whole), raw: whole };
  }

  /**
   * `PUT /api/images`, the body streamed from disk (never read whole into memory); `progress` gets the
   * bytes sent so far. Resolves with the image and whether the controller had it already (200).
   */
  uploadImage(
    file: string,
    size: number,
    query: { name: string; arch?: Arch; version?: string; tags?: readonly string[] },
    progress: (sent: number) => void = () => {},
  ): Promise<{ image: ImageResource; created: boolean }> {
    const route = API.uploadImage;
    const { url: path, init } = buildRequest(
      route,
      { query: { ...query, tags: query.tags?.join(',') } },
      { token: this.token },
    );
    const url = new URL(`${this.baseUrl}${path}`);
    const what = `the upload of ${query.name}`;
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
        method: init.method,
        headers: { ...(init.headers as Record<string, string>), 'content-length': String(size) },
      });
      const source = createReadStream(file);
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        source.destroy();
        req.destroy();
        reject(err);
      };
      const unreachable = (why: string) =>
        this.failure(new ApiRequestError(0, why, `${init.method} ${route.path}`), what);
      req.setTimeout(UPLOAD_IDLE_TIMEOUT_MS, () =>
        fail(unreachable(`no answer within ${UPLOAD_IDLE_TIMEOUT_MS / 1000} s`)),
      );
      let answered = false;
      // Once the controller has answered, a write error (it stopped reading the body) is not the story.
      req.once(
        'error',
        (err: NodeJS.ErrnoException) => answered || fail(unreachable(err.code ?? err.message)),
      );
      // The controller may answer (e.g. 400) before it has read the whole body: take its answer.
      req.once('response', (res: IncomingMessage) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('error', (err: NodeJS.ErrnoException) => fail(unreachable(err.code ?? err.message)));
        res.once('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          try {
            if (status < 200 || status >= 300) throw requestErrorOf(route, status, text);
            const image = parseAnswer(route, status, text) as ImageResource;
            settled = true;
            resolve({ image, created: status === 201 });
          } catch (err) {
            fail(this.failure(err, what));
          }
        });
      });
      let sent = 0;
      source.once('error', (err) =>
        fail(new CommandError(`cannot read ${file}: ${err.message}`, EXIT.usage)),
      );
      source
        .pipe(
          new Transform({
            transform(chunk: Buffer, _encoding, done) {
              sent += chunk.length;
              progress(sent);
              done(null, chunk);
            },
          }),
        )
        .pipe(req);
    });
  }
}

/** The client a command's `--controller` and `--token` flags name, each with its fallbacks. */
export function clientFor(flags: { controller?: unknown; token?: unknown }): ControllerClient {
  return new ControllerClient(
    controllerUrl(flags.controller as string | undefined),
    apiToken(flags.token as string | undefined),
  );
}
