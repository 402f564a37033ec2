import { Router } from 'express';
import { AuditOutcome, AuthService } from '@shipdeck/auth';
import { AUDIT_PAGE, AuditListQuery } from '../auth-dtos';
import { getJson, route } from '../routing';
import { checkTimeWindow, queryOf, toDate } from '../validation';

/** `/audit` (admin): every state-changing request, newest first, paged. */
export function auditRouter(auth: AuthService): Router {
  const router = Router();
  route(router, '/audit', {
    get: getJson(async (req) => {
      const query = queryOf(req, AuditListQuery);
      checkTimeWindow(query);
      const limit = query.limit ? Number(query.limit) : AUDIT_PAGE.default;
      const entries = await auth.listAudit({
        // One more than asked tells whether there is a next page.
        limit: limit + 1,
        ...(query.cursor ? { beforeSeq: Number(query.cursor) } : {}),
        ...(query.user ? { username: query.user } : {}),
        ...(query.action ? { action: query.action } : {}),
        // The DTO admits only the outcomes.
        ...(query.outcome ? { outcome: query.outcome as AuditOutcome } : {}),
        ...(query.from ? { from: toDate(query.from).toISOString() } : {}),
        ...(query.to ? { to: toDate(query.to).toISOString() } : {}),
      });
      const items = entries.slice(0, limit);
      const nextCursor = entries.length > limit ? String(items[items.length - 1]!.seq) : null;
      return { items, nextCursor };
    }),
  });
  return router;
}
