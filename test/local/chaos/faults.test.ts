import { isThrottlingError, isTransientError } from '@smithy/core/retry';
import { AppMeshClient, DescribeRouteCommand } from '@aws-sdk/client-app-mesh';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeClustersCommand, ECSClient } from '@aws-sdk/client-ecs';
import { DescribeRulesCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { awsErrorFor, ChaosFaults, crashError, SERVICE_OF_CALL } from '../../../local/chaos/faults';
import { planChaos } from '../../../local/chaos/plan';
import type { JsonProtocolService } from '../../../local/contracts';
import { startLocalEndpoint, type EndpointFault, type LocalEndpoint } from '../../../local/endpoint/server';
import { LocalAppMesh, appMeshRestHandler } from '../../../local/services/appmesh';
import { LocalElbv2 } from '../../../local/services/elbv2';
import { LocalSsm } from '../../../local/services/ssm';
import { clientConfig, rawRequest } from '../endpoint/harness';

// Injected endpoint faults have AWS's wire shape, so the SDK classifies and retries them exactly as
// it would AWS's. Where each shape comes from:
// - JSON protocols (SSM, ECS, Step Functions): the "Common Errors" page of the AWS API references
//   (e.g. https://docs.aws.amazon.com/autoscaling/ec2/APIReference/CommonErrors.html):
//   ThrottlingException 400, InternalFailure 500, ServiceUnavailable 503.
// - Elastic Load Balancing (Query): `<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate
//   exceeded</Message>`, status 400, as quoted from real answers in zalando-stups/senza#81 and
//   kubernetes-sigs/aws-load-balancer-controller#1871 ("Throttling: Rate exceeded, status code: 400").
// - CloudWatch: the same Query-era `Throttling` 400 "Rate exceeded" (camitz/aws-cloudwatch-statsd-backend#10,
//   rusoto/rusoto#1954); CloudWatch speaks JSON 1.0 now, query-compatible, so the code also travels
//   in `x-amzn-query-error: Throttling;Sender`.
// - App Mesh (REST JSON): its modelled TooManyRequestsException (429), InternalServerErrorException
//   (500), ServiceUnavailableException (503) (botocore's AppMesh exceptions reference).
// - The SDK's classification: @smithy/core 3.41 `service-error-classification` (THROTTLING_ERROR_CODES
//   holds Throttling, ThrottlingException, TooManyRequestsException, and any 429; 500/502/503/504 and
//   ECONNRESET/EPIPE are transient): all of these are retried by the SDK's standard retry.

let next: EndpointFault | undefined;
let endpoint: LocalEndpoint;
const ssm = new LocalSsm();
const cloudwatch: JsonProtocolService = {
  targetPrefix: 'GraniteServiceVersion20100801',
  jsonVersion: '1.0',
  operations: { DescribeAlarms: async () => ({ MetricAlarms: [] }) },
};
const ecs: JsonProtocolService = {
  targetPrefix: 'AmazonEC2ContainerServiceV20141113',
  jsonVersion: '1.1',
  operations: { DescribeClusters: async () => ({ clusters: [], failures: [] }) },
};
const sfn: JsonProtocolService = {
  targetPrefix: 'AWSStepFunctions',
  jsonVersion: '1.0',
  operations: { ListStateMachines: async () => ({ stateMachines: [] }) },
};

beforeAll(async () => {
  endpoint = await startLocalEndpoint({
    jsonServices: [ssm, cloudwatch, ecs, sfn],
    queryServices: [new LocalElbv2()],
    restAppMesh: appMeshRestHandler(new LocalAppMesh()),
    // One fault for the next call only: the SDK's retry then gets a normal answer.
    faults: () => {
      const fault = next;
      next = undefined;
      return fault;
    },
  });
});
afterAll(() => endpoint.close());

const error = (kind: 'throttle' | 'internal-error' | 'unavailable', service: Parameters<typeof awsErrorFor>[1]): EndpointFault => ({
  kind: 'error',
  error: awsErrorFor(kind, service, 'Test'),
});

/** What a one-attempt client raises for one injected fault. */
async function raised(send: (maxAttempts: number) => Promise<unknown>, fault: EndpointFault): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  next = fault;
  try {
    await send(1);
  } catch (thrown) {
    return thrown as Error;
  }
  throw new Error('the call did not fail');
}

