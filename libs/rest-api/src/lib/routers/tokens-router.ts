import { Router } from 'express';
import { AuthService, AuthError, AuthErrorCode, authorize, authorizeTokenOwner, principalOf } from '@shipdeck/auth';
import { TokenBody } from '../auth-dtos';
import { readBody } from '../body';
import { created, getJson, getPage, route } from '../routing';
import { bodyOf, param } from '../validation';

/**
 * `/tokens`: API tokens for scripts and CI. A token acts as the user who created it; it is shown
 * once, in the answer to its creation. Users see and revoke their own tokens, admins everyone's.
 */
export function tokensRouter(auth: AuthService): Router {
  const router = Router();
  route(router, '/tokens', {
    get: getPage((req) => {
      const principal = principalOf(req);
      const all = authorize(principal, 'token:manage').allowed;
      return auth.listTokens(all ? undefined : principal.userId);
    }),
    post: [
      readBody(['json']),
      async (req, res) => {
        const body = bodyOf(req, TokenBody);
        const { token, record } = await auth.createToken(principalOf(req).userId, body.name, body.expiresAt ?? null);
        created(res, `/api/v1/tokens/${encodeURIComponent(record.id)}`, { ...record, token });
      },
    ],
  });
  route(router, '/tokens/:id', {
    delete: getJson(async (req) => {
      const principal = principalOf(req);
      const token = await auth.getToken(param(req, 'id'));
      const decision = authorizeTokenOwner(principal, token.userId);
      if (!decision.allowed) throw new AuthError(AuthErrorCode.FORBIDDEN, `${principal.username}: ${decision.reason}`);
      return auth.revokeToken(token.id);
    }),
  });
  return router;
}
