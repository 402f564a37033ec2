import { Router } from 'express';
import type { DeploymentRequest, DeploymentService } from '@shipdeck/master-services';
import { readBody } from '../body';
import { DeploymentBody, UndeploymentBody } from '../dtos';
import { route, taskCreated } from '../routing';
import { bodyOf } from '../validation';

/** `/deployments` (preview and create) and `/undeployments`. */
export function deploymentsRouter(deployments: DeploymentService): Router {
  const router = Router();
  const json = readBody(['json']);
  route(router, '/deployments/preview', {
    post: [json, async (req, res) => void res.json(await deployments.previewDeployment(toRequest(bodyOf(req, DeploymentBody))))],
  });
  route(router, '/deployments', {
    post: [json, async (req, res) => taskCreated(res, await deployments.createDeployment(toRequest(bodyOf(req, DeploymentBody))))],
  });
  route(router, '/undeployments', {
    post: [
      json,
      async (req, res) => {
        const body = bodyOf(req, UndeploymentBody);
        taskCreated(res, await deployments.createUndeployment({ application: body.application, environment: body.environment }));
      },
    ],
  });
  return router;
}

function toRequest(body: DeploymentBody): DeploymentRequest {
  return {
    application: body.application,
    version: body.version,
    environment: body.environment,
    ...(body.skipSteps ? { skipSteps: body.skipSteps } : {}),
    ...(body.pauseBefore ? { pauseBefore: body.pauseBefore } : {}),
  };
}