const clients = {
  ssm: (n: number) => new SSMClient(clientConfig(endpoint.url, n)).send(new GetParameterCommand({ Name: '/missing' })).catch((e: Error) => {
    if (e.name === 'ParameterNotFound') return 'answered';
    throw e;
  }),
  ecs: (n: number) => new ECSClient(clientConfig(endpoint.url, n)).send(new DescribeClustersCommand({})),
  stepfunctions: (n: number) => new SFNClient(clientConfig(endpoint.url, n)).send(new ListStateMachinesCommand({})),
  cloudwatch: (n: number) => new CloudWatchClient(clientConfig(endpoint.url, n)).send(new DescribeAlarmsCommand({})),
  elbv2: (n: number) =>
    new ElasticLoadBalancingV2Client(clientConfig(endpoint.url, n)).send(new DescribeRulesCommand({ RuleArns: ['arn:aws:elasticloadbalancing:eu-west-1:000000000000:listener-rule/app/x/1/2/3'] })).catch((e: Error) => {
      if (e.name === 'RuleNotFoundException' || e.name === 'RuleNotFound') return 'answered';
      throw e;
    }),
  appmesh: (n: number) =>
    new AppMeshClient(clientConfig(endpoint.url, n)).send(new DescribeRouteCommand({ meshName: 'm', virtualRouterName: 'r', routeName: 'x' })).catch((e: Error) => {
      if (e.name === 'NotFoundException') return 'answered';
      throw e;
    }),
};

describe('injected AWS errors', () => {
  it.each([
    ['ssm', 'ThrottlingException', 400],
    ['ecs', 'ThrottlingException', 400],
    ['stepfunctions', 'ThrottlingException', 400],
    ['cloudwatch', 'Throttling', 400],
    ['elbv2', 'Throttling', 400],
    ['appmesh', 'TooManyRequestsException', 429],
  ] as const)('%s throttling reaches the SDK as %s (%i), which it classifies as throttling', async (service, name, status) => {
    const e = await raised(clients[service], error('throttle', service));
    expect(e.name).toBe(name);
    expect(e.$metadata?.httpStatusCode).toBe(status);
    expect(isThrottlingError(e as never)).toBe(true);
  });

  it.each([
    ['ssm', 'InternalFailure', 500],
    ['ecs', 'InternalFailure', 500],
    ['cloudwatch', 'InternalFailure', 500],
    ['elbv2', 'InternalFailure', 500],
    ['appmesh', 'InternalServerErrorException', 500],
    ['ssm', 'ServiceUnavailable', 503],
    ['stepfunctions', 'ServiceUnavailable', 503],
    ['elbv2', 'ServiceUnavailable', 503],
    ['appmesh', 'ServiceUnavailableException', 503],
  ] as const)('%s: %s (%i) is a transient error to the SDK', async (service, name, status) => {
    const e = await raised(clients[service], error(status === 500 ? 'internal-error' : 'unavailable', service));
    expect(e.name).toBe(name);
    expect(e.$metadata?.httpStatusCode).toBe(status);
    expect(isTransientError(e as never)).toBe(true);
  });

  it('renders ELBv2 throttling as the Query protocol XML error AWS sends', async () => {
    next = error('throttle', 'elbv2');
    const reply = await rawRequest(endpoint.url, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=DescribeLoadBalancers&Version=2015-12-01',
    });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatch(/<ErrorResponse xmlns="http:\/\/elasticloadbalancing\.amazonaws\.com\/doc\/2015-12-01\/"><Error><Type>Sender<\/Type><Code>Throttling<\/Code><Message>Rate exceeded/);
  });

  it('sends CloudWatch throttling in x-amzn-query-error too, for query-compatible clients', async () => {
    next = error('throttle', 'cloudwatch');
    const reply = await rawRequest(endpoint.url, {
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'GraniteServiceVersion20100801.DescribeAlarms', 'x-amzn-query-mode': 'true' },
      body: '{}',
    });
    expect(reply.status).toBe(400);
    expect(reply.headers['x-amzn-query-error']).toBe('Throttling;Sender');
  });

  it('is absorbed by the SDK retry when the next attempt is answered', async () => {
    for (const service of ['ssm', 'ecs', 'cloudwatch', 'elbv2', 'appmesh', 'stepfunctions'] as const) {
      next = error('throttle', service);
      await expect(clients[service](3)).resolves.toBeDefined();
    }
  });
});

