import { hostname } from 'node:os';
import type { AuditEntry, TokenView, UserView } from '@shipdeck/auth';
import type { CommandName, Invocation } from './args';
import { ApiClient, ApiError, UnreachableError } from './client';
import { forgetCredential, storeCredential, storedCredential } from './credentials-file';
import { table } from './format';
import { PromptInput, isTerminal, prompt, readFirstLine } from './prompt';
import { CliError, print, seg, Session } from './session';

/** The environment variable `shipdeck login` takes the password from when it is set. */
export const PASSWORD_ENV = 'SHIPDECK_PASSWORD';
/** The environment variable `shipdeck login` takes the user name from when `--user` is not given and there is no terminal. */
export const USER_ENV = 'SHIPDECK_USER';
/** The environment variable whose token wins over the stored one. */
export const TOKEN_ENV = 'SHIPDECK_TOKEN';

/** The commands implemented here. */
type AuthCommandName = Extract<CommandName, 'login' | 'logout' | 'audit' | `users ${string}` | `tokens ${string}`>;

/** Runs one parsed command and answers its exit code. */
type Handler = (session: Session, invocation: Invocation) => Promise<number>;

/** A token as `POST /tokens` answers it: the listed fields and, this once, the token. */
interface CreatedToken extends TokenView {
  token: string;
}

/** A page of `GET /audit`. */
interface AuditPage {
  items: AuditEntry[];
  nextCursor: string | null;
}

/** Users, tokens, audit and logging in: `shipdeck login`, `logout`, `users …`, `tokens …`, `audit`. */
export const AUTH_HANDLERS: Record<AuthCommandName, Handler> = {
  login: async (s, { flags }) => {
    const user = flags.user ?? (await askUser(s));
    const password = await askPassword(s, `Password for ${user} at ${s.client.server}: `);
    const basic = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const client = new ApiClient(s.client.server, basic);
    const previous = await storedCredential(s.env, s.client.server);
    const { body } = await client.json<CreatedToken>('POST', '/tokens', { name: tokenName() });
    const path = await storeCredential(s.env, s.client.server, { token: body.token, tokenId: body.id, user, createdAt: body.createdAt });
    // The token of an earlier login is of no use any more: revoke it (it may revoke itself), quietly if it is gone already.
    if (previous && previous.tokenId !== body.id) await revokeQuietly(new ApiClient(s.client.server, `Bearer ${previous.token}`), previous.tokenId);
    print(s, { server: s.client.server, user, tokenId: body.id, credentials: path }, () => `logged in to ${s.client.server} as ${user}; token stored in ${path}`);
    if (s.env[TOKEN_ENV]?.trim()) s.err(`note: ${TOKEN_ENV} is set and is used instead of the stored token`);
    return 0;
  },

  logout: async (s) => {
    const stored = await storedCredential(s.env, s.client.server);
    if (!stored) {
      print(s, { server: s.client.server, loggedOut: false }, () => `not logged in to ${s.client.server}`);
      return 0;
    }
    let revoked = true;
    let problem = '';
    try {
      await new ApiClient(s.client.server, `Bearer ${stored.token}`).json('DELETE', `/tokens/${seg(stored.tokenId)}`);
    } catch (error) {
      // 401: the token is revoked, expired or its user deleted already; nothing is left to revoke.
      if (!(error instanceof ApiError && error.status === 401)) {
        revoked = false;
        problem = error instanceof UnreachableError ? `cannot reach ${error.server}` : error instanceof Error ? error.message : String(error);
      }
    }
    await forgetCredential(s.env, s.client.server);
    if (!revoked) {
      s.err(`error: the stored token was forgotten but not revoked (${problem}); it stays valid until an admin revokes token ${stored.tokenId}`);
      return 1;
    }
    print(s, { server: s.client.server, loggedOut: true, tokenId: stored.tokenId }, () => `logged out of ${s.client.server} (token ${stored.tokenId} revoked)`);
    return 0;
  },

  'users list': async (s) => {
    const body = await s.client.list<UserView>('/users');
    print(s, body, () =>
      table(
        ['NAME', 'ROLE', 'ENVIRONMENTS', 'DISABLED', 'CREATED'],
        body.map((u) => [u.username, u.role, u.environments === null ? '*' : u.environments.join(','), u.disabled ? 'yes' : 'no', u.createdAt]),
      ),
    );
    return 0;
  },

  'users add': async (s, { args, flags }) => {
    if (!flags.role) throw new CliError('users add needs --role viewer|deployer|admin');
    const password = await askNewPassword(s, args['NAME']);
    const request = { name: args['NAME'], password, role: flags.role, ...(flags.env?.length ? { environments: flags.env } : {}) };
    const { body } = await s.client.json<UserView>('POST', '/users', request);
    const where = body.environments ? ` in ${body.environments.join(', ')}` : '';
    print(s, body, () => `user ${body.username} created (${body.role}${where})`);
    return 0;
  },

  'users remove': async (s, { args }) => {
    await s.client.json('DELETE', `/users/${seg(args['NAME'])}`);
    print(s, { name: args['NAME'], removed: true }, () => `user ${args['NAME']} removed`);
    return 0;
  },

  'tokens list': async (s) => {
    const body = await s.client.list<TokenView>('/tokens');
    const cell = (v: string | null) => v ?? '-';
    print(s, body, () =>
      body.length === 0
        ? 'no tokens'
        : table(
            ['ID', 'NAME', 'CREATED', 'EXPIRES', 'LAST USED', 'REVOKED'],
            body.map((t) => [t.id, t.name, t.createdAt, cell(t.expiresAt), cell(t.lastUsedAt), cell(t.revokedAt)]),
          ),
    );
    return 0;
  },

  'tokens create': async (s, { args, flags }) => {
    const { body } = await s.client.json<CreatedToken>('POST', '/tokens', { name: args['NAME'], ...(flags.expires ? { expiresAt: flags.expires } : {}) });
    if (s.json) {
      s.out(JSON.stringify(body, null, 2));
    } else {
      // The token alone on stdout, for `TOKEN=$(shipdeck tokens create ci)`; the note on stderr.
      s.err(`token ${body.name} created (id ${body.id}${body.expiresAt ? `, expires ${body.expiresAt}` : ''}); it is shown only this once:`);
      s.out(body.token);
    }
    return 0;
  },

  'tokens revoke': async (s, { args }) => {
    const { body } = await s.client.json<TokenView>('DELETE', `/tokens/${seg(args['ID'])}`);
    print(s, body, () => `token ${body.id} (${body.name}) revoked`);
    return 0;
  },

  audit: async (s, { flags }) => {
    const query = new URLSearchParams();
    if (flags.user) query.set('user', flags.user);
    if (flags.outcome) query.set('outcome', flags.outcome);
    if (flags.limit) query.set('limit', flags.limit);
    if (flags.cursor) query.set('cursor', flags.cursor);
    const qs = query.size > 0 ? `?${query}` : '';
    const { body } = await s.client.json<AuditPage>('GET', `/audit${qs}`);
    const objects = (ids: Record<string, string>) => Object.entries(ids).map(([k, v]) => `${k}=${v}`).join(',') || '-';
    print(s, body, () =>
      body.items.length === 0
        ? 'no audit entries'
        : table(
            ['AT', 'USER', 'ACTION', 'OBJECTS', 'OUTCOME', 'STATUS', 'FROM', 'DETAIL'],
            body.items.map((e) => [e.at, e.username ?? '-', e.action, objects(e.objectIds), e.outcome, e.status === null ? '-' : String(e.status), e.sourceIp ?? '-', e.detail ?? '-']),
          ),
    );
    if (!s.json && body.nextCursor) s.err(`more entries: shipdeck audit --cursor ${body.nextCursor}${flags.limit ? ` --limit ${flags.limit}` : ''}`);
    return 0;
  },
};

