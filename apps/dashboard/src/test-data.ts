import type { Image, Matrix, RunView } from './api';

/** Test data in the controller's shapes. */
export const SHA_A = 'a'.repeat(64);
export const SHA_B = 'b'.repeat(64);

export function image(sha256: string, name: string, version?: string): Image {
  return {
    sha256,
    size: 1024,
    format: 'raw',
    arch: 'aarch64',
    archDeclared: false,
    name,
    uploadedAs: 'raw',
    createdAt: '2025-01-01T00:00:00.000Z',
    version: version ?? null,
    tags: [],
    owner: null,
  };
}

export function matrix(): Matrix {
  const cell = (runId: string, img: string, target: string, suite: string) => ({
    runId,
    image: img,
    target,
    suite,
    state: 'queued' as const,
    verdict: null,
    failing: [],
    attempts: 0,
  });
  return {
    id: 'm1',
    createdAt: '2025-01-01T00:00:00.000Z',
    scheduleId: null,
    state: 'running',
    progress: { done: 0, total: 4 },
    cancelled: null,
    request: { images: [SHA_B, SHA_A], targets: ['static', 'qemu-aarch64-tcg'], suites: ['all'] },
    cells: [
      cell('r1', SHA_A, 'static', 'static'),
      cell('r2', SHA_B, 'static', 'static'),
      cell('r3', SHA_A, 'qemu-aarch64-tcg', 'boot'),
      cell('r4', SHA_A, 'qemu-aarch64-tcg', 'acpi'),
    ],
  };
}

export function run(id: string, over: Partial<RunView> = {}): RunView {
  return {
    id,
    matrixId: 'm1',
    image: SHA_A,
    target: 'static',
    targetKind: 'static',
    suite: 'static',
    state: 'done',
    verdict: 'FAIL',
    attempts: [
      {
        attempt: 1,
        agentId: 'agent-1',
        startedAt: '2025-01-01T00:00:01.000Z',
        finishedAt: '2025-01-01T00:00:02.000Z',
        outcome: 'FAIL',
        error: null,
        durationMs: 1000,
      },
    ],
    verdicts: [],
    artifacts: [],
    createdAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:00:02.000Z',
    ...over,
  };
}
