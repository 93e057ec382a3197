import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { ServiceConfigSchema, type ServiceConfigInput } from '../../../lambdas/shared/config';
import { ConfigNotFoundError, StateConflictError, ValidationError } from '../../../lambdas/shared/errors';
import { loadServiceConfig } from '../../../lambdas/shared/service-config';
import { appMeshConfig } from '../../support/traffic-fixtures';
import { awsError, NAMES, parameter, parameterNotFound } from '../../support/release-documents';

const ssm = mockClient(SSMClient);
const client = new SSMClient({});

/** The configuration as the CDK app writes it: defaults omitted. */
function written(overrides: Partial<ServiceConfigInput> = {}): ServiceConfigInput {
  return {
    service: 'colorapp',
    cluster: 'apps',
    ecsServices: { blue: 'colorapp-blue', green: 'colorapp-green' },
    taskDefinitionFamily: 'colorapp',
    containerName: 'app',
    traffic: appMeshConfig,
    ...overrides,
  };
}

beforeEach(() => ssm.reset());

describe('loadServiceConfig', () => {
  it('reads /ecs-release/<service>/config and returns it with every default filled', async () => {
    ssm.on(GetParameterCommand).resolves(parameter(NAMES.config, written()));

    const config = await loadServiceConfig(client, 'colorapp');

    expect(ssm.commandCalls(GetParameterCommand).map((call) => call.args[0].input)).toStrictEqual([{ Name: NAMES.config }]);
    expect(config).toStrictEqual(ServiceConfigSchema.parse(written()));
    expect(config).toMatchObject({
      defaultStrategy: { type: 'canary', steps: [10, 50, 100] },
      bakeSeconds: 60,
      approvals: { beforeTraffic: false, beforePromote: false },
      historyLength: 20,
    });
  });

  it('is a ConfigNotFoundError saying what to deploy when the parameter is missing', async () => {
    ssm.on(GetParameterCommand).rejects(parameterNotFound());

    const error = await loadServiceConfig(client, 'colorapp').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConfigNotFoundError);
    expect((error as Error).message).toBe(
      "Service 'colorapp' has no configuration at /ecs-release/colorapp/config. Deploy its ReleasePipeline construct (or write the parameter) first.",
    );
  });

  it('is a ValidationError naming the bad field, caused by the StateConflictError, when the document fails the schema', async () => {
    ssm.on(GetParameterCommand).resolves(parameter(NAMES.config, written({ bakeSeconds: 0 })));

    const error = await loadServiceConfig(client, 'colorapp').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(
      /^Invalid service configuration: Parameter \/ecs-release\/colorapp\/config does not match its schema: bakeSeconds: .+/,
    );
    expect((error as Error).cause).toBeInstanceOf(StateConflictError);
  });

  it('is a ValidationError when the document is not JSON', async () => {
    ssm.on(GetParameterCommand).resolves(parameter(NAMES.config, 'service: colorapp'));

    await expect(loadServiceConfig(client, 'colorapp')).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'Invalid service configuration: Parameter /ecs-release/colorapp/config is not valid JSON; fix or delete it by hand',
    });
  });

  it("is a ValidationError when the document is another service's configuration", async () => {
    ssm.on(GetParameterCommand).resolves(parameter(NAMES.config, written({ service: 'payments' })));

    const error = await loadServiceConfig(client, 'colorapp').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toBe("Configuration at /ecs-release/colorapp/config is for service 'payments', not 'colorapp'");
  });

  it('lets an access error through unchanged', async () => {
    const denied = awsError('AccessDeniedException', 'not authorized to perform ssm:GetParameter');
    ssm.on(GetParameterCommand).rejects(denied);

    await expect(loadServiceConfig(client, 'colorapp')).rejects.toBe(denied);
  });
});
