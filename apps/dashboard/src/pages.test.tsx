import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ImageCertification, TargetCertification } from './pages/Certification';
import { MatrixPage } from './pages/Matrix';
import { RunPage } from './pages/Run';
import { image, matrix, run, SHA_A, SHA_B } from './test-data';

/** jsdom has no EventSource: this one records what the page subscribed to and lets a test push events. */
class FakeEventSource extends EventTarget {
  static all: FakeEventSource[] = [];
  closed = false;
  constructor(readonly url: string) {
    super();
    FakeEventSource.all.push(this);
  }
  emit(type: string, data: unknown) {
    act(() => {
      this.dispatchEvent(new MessageEvent(type, { data: JSON.stringify(data) }));
    });
  }
  close() {
    this.closed = true;
  }
}

function serve(routes: Record<string, unknown>) {
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string) => {
      const body = routes[url];
      if (body === undefined) return new Response(JSON.stringify({ message: 'nope' }), { status: 404 });
      return typeof body === 'string' ? new Response(body) : Response.json(body);
    }),
  );
}

function show(path: string, pattern: string, element: React.ReactNode) {
  const router = createMemoryRouter([{ path: pattern, element }], { initialEntries: [path] });
  return render(<RouterProvider router={router} />);
}

beforeEach(() => {
  FakeEventSource.all = [];
  vi.stubGlobal('EventSource', FakeEventSource);
});
afterEach(() => vi.unstubAllGlobals());

describe('matrix page', () => {
  it('fills the grid from server-sent events, without another request', async () => {
    serve({
      '/api/matrices/m1': matrix(),
      '/api/images?limit=500': [image(SHA_A, 'debian', '12'), image(SHA_B, 'fedora')],
    });
    show('/matrices/m1', '/matrices/:id', <MatrixPage />);
    const grid = await screen.findByRole('table', { name: 'matrix grid' });
    const rows = within(grid).getAllByRole('row').slice(1);
    // Rows in the order the matrix asked for its images, labelled by name and version.
    expect(rows.map((r) => r.querySelector('td')?.textContent)).toEqual(['fedora', 'debian 12']);
    expect(screen.getByRole('progressbar').textContent).toBe('0/4');
    expect(screen.getAllByLabelText('static: queued')).toHaveLength(2);

    const [source] = FakeEventSource.all;
    expect(source.url).toBe('/api/events?matrix=m1');
    // The matrix itself is not fetched again (the triage read follows the page's own phases).
    const matrixFetches = () =>
      vi.mocked(fetch).mock.calls.filter(([url]) => url === '/api/matrices/m1').length;
    const requests = matrixFetches();
    source.emit('run', run('r1', { verdict: 'FAIL' }));
    source.emit('run', run('r3', { target: 'qemu-aarch64-tcg', suite: 'boot', verdict: 'ERROR' }));
    expect(await screen.findByLabelText('static: FAIL')).toBeTruthy();
    expect(screen.getByLabelText('boot: ERROR').textContent).toBe('boot E');
    expect(screen.getByRole('progressbar').textContent).toBe('2/4');
    source.emit('matrix', {
      id: 'm1',
      total: 4,
      done: 3,
      counts: { PASS: 1, FAIL: 1, ERROR: 1, SKIP: 0 },
      state: 'running',
    });
    expect(screen.getByRole('progressbar').textContent).toBe('3/4');
    expect(matrixFetches()).toBe(requests);
    expect(screen.getByLabelText('static: FAIL').closest('a')?.getAttribute('href')).toBe('/runs/r1');
  });
});