/**
 * The credentials the CLI presents to `server`: `SHIPDECK_TOKEN` when set, else the token
 * `shipdeck login` stored for that server, else none.
 */
export async function authorizationFor(env: Readonly<Record<string, string | undefined>>, server: string): Promise<string | undefined> {
  const token = env[TOKEN_ENV]?.trim();
  if (token) return `Bearer ${token}`;
  const stored = await storedCredential(env, server);
  return stored ? `Bearer ${stored.token}` : undefined;
}

/** A name for the token of a login: where it was made, for `tokens list` (the API's name rule: letters, digits, `._-`). */
function tokenName(): string {
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'host';
  const at = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `cli-${host}`.slice(0, 100) + `-${at}`;
}

async function askUser(s: Session): Promise<string> {
  const fromEnv = s.env[USER_ENV]?.trim();
  if (fromEnv) return fromEnv;
  if (!isTerminal(s.stdin)) throw new CliError(`login needs --user NAME (or ${USER_ENV}) when standard input is not a terminal`);
  const user = (await prompt(s.stdin, s.stderr, 'User: ', false)).trim();
  if (user === '') throw new CliError('no user name given');
  return user;
}

/** The password of a login: SHIPDECK_PASSWORD, else a prompt on a terminal, else the first line of standard input. */
async function askPassword(s: Session, question: string): Promise<string> {
  const fromEnv = s.env[PASSWORD_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return readPassword(s.stdin, s, question, `set ${PASSWORD_ENV} or pipe the password to standard input`);
}

/** A new user's password: typed twice on a terminal, else the first line of standard input. */
async function askNewPassword(s: Session, user: string): Promise<string> {
  if (isTerminal(s.stdin)) {
    const first = await prompt(s.stdin, s.stderr, `Password for the new user ${user}: `, true);
    const again = await prompt(s.stdin, s.stderr, 'The same password again: ', true);
    if (first !== again) throw new CliError('the two passwords differ');
    return first;
  }
  return readPassword(s.stdin, s, '', 'pipe the password to standard input');
}

/** A hidden value: a prompt (not echoed) on a terminal, else the first line of standard input; never empty. */
export async function readPassword(stdin: PromptInput | undefined, s: Session, question: string, advice: string): Promise<string> {
  let password: string;
  if (isTerminal(stdin)) password = await prompt(stdin, s.stderr, question, true);
  else if (stdin) password = await readFirstLine(stdin);
  else throw new CliError(`no password: ${advice}`);
  if (password === '') throw new CliError(`no password given: type it at the prompt, ${advice}`);
  return password;
}

async function revokeQuietly(client: ApiClient, tokenId: string): Promise<void> {
  try {
    await client.json('DELETE', `/tokens/${seg(tokenId)}`);
  } catch {
    // Revoked, expired or unreachable: the new login stands either way.
  }
}
