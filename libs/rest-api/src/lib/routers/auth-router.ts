import { Router } from 'express';
import { AuthService, SESSION_COOKIE, clearedSessionCookie, readCookie, sessionCookie } from '@shipdeck/auth';
import { LoginBody } from '../auth-dtos';
import { readBody } from '../body';
import { route } from '../routing';
import { bodyOf } from '../validation';

/** Options of {@link authRouter}. */
export interface AuthRouterOptions {
  auth: AuthService;
  /** Mark the session cookie `Secure` (the REST port speaks HTTPS, or sits behind a TLS proxy). */
  secureCookies: boolean;
}

/**
 * `/auth/login` and `/auth/logout`: a browser session in an HttpOnly, SameSite=Strict cookie,
 * stored in the database so that every master behind the load balancer accepts it.
 */
export function authRouter({ auth, secureCookies }: AuthRouterOptions): Router {
  const router = Router();
  route(router, '/auth/login', {
    post: [
      readBody(['json']),
      async (req, res) => {
        const { username, password } = bodyOf(req, LoginBody);
        const session = await auth.login(username, password, req.ip ?? 'unknown');
        const { principal } = session;
        res.set('Set-Cookie', sessionCookie(session.sessionId, session.expiresAt, new Date(), { secure: secureCookies }));
        res.json({ username: principal.username, role: principal.role, environments: principal.environments, expiresAt: session.expiresAt });
      },
    ],
  });
  route(router, '/auth/logout', {
    post: [
      async (req, res) => {
        const sessionId = readCookie(req.headers.cookie, SESSION_COOKIE);
        if (sessionId !== undefined) await auth.logout(sessionId);
        res.set('Set-Cookie', clearedSessionCookie({ secure: secureCookies })).status(204).end();
      },
    ],
  });
  return router;
}
