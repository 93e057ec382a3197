import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../lambdas/request-approval';
import { ValidationError } from '../../lambdas/shared/errors';
import { RELEASE_ID } from '../support/ecs-fixtures';
import { awsError, config, EXECUTION_ARN, fakeDateOnly, NAMES, release, sentPuts } from '../support/release-documents';

const ssm = mockClient(SSMClient);

const NOW = new Date('2025-01-01T12:10:00.000Z');
fakeDateOnly(NOW);

const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAd3bsfBRFqoGwAnaa+approval-token';

beforeEach(() => {
  ssm.reset();
  ssm.on(PutParameterCommand).resolves({ Version: 1, $metadata: {} });
});

describe('request-approval handler', () => {
  it("stores the gate's task token where the approve API finds it, with when it expires", async () => {
    await expect(handler({ taskToken: TOKEN, gate: 'before-traffic', release: release() })).resolves.toStrictEqual({
      waitingFor: 'before-traffic',
      expiresAt: '2025-01-01T13:10:00.000Z',
    });

    expect(sentPuts(ssm)).toStrictEqual([
      {
        Name: NAMES.approval,
        Value: {
          // The engine-wide release-event publisher names the service from it.
          service: 'colorapp',
          releaseId: RELEASE_ID,
          executionArn: EXECUTION_ARN,
          taskToken: TOKEN,
          gate: 'before-traffic',
          requestedAt: NOW.toISOString(),
          expiresAt: '2025-01-01T13:10:00.000Z',
        },
        Type: 'String',
        Overwrite: true,
        Tier: 'Intelligent-Tiering',
        Description: `Approval waiting for release ${RELEASE_ID}`,
      },
    ]);
  });

  it("takes the expiry from the service's approval timeout, for the before-promote gate too", async () => {
    const result = await handler({ taskToken: TOKEN, gate: 'before-promote', release: release({ config: config({ approvalTimeoutSeconds: 90 }) }) });

    expect(result).toStrictEqual({ waitingFor: 'before-promote', expiresAt: '2025-01-01T12:11:30.000Z' });
    expect(sentPuts(ssm)[0].Value).toMatchObject({ gate: 'before-promote', expiresAt: '2025-01-01T12:11:30.000Z' });
  });

  it('fails when the token cannot be stored, so the gate does not wait for an approval nobody can give', async () => {
    const denied = awsError('AccessDeniedException', 'not authorized to perform ssm:PutParameter');
    ssm.on(PutParameterCommand).rejects(denied);

    // Reported under a catalogue name, with what AWS said kept in the message and the cause.
    await expect(handler({ taskToken: TOKEN, gate: 'before-traffic', release: release() })).rejects.toMatchObject({
      name: 'AwsCallFailedError',
      message: 'AccessDeniedException: not authorized to perform ssm:PutParameter',
      cause: denied,
    });
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['an unknown gate', { taskToken: TOKEN, gate: 'after-promote', release: release() }, /^Invalid RequestApproval input: gate: /],
    ['an empty task token', { taskToken: '', gate: 'before-traffic', release: release() }, /^Invalid RequestApproval input: taskToken: /],
  ])('is a ValidationError, storing nothing, for %s', async (_case, input, message) => {
    const error = await handler(input).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(message);
    expect(ssm).not.toHaveReceivedAnyCommand();
  });
});
