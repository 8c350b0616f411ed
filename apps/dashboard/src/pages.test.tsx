import { act, render, screen, within } from '@testing-library/react';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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
      '/api/images': [image(SHA_A, 'debian', '12'), image(SHA_B, 'fedora')],
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
    const requests = vi.mocked(fetch).mock.calls.length;
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
    expect(vi.mocked(fetch).mock.calls.length).toBe(requests);
    expect(screen.getByLabelText('static: FAIL').closest('a')?.getAttribute('href')).toBe('/runs/r1');
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
