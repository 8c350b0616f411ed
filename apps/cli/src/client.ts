import { createReadStream } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform } from 'node:stream';
import { z } from 'zod';
import {
  EXIT,
  apiErrorSchema,
  imageResourceSchema,
  matrixReportSchema,
  matrixViewSchema,
  scheduleViewSchema,
  targetProfileSchema,
  tokenCreatedSchema,
  tokenViewSchema,
  type Arch,
  type ImagePatch,
  type ImageResource,
  type MatrixReport,
  type MatrixRequest,
  type ScheduleCreate,
  type ScheduleView,
  type TargetProfile,
  type TokenCreate,
  type TokenCreated,
  type TokenView,
} from '@vmfarm/protocol';
import { apiToken, controllerUrl } from './apps';
import { CommandError } from './failure';

/** What a poller needs of `GET /api/matrices/:id`. */
const matrixStatusSchema = matrixViewSchema.pick({ id: true, state: true, progress: true });
export type MatrixStatus = z.infer<typeof matrixStatusSchema>;

const REQUEST_TIMEOUT_MS = 30000;
/** An upload goes quiet while the controller hashes and decompresses what it received. */
const UPLOAD_IDLE_TIMEOUT_MS = 600000;

/** The controller's REST API as the CLI uses it; every failure is a CommandError with its exit code. */
export class ControllerClient {
  private readonly authorization: string;

  constructor(
    readonly baseUrl: string,
    token: string,
  ) {
    this.authorization = `Bearer ${token}`;
  }

  private unreachable(err: unknown, timeoutMs = REQUEST_TIMEOUT_MS): CommandError {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why =
      (err as Error).name === 'TimeoutError'
        ? `no answer within ${timeoutMs / 1000} s`
        : (cause?.code ?? cause?.message ?? (err as Error).message);
    return new CommandError(`cannot reach the controller at ${this.baseUrl}: ${why}`, EXIT.infrastructure);
  }

