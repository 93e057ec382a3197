import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createLogger } from '../shared/logger';
import { SsmDocuments } from '../shared/ssm-documents';
import { appendReleaseKeys, handleApiRequest, json, releaseIdParameter, requireEnv, serviceParameter } from './http';
import { releaseStatus, serviceStatus } from './release-status';

export type { ApprovalSummary, LockSummary, ReleaseStatusResponse, ServiceStatusResponse } from './release-status';

const ssm = new SSMClient({});
const sfn = new SFNClient({});
const documents = new SsmDocuments(ssm);
const logger = createLogger('api-get-release');

/**
 * `GET /releases/{service}` and `GET /releases/{service}/{releaseId}` (one function, routed on
 * the `releaseId` path parameter). Reads the state, lock and approval documents, and the
 * execution from Step Functions. 404 when the service has no configuration, or when neither Step
 * Functions nor the release history knows the release.
 */
export async function handler(event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult> {
  return handleApiRequest(logger, event, context, async () => {
    const service = serviceParameter(event);
    if (event.pathParameters?.releaseId === undefined) {
      appendReleaseKeys(logger, { service });
      return json(200, await serviceStatus(documents, sfn, service));
    }
    const releaseId = releaseIdParameter(event);
    appendReleaseKeys(logger, { service, releaseId });
    return json(200, await releaseStatus(documents, sfn, service, releaseId, requireEnv('STATE_MACHINE_ARN')));
  });
}
