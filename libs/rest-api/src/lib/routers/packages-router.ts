import { Router } from 'express';
import type { CatalogService } from '@shipdeck/master-services';
import { readBody } from '../body';
import { API_BASE_PATH, created, getPage, route } from '../routing';
import { param } from '../validation';

/** `/packages` (import, JSON or YAML) and `/applications` (what was imported). */
export function packagesRouter(catalog: CatalogService): Router {
  const router = Router();
  route(router, '/packages', {
    post: [
      readBody(['json', 'yaml']),
      async (req, res) => {
        // The manifest's shape is the domain's to validate: it names every bad field itself.
        const result = await catalog.importPackage(req.body);
        const location = `${API_BASE_PATH}/applications/${encodeURIComponent(result.pkg.application)}/versions`;
        // An identical re-import changed nothing: 200, not 201.
        if (result.created) created(res, location, result.pkg);
        else res.status(200).json(result.pkg);
      },
    ],
  });
  route(router, '/applications', { get: getPage(() => catalog.listApplications()) });
  route(router, '/applications/:app/versions', {
    get: getPage((req) => catalog.listVersions(param(req, 'app'))),
  });
  return router;
}