describe('dropped connections and slow answers', () => {
  it('a connection dropped before the answer is a network error the SDK retries', async () => {
    const e = await raised(clients.ecs, { kind: 'drop', when: 'before' });
    expect(e.message).toMatch(/socket hang up/);
    next = { kind: 'drop', when: 'before' };
    await expect(clients.ecs(3)).resolves.toBeDefined();
  });

  it('a call dropped after it ran did happen: the retry meets its effect', async () => {
    next = { kind: 'drop', when: 'after' };
    const client = new SSMClient(clientConfig(endpoint.url, 3));
    // The first attempt creates the parameter but is never answered; the retry finds it exists.
    await expect(client.send(new PutParameterCommand({ Name: '/chaos/lock', Value: '{}', Type: 'String', Overwrite: false }))).rejects.toThrow(
      expect.objectContaining({ name: 'ParameterAlreadyExists' }),
    );
    expect(ssm.getJson('/chaos/lock') ?? 'present').toBeDefined();
  });

  it('a slow answer arrives after the delay', async () => {
    next = { kind: 'delay', ms: 300 };
    const started = Date.now();
    await clients.ecs(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });
});

describe('ChaosFaults', () => {
  it('maps every service of the local endpoint to a plan name', () => {
    expect(Object.values(SERVICE_OF_CALL).sort()).toEqual(['appmesh', 'cloudwatch', 'ecs', 'elbv2', 'ssm', 'stepfunctions']);
  });

  it('injects nothing outside a release, and the planned faults during one', () => {
    const plan = planChaos(3, 1, { endpoint: 1, maxEndpointRate: 1, crash: 0, stop: 0, dropStatusEvent: 0, faultyVersion: 0, slowVersion: 0, crashingVersion: 0 });
    const release = { ...plan.releases[0], endpoint: { rate: 1, services: ['ecs' as const] } };
    const faults = new ChaosFaults(plan);
    const hook = faults.hooks().endpoint!;
    const call = { service: 'AmazonEC2ContainerServiceV20141113', operation: 'DescribeServices' };
    expect(hook(call)).toBeUndefined();
    faults.begin(release, 'arn:aws:states:eu-west-1:000000000000:execution:colorapp-release:x');
    expect(hook(call)).toBeDefined();
    expect(hook({ service: 'AmazonSSM', operation: 'GetParameter' })).toBeUndefined();
    faults.end();
    expect(hook(call)).toBeUndefined();
    expect(faults.total()).toBe(1);
  });

  it('crashes the planned handler once per release with an untyped Error, before or after its work', async () => {
    const plan = planChaos(3, 1);
    const faults = new ChaosFaults(plan);
    let ran = 0;
    const wrapped = faults.hooks().wrapHandler!('shift-traffic', async () => ++ran);
    faults.begin({ ...plan.releases[0], crash: { handler: 'shift-traffic', when: 'after' } }, 'arn');
    await expect(wrapped({})).rejects.toThrow(crashError('shift-traffic', 'after'));
    expect(ran).toBe(1);
    await expect(wrapped({})).resolves.toBe(2);
    expect(crashError('x', 'before').name).toBe('Error');
  });

  it("drops only the planned execution's end status event", () => {
    const plan = planChaos(3, 1);
    const faults = new ChaosFaults(plan);
    const drop = faults.hooks().dropEvent!;
    const event = (executionArn: string, status: string) =>
      ({ source: 'aws.states', 'detail-type': 'Step Functions Execution Status Change', detail: { executionArn, status } }) as never;
    faults.begin({ ...plan.releases[0], dropStatusEvent: true }, 'arn:mine');
    expect(drop(event('arn:mine', 'RUNNING'))).toBe(false);
    expect(drop(event('arn:other', 'ABORTED'))).toBe(false);
    expect(drop(event('arn:mine', 'ABORTED'))).toBe(true);
  });
});
