import { dirname } from 'node:path';
import { Router, static as serveStatic } from 'express';
import { API_BASE_PATH, route } from '../routing';
import { OpenApiDocument } from './openapi-document';

/** Where the browsable reference (Swagger UI, served from its npm package) is. */
export const API_DOCS_PATH = '/api-docs';

/** `GET /openapi.json` (mounted under the API base path): the document, public like the login. */
export function openApiRouter(document: () => OpenApiDocument): Router {
  const router = Router();
  route(router, '/openapi.json', { get: [(_req, res) => void res.json(document())] });
  return router;
}

/**
 * The reference page: Swagger UI's files from `swagger-ui-dist` (no CDN), with an initializer of
 * our own that loads this master's document. Mounted at {@link API_DOCS_PATH}; static files only.
 */
export function apiDocsRouter(): Router {
  const router = Router();
  router.get('/swagger-initializer.js', (_req, res) => {
    res.type('application/javascript').send(
      `window.onload = function () {\n` +
        `  window.ui = SwaggerUIBundle({ url: ${JSON.stringify(`${API_BASE_PATH}/openapi.json`)}, dom_id: '#swagger-ui', deepLinking: true,\n` +
        `    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' });\n` +
        `};\n`,
    );
  });
  // The package's own directory (its getAbsoluteFSPath() comes without type declarations).
  router.use(serveStatic(dirname(require.resolve('swagger-ui-dist/package.json')), { index: 'index.html', redirect: true }));
  return router;
}