  /** 4xx: the request was wrong (exit 2, every error listed); anything else: the farm broke (exit 3). */
  private failure(status: number, body: string, what: string): CommandError {
    let parsed: z.infer<typeof apiErrorSchema> | undefined;
    try {
      parsed = apiErrorSchema.parse(JSON.parse(body));
    } catch {
      // not an ApiError: quote the body
    }
    const message = parsed?.message ?? (body.trim().split('\n')[0]?.slice(0, 200) || `HTTP ${status}`);
    const details = (parsed?.errors ?? []).map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
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

  private async call(method: string, path: string, what: string, body?: unknown): Promise<string> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: this.authorization,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw this.unreachable(err);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      throw this.unreachable(err);
    }
    if (!response.ok) throw this.failure(response.status, text, what);
    return text;
  }

  private async json<T>(method: string, path: string, what: string, schema: z.ZodType<T>, body?: unknown) {
    const text = await this.call(method, path, what, body);
    try {
      return { value: schema.parse(JSON.parse(text)), raw: JSON.parse(text) as unknown };
    } catch {
      throw new CommandError(
        `${what}: the controller's answer is not what this CLI expects`,
        EXIT.infrastructure,
      );
    }
  }

  async createMatrix(request: MatrixRequest): Promise<string> {
    const { value } = await this.json(
      'POST',
      '/api/matrices',
      'the matrix',
      z.object({ id: z.string() }),
      request,
    );
    return value.id;
  }

  /** `POST /api/targets`: the profile as written (with `extends`); the answer is the resolved profile. */
  async createTarget(profile: unknown): Promise<TargetProfile> {
    return (await this.json('POST', '/api/targets', 'the target profile', targetProfileSchema, profile))
      .value;
  }

  async targets(): Promise<TargetProfile[]> {
    return (await this.json('GET', '/api/targets', 'the target list', z.array(targetProfileSchema))).value;
  }

  async createToken(input: TokenCreate): Promise<TokenCreated> {
    return (await this.json('POST', '/api/tokens', 'the token', tokenCreatedSchema, input)).value;
  }

  async tokens(): Promise<TokenView[]> {
    return (await this.json('GET', '/api/tokens', 'the token list', tokenViewSchema.array())).value;
  }

  async revokeToken(id: string): Promise<void> {
    await this.call('DELETE', `/api/tokens/${encodeURIComponent(id)}`, `token ${id}`);
  }

  async matrixStatus(id: string): Promise<MatrixStatus> {
    return (
      await this.json('GET', `/api/matrices/${encodeURIComponent(id)}`, `matrix ${id}`, matrixStatusSchema)
    ).value;
  }

  /** The report, checked against the contract, and the JSON exactly as the controller sent it. */
  async report(id: string): Promise<{ report: MatrixReport; raw: unknown }> {
    const { value, raw } = await this.json(
      'GET',
      `/api/matrices/${encodeURIComponent(id)}/report?format=json`,
      `the report of matrix ${id}`,
      matrixReportSchema,
    );
    return { report: value, raw };
  }

  async junit(id: string): Promise<string> {
    return this.call(
      'GET',
      `/api/matrices/${encodeURIComponent(id)}/report?format=junit`,
      `the report of matrix ${id}`,
    );
  }

  async createSchedule(input: Partial<ScheduleCreate>): Promise<ScheduleView> {
    return (await this.json('POST', '/api/schedules', 'the schedule', scheduleViewSchema, input)).value;
  }

  async listSchedules(): Promise<{ value: ScheduleView[]; raw: unknown }> {
    return this.json('GET', '/api/schedules', 'the schedule list', z.array(scheduleViewSchema));
  }

  /** Fires a schedule now; resolves with the matrix id. */
  async runSchedule(id: string): Promise<string> {
    const path = `/api/schedules/${encodeURIComponent(id)}/run`;
    return (await this.json('POST', path, `schedule ${id}`, z.object({ id: z.string() }))).value.id;
  }

  async deleteSchedule(id: string): Promise<void> {
    await this.call('DELETE', `/api/schedules/${encodeURIComponent(id)}`, `schedule ${id}`);
  }

  async patchImage(sha256: string, patch: ImagePatch): Promise<ImageResource> {
    return (
      await this.json(
        'PATCH',
        `/api/images/${sha256}`,
        `image ${sha256.slice(0, 12)}`,
        imageResourceSchema,
        patch,
      )
    ).value;
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
    const url = new URL(`${this.baseUrl}/api/images`);
    url.searchParams.set('name', query.name);
    if (query.arch) url.searchParams.set('arch', query.arch);
    if (query.version) url.searchParams.set('version', query.version);
    if (query.tags?.length) url.searchParams.set('tags', query.tags.join(','));
    const what = `the upload of ${query.name}`;
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
        method: 'PUT',
        headers: {
          authorization: this.authorization,
          'content-type': 'application/octet-stream',
          'content-length': String(size),
        },
      });
      const source = createReadStream(file);
      let settled = false;
      const fail = (err: CommandError) => {
        if (settled) return;
        settled = true;
        source.destroy();
        req.destroy();
        reject(err);
      };
      req.setTimeout(UPLOAD_IDLE_TIMEOUT_MS, () =>
        fail(this.unreachable(Object.assign(new Error(), { name: 'TimeoutError' }), UPLOAD_IDLE_TIMEOUT_MS)),
      );
      let answered = false;
      // Once the controller has answered, a write error (it stopped reading the body) is not the story.
      req.once('error', (err) => answered || fail(this.unreachable({ cause: err })));
      // The controller may answer (e.g. 400) before it has read the whole body: take its answer.
      req.once('response', (res: IncomingMessage) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('error', (err) => fail(this.unreachable({ cause: err })));
        res.once('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) return fail(this.failure(status, text, what));
          try {
            const image = imageResourceSchema.parse(JSON.parse(text));
            settled = true;
            resolve({ image, created: status === 201 });
          } catch {
            fail(
              new CommandError(
                `${what}: the controller's answer is not an image resource`,
                EXIT.infrastructure,
              ),
            );
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