describe('matrix page: failing clauses and cancel', () => {
  it('shows the clauses a failed cell failed, from the fetch and from live events', async () => {
    const m = matrix();
    m.cells[1] = {
      ...m.cells[1],
      state: 'done',
      verdict: 'FAIL',
      attempts: 1,
      failing: ['IMG-ESP', 'IMG-EFI-APP'],
    };
    serve({
      '/api/matrices/m1': m,
      '/api/images?limit=500': [image(SHA_A, 'debian', '12'), image(SHA_B, 'fedora')],
    });
    show('/matrices/m1', '/matrices/:id', <MatrixPage />);
    const fetched = await screen.findByLabelText('static failed clauses: IMG-ESP, IMG-EFI-APP');
    expect(fetched.textContent).toBe('IMG-ESP IMG-EFI-APP');
    expect(fetched.getAttribute('title')).toBe('static failed IMG-ESP, IMG-EFI-APP');
    const verdict = (clause: string, v: 'PASS' | 'FAIL') => ({
      suite: 'static',
      clause,
      level: 'MUST' as const,
      verdict: v,
      message: v,
      evidence: {},
    });
    FakeEventSource.all[0].emit(
      'run',
      run('r1', { verdicts: [verdict('IMG-GPT', 'FAIL'), verdict('IMG-ESP', 'PASS')] }),
    );
    expect((await screen.findByLabelText('static failed clauses: IMG-GPT')).textContent).toBe('IMG-GPT');
    // A passing or pending cell names none.
    expect(screen.getAllByLabelText(/failed clauses/)).toHaveLength(2);
  });

  it('cancels after a second click, with the reason, and shows the cells SKIP', async () => {
    const cancelled = matrix();
    cancelled.state = 'done';
    cancelled.progress = { done: 4, total: 4 };
    cancelled.cancelled = { at: '2025-01-01T00:01:00.000Z', by: 'ci', reason: 'wrong image' };
    cancelled.cells = cancelled.cells.map((c) => ({ ...c, state: 'done', verdict: 'SKIP', attempts: 1 }));
    serve({
      '/api/matrices/m1': matrix(),
      '/api/images?limit=500': [],
      '/api/matrices/m1/cancel': cancelled,
    });
    show('/matrices/m1', '/matrices/:id', <MatrixPage />);
    (await screen.findByRole('button', { name: 'Cancel matrix' })).click();
    const reason = await screen.findByLabelText('Reason (optional)');
    act(() => {
      fireEvent.change(reason, { target: { value: 'wrong image' } });
    });
    expect(vi.mocked(fetch).mock.calls.some(([url]) => String(url).endsWith('/cancel'))).toBe(false);
    act(() => screen.getByRole('button', { name: 'Cancel 4 runs' }).click());
    expect(await screen.findByTestId('matrix-cancelled')).toBeTruthy();
    const [url, init] = vi.mocked(fetch).mock.calls.find(([u]) => String(u).endsWith('/cancel'))!;
    expect(url).toBe('/api/matrices/m1/cancel');
    expect(init).toMatchObject({ method: 'POST', body: '{"reason":"wrong image"}' });
    expect(screen.getByTestId('matrix-state').textContent).toBe('cancelled');
    expect(screen.getAllByLabelText('static: SKIP')).toHaveLength(2);
    expect(screen.queryByRole('button', { name: 'Cancel matrix' })).toBeNull();
  });
});

describe('matrix page: runs ended without run events', () => {
  it('fetches the matrix again when a matrix event says done while cells show pending', async () => {
    serve({ '/api/matrices/m1': matrix(), '/api/images?limit=500': [] });
    show('/matrices/m1', '/matrices/:id', <MatrixPage />);
    await screen.findByRole('table', { name: 'matrix grid' });
    const fetches = () => vi.mocked(fetch).mock.calls.filter(([u]) => u === '/api/matrices/m1').length;
    const before = fetches();
    FakeEventSource.all[0].emit('matrix', {
      id: 'm1',
      total: 4,
      done: 4,
      counts: { PASS: 0, FAIL: 0, ERROR: 0, SKIP: 4 },
      state: 'done',
    });
    await vi.waitFor(() => expect(fetches()).toBe(before + 1));
  });
});

describe('run page', () => {
  it('shows both attempts of a retried ERROR, the evidence, stage timings and the highlighted console', async () => {
    const evidence = {
      stagesMs: { vmStarted: 0, firmware: 900, ready: 4100 },
      matchedLines: ['UEFI firmware (version 1)', 'VMFARM-READY'],
    };
    const r = run('r9', {
      verdict: 'PASS',
      targetKind: 'qemu',
      target: 'qemu-aarch64-tcg',
      suite: 'boot',
      verdicts: [
        {
          suite: 'boot',
          clause: 'FW-UEFI',
          level: 'MUST',
          verdict: 'PASS',
          message: 'the first software run was UEFI firmware',
          evidence,
        },
      ],
      attempts: [
        {
          attempt: 1,
          agentId: 'a1',
          startedAt: null,
          finishedAt: null,
          outcome: 'ERROR',
          error: 'qemu died',
          durationMs: 10,
        },
        {
          attempt: 2,
          agentId: 'a2',
          startedAt: null,
          finishedAt: null,
          outcome: 'PASS',
          error: null,
          durationMs: 4200,
        },
      ],
      artifacts: [
        { attempt: 1, name: 'console.log', mediaType: 'text/plain', size: 5 },
        { attempt: 2, name: 'console.log', mediaType: 'text/plain', size: 60 },
      ],
    });
    serve({
      '/api/runs/r9': r,
      '/api/runs/r9/attempts/2/artifacts/console.log': 'UEFI firmware (version 1)\nloading\nVMFARM-READY\n',
    });
    show('/runs/r9', '/runs/:id', <RunPage />);
    const attempts = await screen.findByRole('table', { name: 'attempts' });
    expect(within(attempts).getByText('qemu died')).toBeTruthy();
    expect(within(attempts).getAllByRole('row')).toHaveLength(3);
    expect(
      within(attempts)
        .getAllByRole('link')
        .map((a) => a.getAttribute('href')),
    ).toEqual([
      '/api/runs/r9/attempts/1/artifacts/console.log',
      '/api/runs/r9/attempts/2/artifacts/console.log',
    ]);
    const verdicts = screen.getByRole('table', { name: 'verdicts' });
    expect(within(verdicts).getByText('FW-UEFI')).toBeTruthy();
    expect(within(verdicts).getByText(/"firmware": 900/)).toBeTruthy();
    expect(within(screen.getByRole('table', { name: 'stage timings' })).getByText('4.10 s')).toBeTruthy();
    const console = screen.getByLabelText('console transcript');
    await within(console).findByText('loading');
    expect([...console.querySelectorAll('mark')].map((m) => m.getAttribute('data-line'))).toEqual(['1', '3']);
    // A finished run opens no event stream.
    expect(FakeEventSource.all).toHaveLength(0);
  });
});

