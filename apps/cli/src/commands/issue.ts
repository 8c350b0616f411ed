import { EXIT, expiryFrom, type KnownIssueCreate, type KnownIssueView } from '@vmfarm/protocol';
import { clientFor } from '../client';
import { reported } from '../failure';
import { parse, UsageError } from '../usage';

const HELP = `usage: vmfarm issue add --title T --owner O --reason R --clause PATTERN... [--link URL]
                        [--expires WHEN] [--target PATTERN] [--image-name PATTERN]
                        [--image-version PATTERN] [--image-tag PATTERN] [--message RE2]
                        [--fixed-after N]
       vmfarm issue list [--all] [--json]
       vmfarm issue close ID

Known issues (waivers). A FAIL an issue matches stays a FAIL in every report, named as known
(FAIL (known: title)); it is counted apart and never reported as a new regression. An issue
matches a FAIL when every part of its match holds; patterns are globs (* any run of characters,
? one), over clause IDs or payload rule IDs (IMG-GPT, VBSA:V_L1GI_*). After --expires it matches
no more and is listed as expired; closed, it matches nothing. An issue whose scope ran --fixed-after
times (default 5) without a FAIL it matches is listed as possibly fixed. A vendor's issue is its
tenant's and explains only its tenant's matrices; an admin's explains every matrix.

  --title T             what it is
  --owner O             who looks after it (a person or team)
  --reason R            why the FAIL is accepted for now
  --clause PATTERN      a clause or rule ID pattern (repeatable; at least one)
  --link URL            the bug report or waiver
  --expires WHEN        an instant (2026-03-01T00:00:00Z) or a time from now: 7d, 12h, 30m, 90s
  --target PATTERN      target ids it applies to
  --image-name PATTERN, --image-version PATTERN, --image-tag PATTERN
                        images it applies to (a tag pattern matches any of the image's tags)
  --message RE2         a regular expression (RE2 syntax) the verdict's message must match
  --fixed-after N       runs without a match before it is shown as possibly fixed
  --all                 list: closed issues too
  --json                list: as JSON
  --controller URL      the controller (default: $VMFARM_CONTROLLER, else http://127.0.0.1:8700)
  --token TOKEN         the API token (default: $VMFARM_TOKEN, else the local farm's admin token)

add prints the issue's id. Exit codes: 0 done, 2 usage error or a request the controller refused,
3 the controller unreachable.
`;

/** An instant, or a duration from now (7d, 12h, 30m). */
export function expiryOf(when: string, now = new Date()): string {
  try {
    return expiryFrom(when, now);
  } catch (err) {
    throw new UsageError(`--expires: ${(err as Error).message}`);
  }
}

function row(i: KnownIssueView): string {
  const state = i.state === 'active' && i.possiblyFixed ? 'possibly fixed' : i.state;
  const match = [
    i.match.clauses.join(','),
    i.match.target && `target ${i.match.target}`,
    i.match.imageName && `image ${i.match.imageName}`,
    i.match.imageVersion && `version ${i.match.imageVersion}`,
    i.match.imageTag && `tag ${i.match.imageTag}`,
    i.match.message && `message /${i.match.message}/`,
  ].filter(Boolean);
  return `${i.id}  ${state}  ${i.title}  (${match.join('; ')})  owner ${i.owner}  expires ${i.expiresAt ?? 'never'}  last match ${i.lastMatchAt ?? '-'}`;
}

export async function issue(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    controller: { type: 'string' },
    token: { type: 'string' },
    title: { type: 'string' },
    owner: { type: 'string' },
    reason: { type: 'string' },
    clause: { type: 'string', multiple: true },
    link: { type: 'string' },
    expires: { type: 'string' },
    target: { type: 'string' },
    'image-name': { type: 'string' },
    'image-version': { type: 'string' },
    'image-tag': { type: 'string' },
    message: { type: 'string' },
    'fixed-after': { type: 'string' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const [action, ...rest] = positionals;
  const str = (k: string) => values[k] as string | undefined;
  switch (action) {
    case 'add': {
      if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
      for (const flag of ['title', 'owner', 'reason'])
        if (str(flag) === undefined) throw new UsageError(`--${flag} is required (see --help)`);
      const clauses = values.clause as string[] | undefined;
      if (!clauses?.length) throw new UsageError('give at least one --clause (see --help)');
      const fixedAfter = str('fixed-after');
      if (fixedAfter !== undefined && !/^\d+$/.test(fixedAfter))
        throw new UsageError('--fixed-after must be a whole number');
      const optional = <T>(value: T | undefined, f: (v: T) => object) =>
        value === undefined ? {} : f(value);
      // The controller checks the rest (patterns, the RE2 syntax, a past expiry) and lists every problem.
      const body: Partial<KnownIssueCreate> = {
        title: str('title')!,
        owner: str('owner')!,
        reason: str('reason')!,
        ...optional(str('link'), (link) => ({ link })),
        ...optional(str('expires'), (e) => ({ expiresAt: expiryOf(e) })),
        ...optional(fixedAfter, (n) => ({ fixedAfter: Number(n) })),
        match: {
          clauses,
          ...optional(str('target'), (target) => ({ target })),
          ...optional(str('image-name'), (imageName) => ({ imageName })),
          ...optional(str('image-version'), (imageVersion) => ({ imageVersion })),
          ...optional(str('image-tag'), (imageTag) => ({ imageTag })),
          ...optional(str('message'), (message) => ({ message })),
        },
      };
      const c = clientFor(values);
      return reported('issue', async () => {
        const made = await c.call('the known issue', (api) =>
          api.createKnownIssue({ body: body as KnownIssueCreate }),
        );
        process.stderr.write(`known issue ${made.id}: ${made.title} (${made.tenant ?? 'public'})\n`);
        process.stdout.write(`${made.id}\n`);
        return EXIT.ok;
      });
    }
    case 'list': {
      if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
      const c = clientFor(values);
      return reported('issue', async () => {
        const all = Boolean(values.all);
        const list = await c.all('the known issues', (api, query) =>
          api.listKnownIssues({ query: { ...query, all } }),
        );
        process.stdout.write(
          values.json ? `${JSON.stringify(list, null, 2)}\n` : list.map((i) => `${row(i)}\n`).join(''),
        );
        return EXIT.ok;
      });
    }
    case 'close': {
      if (rest.length !== 1) throw new UsageError('close takes one issue ID (see --help)');
      const c = clientFor(values);
      return reported('issue', async () => {
        const closed = await c.call(`known issue ${rest[0]}`, (api) =>
          api.closeKnownIssue({ params: { id: rest[0] } }),
        );
        process.stderr.write(`known issue ${closed.id} closed\n`);
        return EXIT.ok;
      });
    }
    default:
      throw new UsageError(
        action ? `unknown action '${action}': add, list or close` : 'give an action: add, list or close',
      );
  }
}
