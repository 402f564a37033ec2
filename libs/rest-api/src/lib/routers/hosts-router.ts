import { Router } from 'express';
import type { CatalogService } from '@shipdeck/master-services';
import { HostBody } from '../dtos';
import { getJson, noContent, putNamed, route } from '../routing';
import { param } from '../validation';

/** `/hosts`: the infrastructure deployments target. */
export function hostsRouter(catalog: CatalogService): Router {
  const router = Router();
  route(router, '/hosts', { get: getJson(() => catalog.listHosts()) });
  route(router, '/hosts/:name', {
    get: getJson((req) => catalog.getHost(param(req, 'name'))),
    put: putNamed(HostBody, async (name, body) => {
      const host = { name, type: body.type, tags: body.tags ?? [], properties: body.properties ?? {} };
      const result = await catalog.putHost(host);
      return { created: result.created, value: result.host };
    }),
    delete: noContent((req) => catalog.deleteHost(param(req, 'name'))),
  });
  return router;
}
