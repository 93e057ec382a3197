import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { AppMeshClient, UpdateRouteCommand } from '@aws-sdk/client-app-mesh';
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/rollback-release';
import type { LockDocument, ReleaseState } from '../../lambdas/shared/documents';
import { RollbackFailedError, ValidationError } from '../../lambdas/shared/errors';
import type { Progress } from '../../lambdas/shared/release';
import { ecsService } from '../support/ecs-fixtures';
import {
  awsError,
  fakeDateOnly,
  fakeParameters,
  fakeRoute,
  IDLE_TASK_DEFINITION_ARN,
  lockDocument,
  NAMES,
  NEW_TASK_DEFINITION_ARN,
  release,
  releaseState,
  ROUTE,
  targets,
  verdict,
  verdictSummary,
} from '../support/release-documents';

const ssm = mockClient(SSMClient);
// The rollback publishes the restored weights for the release dashboard.
const cloudwatch = mockClient(CloudWatchClient);
const ecs = mockClient(ECSClient);
const appmesh = mockClient(AppMeshClient);
mockClient(SFNClient);

fakeDateOnly(new Date('2025-01-01T12:20:00.000Z'));

const VERDICTS = [verdict({ status: 'unhealthy', reasons: ['success rate 0.7 < 0.99'] })];

function progress(): Progress {
  return { stepIndex: 0, attempt: 0, verdicts: VERDICTS, decision: 'rollback', failure: null };
}

/** A Lambda error as a Catch puts it at `$.error`: the Cause is the Lambda's JSON error. */
const LAMBDA_ERROR = {
  Error: 'AlarmTriggeredError',
  Cause: JSON.stringify({ errorType: 'AlarmTriggeredError', errorMessage: 'colorapp-green-p99 is in ALARM', trace: ['at ...'] }),
};

let params: ReturnType<typeof fakeParameters>;

beforeEach(() => {
  cloudwatch.reset();
  cloudwatch.on(PutMetricDataCommand).resolves({});
  ssm.reset();
  ecs.reset();
  appmesh.reset();
  params = fakeParameters(ssm, { [NAMES.lock]: lockDocument(), [NAMES.state]: releaseState() });
  fakeRoute(appmesh, targets(90, 10));
  const green = ecsService('colorapp-green', { taskDefinition: NEW_TASK_DEFINITION_ARN });
  ecs.on(DescribeServicesCommand).resolves({ services: [green] });
  ecs.on(UpdateServiceCommand).resolves({ service: green });
});

describe('rollback-release handler', () => {
  it("rolls back and records the Lambda error's message and the verdicts so far", async () => {
    const report = await handler({ release: release(), progress: progress(), error: LAMBDA_ERROR });

    expect(report).toStrictEqual({
      outcome: 'rolled-back',
      actions: [
        'read the lock',
        'mark the lock rolling-back',
        `restore traffic 100/0 to blue on ${ROUTE}`,
        `revert colorapp-green to ${IDLE_TASK_DEFINITION_ARN} x0`,
        'record the release in the state',
        'clear the bake and approval documents',
        'release the lock',
      ],
    });
    expect(params.json<ReleaseState>(NAMES.state)?.lastRelease).toMatchObject({
      outcome: 'rolled-back',
      failure: { error: 'AlarmTriggeredError', cause: 'colorapp-green-p99 is in ALARM' },
    });
    expect(params.json<ReleaseState>(NAMES.state)?.lastRelease?.verdicts).toStrictEqual([
      verdictSummary({ status: 'unhealthy', reasons: ['success rate 0.7 < 0.99'] }),
    ]);
    expect(params.has(NAMES.lock)).toBe(false);
  });

  it('marks the lock with the error name before touching traffic', async () => {
    appmesh.on(UpdateRouteCommand).rejects(awsError('AccessDeniedException', 'no'));

    await expect(handler({ release: release(), progress: progress(), error: LAMBDA_ERROR })).rejects.toThrow(RollbackFailedError);
    expect(params.json<LockDocument>(NAMES.lock)).toStrictEqual(lockDocument({ status: 'rolling-back', reason: 'AlarmTriggeredError' }));
  });

  it('records a plain cause (from a Pass state) as it is', async () => {
    await handler({ release: release(), progress: progress(), error: { Error: 'ApprovalTimeoutError', Cause: 'No approval within 3600 seconds' } });
    expect(params.json<ReleaseState>(NAMES.state)?.lastRelease?.failure).toStrictEqual({
      error: 'ApprovalTimeoutError',
      cause: 'No approval within 3600 seconds',
    });
  });

  it('throws the RollbackFailedError, so the state machine retries and then marks the rollback failed', async () => {
    ecs.on(UpdateServiceCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform ecs:UpdateService'));

    const error = await handler({ release: release(), progress: progress(), error: LAMBDA_ERROR }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RollbackFailedError);
    expect((error as Error).message).toContain(`failed at: revert colorapp-green to ${IDLE_TASK_DEFINITION_ARN} x0.`);
  });

  it('is a ValidationError, touching nothing, without the caught error', async () => {
    await expect(handler({ release: release(), progress: progress() })).rejects.toThrow(ValidationError);
    expect(ssm).not.toHaveReceivedAnyCommand();
    expect(appmesh).not.toHaveReceivedAnyCommand();
  });
});
