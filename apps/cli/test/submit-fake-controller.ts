import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  matrixRequestSchema,
  type MatrixRequest,
  type MatrixView,
  summarize,
  type ImageResource,
  type MatrixReport,
  type VerdictRecord,
} from '@vmfarm/protocol';

/**
 * An HTTP server speaking the controller's REST contract with canned verdicts, for testing what the
 * CLI does with each kind of answer (the real controller is exercised by serve.test.ts).
 */
/** The one token the fake accepts. */
export const FAKE_TOKEN = `vmf_${'f'.repeat(43)}`;

export interface FakeController {
  url: string;
  uploads: {
    name: string | null;
    arch: string | null;
    version: string | null;
    tags: string | null;
    bytes: number;
    sha256: string;
  }[];
  /** Bodies of PATCH /api/images/:sha256, by sha256. */
  patches: { sha256: string; body: unknown }[];
  /** Verdicts every cell of every matrix gets. */
  verdicts: VerdictRecord[];
  /** Polls of GET /api/matrices/:id before the matrix is done (Infinity: never). */
  pollsUntilDone: number;
  /** When set, every request is answered with this status and body. */
  failWith?: { status: number; body: unknown };
  /** Matrix submits to answer 503 after recording the matrix (an answer lost on the way back). */
  loseMatrixAnswers: number;
  /** The Idempotency-Key of each matrix submit, in order. */
  matrixKeys: (string | undefined)[];
  close(): Promise<void>;
}

