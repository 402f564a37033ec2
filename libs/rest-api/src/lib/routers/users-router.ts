import { Router } from 'express';
import { AuthService, Role } from '@shipdeck/auth';
import { UserBody } from '../auth-dtos';
import { readBody } from '../body';
import { created, getPage, noContent, route } from '../routing';
import { bodyOf, param } from '../validation';

/** `/users` (admin): people who log in, with their role and, for deployers, their environments. */
export function usersRouter(auth: AuthService): Router {
  const router = Router();
  route(router, '/users', {
    get: getPage(() => auth.listUsers()),
    post: [
      readBody(['json']),
      async (req, res) => {
        const body = bodyOf(req, UserBody);
        let user = await auth.createUser({
          username: body.name,
          password: body.password,
          // The DTO admits only the roles.
          role: body.role as Role,
          environments: body.environments ?? null,
        });
        if (body.disabled) user = await auth.updateUser(user.id, { disabled: true });
        created(res, `/api/v1/users/${encodeURIComponent(user.username)}`, user);
      },
    ],
  });
  route(router, '/users/:name', {
    delete: noContent(async (req) => {
      const user = await auth.getUserByName(param(req, 'name'));
      await auth.deleteUser(user.id);
    }),
  });
  return router;
}
