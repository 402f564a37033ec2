import { Router } from 'express';
import type { CatalogService } from '@shipdeck/master-services';
import { EnvironmentBody } from '../dtos';
import { getPage, namedCollection, route } from '../routing';
import { param } from '../validation';

/** `/environments`: named sets of hosts with a dictionary, and what is deployed to them. */
export function environmentsRouter(catalog: CatalogService): Router {
  const router = Router();
  namedCollection(router, '/environments', {
    list: () => catalog.listEnvironments(),
    get: (name) => catalog.getEnvironment(name),
    body: EnvironmentBody,
    save: async (name, body) => {
      const result = await catalog.putEnvironment({
        name,
        hosts: body.hosts,
        dictionary: body.dictionary ?? {},
        secrets: body.secrets ?? {},
      });
      return { created: result.created, value: result.environment };
    },
    delete: (name) => catalog.deleteEnvironment(name),
  });
  route(router, '/environments/:name/deployed', { get: getPage((req) => catalog.getDeployed(param(req, 'name'))) });
  return router;
}