export async function fakeController(): Promise<FakeController> {
  const images = new Map<string, ImageResource>();
  const matrices = new Map<
    string,
    {
      request: MatrixRequest;
      cells: { image: ImageResource; target: string; suite: string }[];
      polls: number;
    }
  >();
  const byKey = new Map<string, string>();

  function view(id: string): MatrixView {
    const matrix = matrices.get(id)!;
    const r = report(id);
    return {
      id,
      createdAt: r.matrix.createdAt,
      scheduleId: null,
      state: r.matrix.state,
      progress: r.matrix.progress,
      cancelled: null,
      request: matrix.request,
      cells: r.cells.map((c) => ({
        runId: c.runId,
        image: c.image.sha256!,
        target: c.target,
        suite: c.suite,
        state: c.state,
        verdict: c.state === 'done' ? c.summary.result : null,
        attempts: c.attempts,
        failing: c.summary.mustFailures,
      })),
    };
  }
  const fake: FakeController = {
    url: '',
    uploads: [],
    patches: [],
    verdicts: [],
    pollsUntilDone: 2,
    loseMatrixAnswers: 0,
    matrixKeys: [],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  function report(id: string): MatrixReport {
    const matrix = matrices.get(id)!;
    const done = matrix.polls >= fake.pollsUntilDone;
    const cells = matrix.cells.map((c, i) => ({
      runId: `${id}-${i}`,
      target: c.target,
      suite: c.suite,
      state: done ? ('done' as const) : ('queued' as const),
      attempts: done ? 1 : 0,
      image: {
        sha256: c.image.sha256,
        size: c.image.size,
        format: c.image.format,
        arch: c.image.arch,
        name: c.image.name,
        version: c.image.version,
      },
      verdicts: done ? fake.verdicts : [],
      summary: summarize(done ? fake.verdicts : []),
      known: [],
      retryOf: null,
      supersededBy: null,
    }));
    return {
      matrix: {
        id,
        createdAt: new Date(0).toISOString(),
        state: done ? 'done' : 'running',
        progress: { done: done ? cells.length : 0, total: cells.length },
      },
      cells,
      summary: summarize(cells.flatMap((c) => c.verdicts)),
    };
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown, type = 'application/json') => {
        res.writeHead(status, { 'content-type': type });
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${FAKE_TOKEN}`)
        return send(401, {
          statusCode: 401,
          error: 'Unauthorized',
          message: 'invalid or revoked token',
          errors: [],
        });
      if (fake.failWith) return send(fake.failWith.status, fake.failWith.body);
      const url = new URL(req.url!, 'http://fake');
      const body = Buffer.concat(chunks);
      if (req.method === 'PUT' && url.pathname === '/api/images') {
        const sha256 = createHash('sha256').update(body).digest('hex');
        const name = url.searchParams.get('name');
        const arch = url.searchParams.get('arch');
        const version = url.searchParams.get('version');
        const tags = url.searchParams.get('tags');
        fake.uploads.push({ name, arch, version, tags, bytes: body.length, sha256 });
        const known = images.get(sha256);
        if (known) return send(200, known);
        const image: ImageResource = {
          sha256,
          size: body.length,
          format: 'raw',
          arch: arch === 'aarch64' || arch === 'aarch32' ? arch : null,
          archDeclared: arch === 'aarch64' || arch === 'aarch32',
          name: name ?? sha256,
          version,
          tags: tags ? tags.split(',') : [],
          owner: null,
          uploadedAs: 'raw',
          createdAt: new Date(0).toISOString(),
        };
        images.set(sha256, image);
        return send(201, image);
      }
      const patch = /^\/api\/images\/([0-9a-f]{64})$/.exec(url.pathname);
      if (req.method === 'PATCH' && patch && images.has(patch[1])) {
        const changes = JSON.parse(body.toString()) as Partial<ImageResource>;
        fake.patches.push({ sha256: patch[1], body: changes });
        const image = { ...images.get(patch[1])!, ...changes };
        images.set(patch[1], image);
        return send(200, image);
      }
      if (req.method === 'POST' && url.pathname === '/api/matrices') {
        const parsed = matrixRequestSchema.safeParse(JSON.parse(body.toString() || '{}'));
        const errors = parsed.success
          ? parsed.data.images
              .filter((sha) => !images.has(sha))
              .map((sha, i) => ({ path: `images.${i}`, message: `unknown image ${sha}` }))
              .concat(
                parsed.data.targets
                  .filter((t) => t !== 'static')
                  .map((t) => ({ path: 'targets', message: `unknown target ${t}` })),
              )
          : parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
        if (errors.length || !parsed.success)
          return send(400, { statusCode: 400, error: 'Bad Request', message: 'invalid matrix', errors });
        const key = req.headers['idempotency-key'] as string | undefined;
        fake.matrixKeys.push(key);
        const known = key === undefined ? undefined : byKey.get(key);
        if (known) return send(200, view(known));
        const id = `m${matrices.size + 1}`;
        if (key !== undefined) byKey.set(key, id);
        matrices.set(id, {
          request: parsed.data,
          polls: 0,
          cells: parsed.data.images.flatMap((sha) =>
            parsed.data.targets.flatMap((target) =>
              parsed.data.suites.map((suite) => ({ image: images.get(sha)!, target, suite })),
            ),
          ),
        });
        if (fake.loseMatrixAnswers > 0) {
          fake.loseMatrixAnswers--;
          return send(503, { statusCode: 503, error: 'Service Unavailable', message: 'lost', errors: [] });
        }
        return send(201, view(id));
      }
      const m = /^\/api\/matrices\/([^/]+)(\/report)?$/.exec(url.pathname);
      if (req.method === 'GET' && m && matrices.has(m[1])) {
        if (!m[2]) {
          matrices.get(m[1])!.polls++;
          return send(200, view(m[1]));
        }
        const r = report(m[1]);
        const offset = Number(url.searchParams.get('offset') ?? 0);
        const limit = Number(url.searchParams.get('limit') ?? r.cells.length);
        return send(200, {
          ...r,
          cells: r.cells.slice(offset, offset + limit),
          page: { offset, limit, total: r.cells.length },
        });
      }
      send(404, {
        statusCode: 404,
        error: 'Not Found',
        message: `no route ${req.method} ${url.pathname}`,
        errors: [],
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
