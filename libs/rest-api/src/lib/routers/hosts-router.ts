import { Router } from 'express';
import type { CatalogService } from '@shipdeck/master-services';
import { HostBody } from '../dtos';
import { namedCollection } from '../routing';

/** `/hosts`: the infrastructure deployments target. */
export function hostsRouter(catalog: CatalogService): Router {
  const router = Router();
  namedCollection(router, '/hosts', {
    list: () => catalog.listHosts(),
    get: (name) => catalog.getHost(name),
    body: HostBody,
    save: async (name, body) => {
      const result = await catalog.putHost({ name, type: body.type, tags: body.tags ?? [], properties: body.properties ?? {} });
      return { created: result.created, value: result.host };
    },
    delete: (name) => catalog.deleteHost(name),
  });
  return router;
}
