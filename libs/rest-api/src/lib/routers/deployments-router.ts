import { Router } from 'express';
import type { DeploymentRequest, DeploymentService, TaskCreationOptions } from '@shipdeck/master-services';
import { readBody } from '../body';
import { DeploymentBody, DeploymentPreviewBody, UndeploymentBody } from '../dtos';
import { createTask, route } from '../routing';
import { bodyOf } from '../validation';

/** `/deployments` (preview and create) and `/undeployments`. */
export function deploymentsRouter(deployments: DeploymentService): Router {
  const router = Router();
  const json = readBody(['json']);
  route(router, '/deployments/preview', {
    post: [json, async (req, res) => void res.json(await deployments.previewDeployment(toRequest(bodyOf(req, DeploymentPreviewBody))))],
  });
  route(router, '/deployments', {
    post: [
      json,
      async (req, res) => {
        const body = bodyOf(req, DeploymentBody);
        const create = (options: TaskCreationOptions) => deployments.createDeployment(toRequest(body), options);
        await createTask(req, res, { start: body.start, environment: body.environment, create });
      },
    ],
  });
  route(router, '/undeployments', {
    post: [
      json,
      async (req, res) => {
        const body = bodyOf(req, UndeploymentBody);
        const create = (options: TaskCreationOptions) => deployments.createUndeployment({ application: body.application, environment: body.environment }, options);
        await createTask(req, res, { start: body.start, environment: body.environment, create });
      },
    ],
  });
  return router;
}

function toRequest(body: DeploymentPreviewBody): DeploymentRequest {
  return {
    application: body.application,
    version: body.version,
    environment: body.environment,
    ...(body.skipSteps ? { skipSteps: body.skipSteps } : {}),
    ...(body.pauseBefore ? { pauseBefore: body.pauseBefore } : {}),
  };
}
