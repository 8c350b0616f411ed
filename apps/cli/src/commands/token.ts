import { EXIT, ROLES, type Role, type TokenView } from '@vmfarm/protocol';
import { clientFor } from '../client';
import { reported } from '../failure';
import { oneOf, parse, UsageError } from '../usage';

const HELP = `usage: vmfarm token create --name NAME --role ROLE [--tenant TENANT]
       vmfarm token list
       vmfarm token revoke ID

Manages the controller's API tokens (needs an admin token). \`create\` prints the new token on
stdout: it is shown this once (the controller keeps only its sha256).

Roles: admin (everything), vendor (needs --tenant: submits images, targets and matrices and sees
only its tenant's and public ones), viewer (reads everything, changes nothing), agent (what an
agent calls, nothing else).

  --controller URL  the controller (default: $VMFARM_CONTROLLER, else http://127.0.0.1:8700)
  --token TOKEN     an admin token (default: $VMFARM_TOKEN, else the admin token of the local
                    farm in $VMFARM_DATA or ./.vmfarm)
`;

function table(tokens: readonly TokenView[]): string {
  const rows = [
    ['ID', 'NAME', 'ROLE', 'TENANT', 'CREATED', 'LAST USED', 'REVOKED'],
    ...tokens.map((t) => [
      t.id,
      t.name,
      t.role,
      t.tenant ?? '-',
      t.createdAt,
      t.lastUsedAt ?? '-',
      t.revokedAt ?? '-',
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => `${r.map((c, i) => c.padEnd(widths[i])).join('  ')}`.trimEnd()).join('\n') + '\n';
}

export async function token(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    controller: { type: 'string' },
    token: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string' },
    tenant: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const [action, ...rest] = positionals;
  const client = () => clientFor(values);
  switch (action) {
    case 'create': {
      if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
      const name = values.name as string | undefined;
      if (!name) throw new UsageError('--name is required');
      if (values.role === undefined) throw new UsageError(`--role is required (${ROLES.join(', ')})`);
      const role = oneOf<Role>('role', values.role as string, ROLES, 'viewer');
      // Whether a tenant fits the role is the controller's to say (a 400 listing the problem).
      const tenant = values.tenant as string | undefined;
      const api = client();
      return reported('token', async () => {
        const made = await api.createToken({ name, role, ...(tenant === undefined ? {} : { tenant }) });
        process.stderr.write(
          `token ${made.id} '${made.name}' (${made.role}${made.tenant ? `, tenant ${made.tenant}` : ''}); ` +
            'it is shown only now:\n',
        );
        process.stdout.write(`${made.token}\n`);
        return EXIT.ok;
      });
    }
    case 'list': {
      if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
      const api = client();
      return reported('token', async () => {
        process.stdout.write(table(await api.all('the token list', (c, query) => c.listTokens({ query }))));
        return EXIT.ok;
      });
    }
    case 'revoke': {
      if (rest.length !== 1) throw new UsageError('give exactly one token ID (see `vmfarm token list`)');
      const api = client();
      return reported('token', async () => {
        await api.revokeToken(rest[0]);
        process.stderr.write(`token ${rest[0]} revoked\n`);
        return EXIT.ok;
      });
    }
    default:
      throw new UsageError(
        action === undefined ? 'give an action: create, list or revoke' : `unknown action '${action}'`,
      );
  }
}
