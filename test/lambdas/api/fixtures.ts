// Shared fixtures for the API handler tests: API Gateway events, SSM documents and SDK errors.
import { ClusterNotFoundException } from '@aws-sdk/client-ecs';
import { ExecutionAlreadyExists, ExecutionDoesNotExist, InvalidToken, TaskDoesNotExist, TaskTimedOut } from '@aws-sdk/client-sfn';
import { GetParameterCommand, ParameterNotFound, type SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import type { ServiceConfigInput } from '../../../lambdas/shared/config';
import {
  parameterNames,
  type ApprovalDocument,
  type LockDocument,
  type ReleaseRecord,
  type ReleaseState,
} from '../../../lambdas/shared/documents';

export const SERVICE = 'colorapp';
export const NAMES = parameterNames(SERVICE);
export const CALLER = 'arn:aws:iam::111122223333:user/alice';
export const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-1:111122223333:stateMachine:ecs-release';
export const RELEASE_ID = 'colorapp-20250101120000-a1b2c3';
export const EXECUTION_ARN = `arn:aws:states:eu-west-1:111122223333:execution:ecs-release:${RELEASE_ID}`;
export const TASK_TOKEN = 'token-of-the-waiting-gate';

/** An API Gateway REST proxy event, as IAM-authorized requests arrive. */
export function apiEvent(options: {
  method: string;
  resource: string;
  pathParameters?: Record<string, string>;
  body?: unknown;
  userArn?: string | null;
}): APIGatewayProxyEvent {
  const body =
    options.body === undefined ? null : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  return {
    httpMethod: options.method,
    resource: options.resource,
    path: options.resource,
    pathParameters: options.pathParameters ?? null,
    body,
    isBase64Encoded: false,
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {
      requestId: 'api-request-1',
      identity: { userArn: options.userArn === undefined ? CALLER : options.userArn },
    } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

/** The parsed JSON body of a response. */
export function bodyOf(result: APIGatewayProxyResult): Record<string, unknown> {
  return JSON.parse(result.body) as Record<string, unknown>;
}

export const CONFIG: ServiceConfigInput = {
  service: SERVICE,
  cluster: 'colorapp-cluster',
  ecsServices: { blue: 'colorapp-blue', green: 'colorapp-green' },
  taskDefinitionFamily: 'colorapp',
  containerName: 'app',
  traffic: {
    kind: 'appmesh',
    meshName: 'colorapp-mesh',
    virtualRouterName: 'colorapp-router',
    routeName: 'colorapp-route',
    virtualNodes: { blue: 'colorapp-blue', green: 'colorapp-green' },
  },
};

export function lockDoc(overrides: Partial<LockDocument> = {}): LockDocument {
  return {
    service: SERVICE,
    releaseId: RELEASE_ID,
    executionArn: EXECUTION_ARN,
    acquiredAt: '2025-01-01T12:00:01.000Z',
    image: 'registry/colorapp:v2',
    version: 'v2',
    strategy: { type: 'canary', steps: [10, 50, 100] },
    requestedBy: CALLER,
    requestReason: null,
    status: 'held',
    reason: null,
    undo: null,
    ...overrides,
  };
}

export function approvalDoc(overrides: Partial<ApprovalDocument> = {}): ApprovalDocument {
  return {
    releaseId: RELEASE_ID,
    executionArn: EXECUTION_ARN,
    taskToken: TASK_TOKEN,
    gate: 'before-promote',
    requestedAt: '2025-01-01T12:05:00.000Z',
    expiresAt: '2025-01-01T13:05:00.000Z',
    ...overrides,
  };
}

export function releaseRecord(overrides: Partial<ReleaseRecord> = {}): ReleaseRecord {
  return {
    id: 'colorapp-20241231090000-ffffff',
    executionArn: 'arn:aws:states:eu-west-1:111122223333:execution:ecs-release:colorapp-20241231090000-ffffff',
    image: 'registry/colorapp:v1',
    version: 'v1',
    fromColour: 'green',
    toColour: 'blue',
    strategy: { type: 'canary', steps: [10, 50, 100] },
    outcome: 'promoted',
    startedAt: '2024-12-31T09:00:00.000Z',
    finishedAt: '2024-12-31T09:10:00.000Z',
    requestedBy: CALLER,
    reason: null,
    failure: null,
    verdicts: [],
    ...overrides,
  };
}

export function stateDoc(overrides: Partial<ReleaseState> = {}): ReleaseState {
  const last = releaseRecord();
  return {
    schemaVersion: 1,
    service: SERVICE,
    live: 'blue',
    colours: {
      blue: { taskDefinitionArn: 'arn:aws:ecs:eu-west-1:111122223333:task-definition/colorapp:7', image: 'registry/colorapp:v1', version: 'v1' },
      green: { taskDefinitionArn: null, image: null, version: null },
    },
    lastRelease: last,
    history: [last],
    updatedAt: '2024-12-31T09:10:00.000Z',
    ...overrides,
  };
}

/**
 * SSM as the handlers see it: the given documents exist (as JSON), every other parameter is
 * ParameterNotFound.
 */
export function givenParameters(ssmMock: AwsClientStub<SSMClient>, documents: Record<string, unknown>): void {
  ssmMock.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'ParameterNotFound', $metadata: {} }));
  for (const [name, value] of Object.entries(documents)) {
    ssmMock.on(GetParameterCommand, { Name: name }).resolves({ Parameter: { Name: name, Value: JSON.stringify(value) } });
  }
}

const meta = { $metadata: {} };
export const sdkErrors = {
  executionDoesNotExist: () => new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', ...meta }),
  executionAlreadyExists: () => new ExecutionAlreadyExists({ message: 'Execution Already Exists', ...meta }),
  taskTimedOut: () => new TaskTimedOut({ message: 'Task Timed Out', ...meta }),
  taskDoesNotExist: () => new TaskDoesNotExist({ message: 'Task Does Not Exist', ...meta }),
  invalidToken: () => new InvalidToken({ message: 'Invalid Token', ...meta }),
  clusterNotFound: () => new ClusterNotFoundException({ message: 'Cluster not found.', ...meta }),
};
