import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { SFNClient, StartExecutionCommand, StopExecutionCommand, SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as abortRelease } from '../../../lambdas/api/abort-release';
import { handler as approveRelease } from '../../../lambdas/api/approve-release';
import { MAX_BODY_BYTES } from '../../../lambdas/api/http';
import { handler as rejectRelease } from '../../../lambdas/api/reject-release';
import { handler as startRelease } from '../../../lambdas/api/start-release';
import { apiEvent, CONFIG, givenParameters, NAMES, STATE_MACHINE_ARN } from './fixtures';
// The chaos suite's seeded generator: every run tries the same cases.
import { mulberry32 } from '../../../local/chaos/plan';

/**
 * Bad input, generated: every answer is a 4xx naming what is wrong, and nothing is touched (no
 * execution started or stopped, no task token answered, no document written or deleted).
 * The generator is seeded, so a failure names a case that can be replayed.
 */
const ssmMock = mockClient(SSMClient);
const ecsMock = mockClient(ECSClient);
const sfnMock = mockClient(SFNClient);

const IMAGE = '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:v2';

const INJECTIONS = ['; rm -rf /', '$(id)', '`id`', '\n', '"', "'", '../../etc/passwd', '\u0000', '%00', '${jndi:ldap://x}', '<script>', ' ', '\u202e', '🎨'];
const WRONG_TYPES: unknown[] = [null, 42, -1, 1.5, true, [], [IMAGE], {}, { nested: { deeper: [1, 2, 3] } }, ''];

function badStartBodies(random: () => number, count: number): Array<{ why: string; body: unknown }> {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const cases: Array<{ why: string; body: unknown }> = [];
  for (let i = 0; i < count; i += 1) {
    const injection = pick(INJECTIONS);
    switch (i % 7) {
      case 0:
        cases.push({ why: `service with ${JSON.stringify(injection)}`, body: { service: `colorapp${injection}`, image: IMAGE } });
        break;
      case 1:
        cases.push({ why: `image with ${JSON.stringify(injection)}`, body: { service: 'colorapp', image: `${IMAGE}${injection}` } });
        break;
      case 2: {
        const field = pick(['service', 'image', 'bakeSeconds', 'approvals', 'strategy', 'reason', 'requestedBy']);
        cases.push({ why: `${field} of a wrong type`, body: { service: 'colorapp', image: IMAGE, [field]: pick(WRONG_TYPES.filter((v) => (typeof v !== 'string' || !['reason', 'requestedBy'].includes(field)) && !(field === 'approvals' && JSON.stringify(v) === '{}'))) } });
        break;
      }
      case 3:
        cases.push({ why: 'an unknown field', body: { service: 'colorapp', image: IMAGE, [`x${Math.floor(random() * 1e6)}`]: true } });
        break;
      case 4:
        cases.push({ why: 'a service name over 255 characters', body: { service: 'c'.repeat(256 + Math.floor(random() * 100)), image: IMAGE } });
        break;
      case 5:
        cases.push({ why: 'not a JSON object', body: pick(['', '{', 'null', '[]', '"colorapp"', '{"service":', 'NaN']) });
        break;
      default:
        cases.push({ why: 'a strategy that makes no sense', body: { service: 'colorapp', image: IMAGE, strategy: pick([{ type: 'canary', steps: [50, 10] }, { type: 'linear', stepPercent: 0 }, { type: 'yolo' }, { type: 'canary', steps: [] }]) } });
    }
  }
  return cases;
}

function expectNothingTouched() {
  expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
  expect(sfnMock.commandCalls(StopExecutionCommand)).toHaveLength(0);
  expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  expect(sfnMock.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
  expect(ssmMock.commandCalls(PutParameterCommand)).toHaveLength(0);
  expect(ssmMock.commandCalls(DeleteParameterCommand)).toHaveLength(0);
}

beforeEach(() => {
  ssmMock.reset();
  ecsMock.reset();
  sfnMock.reset();
  process.env.STATE_MACHINE_ARN = STATE_MACHINE_ARN;
  givenParameters(ssmMock, { [NAMES.config]: CONFIG });
  ecsMock.on(DescribeServicesCommand).callsFake((input: { services: string[] }) => ({ services: [{ serviceName: input.services[0], status: 'ACTIVE' }] }));
});

afterAll(() => {
  delete process.env.STATE_MACHINE_ARN;
});

describe('the API under bad input', () => {
  it.each(badStartBodies(mulberry32(20261203), 140).map((c, i) => [i, c.why, c.body] as const))(
    'POST /releases case %i (%s) is a 400 naming the problem, and starts nothing',
    async (_i, _why, body) => {
      const result = await startRelease(apiEvent({ method: 'POST', resource: '/releases', body }));
      expect(result.statusCode).toBe(400);
      expect(JSON.parse(result.body)).toMatchObject({ error: 'ValidationError', message: expect.stringMatching(/\S/) });
      expectNothingTouched();
    },
  );

  it('refuses a body over the size limit before parsing it', async () => {
    const body = JSON.stringify({ service: 'colorapp', image: IMAGE, reason: 'x'.repeat(MAX_BODY_BYTES) });
    const result = await startRelease(apiEvent({ method: 'POST', resource: '/releases', body }));
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body).message).toMatch(/more than the 16384 any request of this API needs/);
    expectNothingTouched();
  });

  const gates = [
    ['approve', approveRelease],
    ['reject', rejectRelease],
    ['abort', abortRelease],
  ] as const;
  const random = mulberry32(42);
  const badPaths = Array.from({ length: 12 }, (_, i) => {
    const injection = INJECTIONS[Math.floor(random() * INJECTIONS.length)];
    return i % 2 === 0 ? { service: `colorapp${injection}`, releaseId: 'colorapp-20261203120000-abcdef' } : { service: 'colorapp', releaseId: `rel${injection}` };
  });

  it.each(gates.flatMap(([name, handler]) => badPaths.map((path) => [name, path.service, path.releaseId, handler] as const)))(
    'POST /releases/{service}/%s with service %j and release id %j is a 400, touching nothing',
    async (_name, service, releaseId, handler) => {
      const result = await handler(
        apiEvent({ method: 'POST', resource: '/releases/{service}/x', pathParameters: { service, releaseId }, body: { releaseId, reason: 'no' } }),
      );
      expect(result.statusCode).toBe(400);
      expectNothingTouched();
    },
  );
});
