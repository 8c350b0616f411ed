import { EXIT, type ScheduleCreate, type ScheduleView } from '@vmfarm/protocol';
import { clientFor } from '../client';
import { reported } from '../failure';
import { parse, UsageError } from '../usage';

const HELP = `usage: vmfarm schedule create --name N --cron PATTERN (--tag T... | --image SHA256...)
                              --targets LIST --suites LIST [--timezone TZ] [--ready REGEX] [--disabled]
       vmfarm schedule list [--json]
       vmfarm schedule run ID
       vmfarm schedule delete ID

Recurring matrices. Each time the cron pattern fires (in --timezone, default UTC) the controller
submits a matrix: with --tag, the newest version of each image name carrying every tag given; with
--image, those images. A fire while the schedule's previous matrix still runs is skipped; fires
missed while no controller ran are caught up once at its next start.

  --name N           what the schedule is called
  --cron PATTERN     five fields (minute hour day month weekday), or six with seconds first,
                     e.g. '0 2 * * *' for 02:00 every day
  --timezone TZ      IANA time zone of the pattern, e.g. Europe/Paris (default UTC)
  --tag T            select images by tag (repeatable: all tags must match)
  --image SHA256     a fixed image (repeatable)
  --targets LIST     comma-separated target ids, or all
  --suites LIST      comma-separated suite ids, or all
  --ready REGEX      live suites: a pattern the guest prints when it is up
  --disabled         create it switched off
  --controller URL   the controller (default: $VMFARM_CONTROLLER, else http://127.0.0.1:8700)
  --token TOKEN      the API token (default: $VMFARM_TOKEN, else the admin token of the local
                     farm in $VMFARM_DATA or ./.vmfarm); a vendor's schedules are its tenant's
  --json             list: the schedules as JSON

create prints the schedule id, run the id of the matrix it submitted.
Exit codes: 0 done, 2 usage error or a request the controller refused, 3 the controller unreachable.
`;

function csv(flag: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${flag} needs a comma-separated list`);
  return items;
}

function row(s: ScheduleView): string {
  const images =
    'tags' in s.images ? `tags ${s.images.tags.join(',')}` : `${s.images.sha256.length} image(s)`;
  const next = s.enabled ? `next ${s.nextRunAt ?? '-'}` : 'disabled';
  return `${s.id}  ${s.name}  '${s.cron}' ${s.timezone}  ${images} × ${s.targets.join(',')} × ${s.suites.join(',')}  ${next}  last matrix ${s.lastMatrixId ?? '-'}`;
}

export async function schedule(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    controller: { type: 'string' },
    token: { type: 'string' },
    name: { type: 'string' },
    cron: { type: 'string' },
    timezone: { type: 'string' },
    tag: { type: 'string', multiple: true },
    image: { type: 'string', multiple: true },
    targets: { type: 'string' },
    suites: { type: 'string' },
    ready: { type: 'string' },
    disabled: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const [action, ...rest] = positionals;
  const client = () => clientFor(values);
  const oneId = () => {
    if (rest.length !== 1) throw new UsageError(`${action} takes one schedule ID (see --help)`);
    return rest[0];
  };
  switch (action) {
    case 'create': {
      if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
      const tags = values.tag as string[] | undefined;
      const images = values.image as string[] | undefined;
      if (!!tags === !!images) throw new UsageError('give either --tag or --image (see --help)');
      for (const flag of ['name', 'cron', 'targets', 'suites'] as const)
        if (values[flag] === undefined) throw new UsageError(`--${flag} is required (see --help)`);
      // The controller checks the rest and lists every problem at once.
      const input: Partial<ScheduleCreate> = {
        name: values.name as string,
        cron: values.cron as string,
        images: tags ? { tags } : { sha256: images! },
        targets: csv('targets', values.targets as string),
        suites: csv('suites', values.suites as string),
        ...(values.timezone === undefined ? {} : { timezone: values.timezone as string }),
        ...(values.ready === undefined ? {} : { ready: values.ready as string }),
        ...(values.disabled ? { enabled: false } : {}),
      };
      const c = client();
      return reported('schedule', async () => {
        const created = await c.call('the schedule', (api) =>
          api.createSchedule({ body: input as ScheduleCreate }),
        );
        process.stderr.write(`schedule ${created.name}: next run ${created.nextRunAt ?? '(disabled)'}\n`);
        process.stdout.write(`${created.id}\n`);
        return EXIT.ok;
      });
    }
    case 'list': {
      const c = client();
      return reported('schedule', async () => {
        const all = await c.all('the schedule list', (api, query) => api.listSchedules({ query }));
        process.stdout.write(
          values.json ? `${JSON.stringify(all, null, 2)}\n` : all.map((s) => `${row(s)}\n`).join(''),
        );
        return EXIT.ok;
      });
    }
    case 'run': {
      const id = oneId();
      const c = client();
      return reported('schedule', async () => {
        const matrix = await c.call(`schedule ${id}`, (api) => api.runSchedule({ params: { id } }));
        process.stdout.write(`${matrix.id}\n`);
        return EXIT.ok;
      });
    }
    case 'delete': {
      const id = oneId();
      const c = client();
      return reported('schedule', async () => {
        await c.call(`schedule ${id}`, (api) => api.deleteSchedule({ params: { id } }));
        process.stderr.write(`schedule ${id} deleted\n`);
        return EXIT.ok;
      });
    }
    default:
      throw new UsageError(
        action
          ? `unknown action '${action}': create, list, run or delete`
          : 'give an action: create, list, run or delete',
      );
  }
}
