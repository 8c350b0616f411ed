import type { KnownRef, Verdict, VerdictRecord } from '@vmfarm/protocol';
import type { KnownIssue } from './known-issues';

/**
 * A matrix as KCIDB v5 report data: each image a checkout, each image × target a build, each
 * clause verdict of a run a test, known issues as issues and the verdicts they explain as incidents.
 * IDs start with the origin, as KCIDB requires.
 */

export const KCIDB_ORIGIN = 'vmfarm';
export const KCIDB_VERSION = { major: 5, minor: 3 } as const;

export interface KcidbImage {
  sha256: string;
  name: string;
  version: string | null;
  tags: readonly string[];
  arch: string | null;
  createdAt: string;
}

export interface KcidbRun {
  id: string;
  image: string;
  targetId: string;
  suite: string;
  state: string;
  verdict: Verdict | null;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  retryOf: string | null;
  supersededBy: string | null;
  verdicts: readonly VerdictRecord[];
  /** Per verdict (in order), the known issues that explain it. */
  known: readonly (readonly KnownRef[])[];
  artifacts: readonly { attempt: number; name: string }[];
}

export interface KcidbInput {
  matrix: { id: string; createdAt: string; scheduleId: string | null };
  images: ReadonlyMap<string, KcidbImage>;
  targets: ReadonlyMap<string, { description: string; kind: string }>;
  runs: readonly KcidbRun[];
  issues: readonly KnownIssue[];
  /** The controller's address, for links to runs and artifacts (absolute URLs only). */
  baseUrl?: string;
}

/** KCIDB's build architectures are the kernel's names. */
const ARCH: Record<string, string> = { aarch64: 'arm64', aarch32: 'arm' };

/** vmfarm's verdicts are KCIDB's statuses: ERROR (the farm or host broke) is KCIDB's ERROR. */
const STATUS: Record<Verdict, string> = { PASS: 'PASS', FAIL: 'FAIL', ERROR: 'ERROR', SKIP: 'SKIP' };

const id = (...parts: string[]) => `${KCIDB_ORIGIN}:${parts.join(':')}`;

/** A dot-separated KCIDB path: each part of [a-zA-Z0-9_-]; a payload rule `VBSA:V_L1GI_01` gets a dot. */
function testPath(suite: string, clause: string): string {
  const part = (s: string) => s.replace(/[^a-zA-Z0-9_-]/g, '_') || '_';
  return [suite, ...clause.split(':')].map(part).join('.');
}

function buildStatus(runs: readonly KcidbRun[]): string | undefined {
  if (runs.some((r) => r.state !== 'done' || r.verdict === null)) return undefined;
  if (runs.every((r) => r.verdict === 'SKIP')) return 'SKIP';
  if (runs.every((r) => r.verdict === 'ERROR' || r.verdict === 'SKIP')) return 'ERROR';
  return 'PASS';
}

export function toKcidb(input: KcidbInput): Record<string, unknown> {
  const url = (path: string) => (input.baseUrl ? `${input.baseUrl.replace(/\/$/, '')}${path}` : undefined);
  const defined = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

  const checkouts = [...new Set(input.runs.map((r) => r.image))].map((sha) => {
    const image = input.images.get(sha);
    return defined({
      id: id('image', sha),
      origin: KCIDB_ORIGIN,
      tree_name: image?.name,
      git_commit_name: image?.version ?? undefined,
      git_commit_tags: image ? [...image.tags] : undefined,
      start_time: image?.createdAt,
      valid: true,
      misc: { sha256: sha, version: image?.version ?? null },
    });
  });

  const buildId = (r: Pick<KcidbRun, 'image' | 'targetId'>) => id(input.matrix.id, r.image, r.targetId);
  const cells = new Map<string, KcidbRun[]>();
  for (const r of input.runs) cells.set(buildId(r), [...(cells.get(buildId(r)) ?? []), r]);
  const builds = [...cells.entries()].map(([bid, runs]) => {
    const { image, targetId } = runs[0];
    const arch = input.images.get(image)?.arch;
    const target = input.targets.get(targetId);
    return defined({
      id: bid,
      origin: KCIDB_ORIGIN,
      checkout_id: id('image', image),
      config_name: targetId,
      architecture: arch ? (ARCH[arch] ?? arch) : undefined,
      comment: target?.description || undefined,
      start_time: input.matrix.createdAt,
      status: buildStatus(runs),
      misc: { matrix_id: input.matrix.id, target_kind: target?.kind ?? null },
    });
  });

  const tests: Record<string, unknown>[] = [];
  const incidents: Record<string, unknown>[] = [];
  const issueIds = new Set<string>();
  for (const r of input.runs) {
    for (const [n, v] of r.verdicts.entries()) {
      // A run may judge one clause more than once (an ACS rule per module, say): each is a test.
      const tid = id(r.id, v.clause, String(n));
      tests.push(
        defined({
          id: tid,
          origin: KCIDB_ORIGIN,
          build_id: buildId(r),
          path: testPath(r.suite, v.clause),
          status: STATUS[v.verdict],
          comment: v.message.replace(/\0/g, '') || undefined,
          start_time: r.startedAt ?? undefined,
          duration: r.durationMs === null ? undefined : r.durationMs / 1000,
          log_url: url(`/runs/${r.id}`),
          output_files: input.baseUrl
            ? r.artifacts.map((a) => ({
                name: a.name,
                url: url(`/api/runs/${r.id}/attempts/${a.attempt}/artifacts/${encodeURIComponent(a.name)}`)!,
              }))
            : undefined,
          misc: {
            clause: v.clause,
            level: v.level,
            suite: r.suite,
            run_id: r.id,
            evidence: v.evidence,
            retry_of: r.retryOf,
            superseded_by: r.supersededBy,
          },
        }),
      );
      for (const issue of v.verdict === 'FAIL' ? (r.known[n] ?? []) : []) {
        const full = input.issues.find((i) => i.id === issue.id);
        if (!full) continue;
        issueIds.add(full.id);
        incidents.push({
          id: id(r.id, v.clause, String(n), full.id),
          origin: KCIDB_ORIGIN,
          issue_id: id('issue', full.id),
          issue_version: full.version,
          test_id: tid,
          present: true,
          comment: `known issue: ${full.title}`,
        });
      }
    }
  }

  const issues = input.issues
    .filter((i) => issueIds.has(i.id))
    .map((i) =>
      defined({
        id: id('issue', i.id),
        version: i.version,
        origin: KCIDB_ORIGIN,
        report_url: i.link ?? undefined,
        report_subject: i.title,
        comment: i.reason,
        // A known issue says the tested subject (the image or the VM implementation) is at fault.
        culprit: { code: true, tool: false, harness: false },
        misc: { owner: i.owner, expires_at: i.expiresAt, match: i.match, tenant: i.tenant },
      }),
    );

  return { version: { ...KCIDB_VERSION }, checkouts, builds, tests, issues, incidents };
}