describe('certification pages', () => {
  const clause = (over: Record<string, unknown>) => ({
    clause: 'IMG-GPT',
    subject: 'image',
    level: 'MUST',
    section: 'Image format',
    requirement: 'The raw disk is partitioned with a GUID Partition Table.',
    verdict: 'FAIL',
    message: 'primary header CRC32 mismatch',
    evidence: { headerCrc: { expected: '0x1', found: '0x2' } },
    suite: 'static',
    runId: 'run-1234567890',
    matrixId: 'm1',
    imageSha256: SHA_A,
    targetId: 'static',
    at: '2025-01-02T03:04:05.000Z',
    ...over,
  });
  const notCovered = clause({
    clause: 'VM-PSCI',
    subject: 'vm',
    section: 'Firmware',
    verdict: 'NOT-COVERED',
    message: null,
    evidence: null,
    suite: null,
    runId: null,
    matrixId: null,
    imageSha256: null,
    targetId: null,
    at: null,
  });
  // The controller's answer (GET /api/certification/...): an envelope with counts and the clauses.
  const certification = (kind: 'target' | 'image', id: string, name: string, version: string | null) => ({
    kind,
    id,
    name,
    version,
    generatedAt: '2025-01-02T04:00:00.000Z',
    counts: { PASS: 0, FAIL: 1, ERROR: 0, SKIP: 0, 'NOT-COVERED': 1, 'NOT-RUN': 0 },
    clauses: [clause({}), notCovered].map((c) => ({ ...c, waivedBy: [] })),
    waivers: [],
    allPass: false,
  });

  it("a target's report names the image each verdict was judged on, and its counts", async () => {
    serve({
      '/api/certification/targets/static': certification('target', 'static', 'static', null),
      '/api/images?limit=500': [image(SHA_A, 'debian', '12')],
    });
    show('/certification/targets/static', '/certification/targets/:id', <TargetCertification />);
    const table = await screen.findByRole('table', { name: 'certification' });
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Certification: target static');
    expect(screen.getByTestId('certification-summary').textContent).toMatch(
      /^2 clauses: 0 PASS, 1 FAIL, 0 ERROR, 0 SKIP, 0 not run, 1 not covered by any suite\. MUST clauses failed: IMG-GPT\.$/,
    );
    const gpt = within(table).getByText('IMG-GPT').closest('tr') as HTMLElement;
    expect(within(gpt).getByLabelText('FAIL')).toBeTruthy();
    expect(within(gpt).getByText('Image format')).toBeTruthy();
    // Named once the images arrive (not the hash prefix the first render had).
    expect((await within(gpt).findByText('debian 12')).getAttribute('href')).toBe(
      `/certification/images/${SHA_A}`,
    );
    expect(within(gpt).getByText('run run-1234').getAttribute('href')).toBe('/runs/run-1234567890');
    const psci = within(table).getByText('VM-PSCI').closest('tr') as HTMLElement;
    expect(within(psci).getByLabelText('NOT COVERED')).toBeTruthy();
  });

  it("an image's report names the target of each verdict", async () => {
    serve({ [`/api/certification/images/${SHA_A}`]: certification('image', SHA_A, 'debian', '12') });
    show(`/certification/images/${SHA_A}`, '/certification/images/:sha256', <ImageCertification />);
    const table = await screen.findByRole('table', { name: 'certification' });
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Certification: image debian 12');
    const gpt = within(table).getByText('IMG-GPT').closest('tr') as HTMLElement;
    expect(within(gpt).getByRole('link', { name: 'static' }).getAttribute('href')).toBe(
      '/certification/targets/static',
    );
  });

  it('says not found for an image the caller may not see', async () => {
    serve({});
    show(`/certification/images/${SHA_B}`, '/certification/images/:sha256', <ImageCertification />);
    expect((await screen.findByRole('alert')).textContent).toMatch(/^Not found/);
  });
});
