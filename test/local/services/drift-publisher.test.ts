import { SFNClient, StartSyncExecutionCommand } from '@aws-sdk/client-sfn';
import { RELEASE_EVENT_SOURCE, RELEASE_EVENT_TYPES } from '../../../infra/release-event-schema';
import { LocalEventBus } from '../../../local/bus';
import { resolveHostPrefixes } from '../../../local/endpoint/host-prefix';
import { startLocalEndpoint, type LocalEndpoint } from '../../../local/endpoint/server';
import { LocalDriftEventPublisher } from '../../../local/services/drift-publisher';
import { clientConfig } from '../endpoint/harness';

// The drift-event publisher the reconciler starts (infra/constructs/drift-event-publisher.ts: an
// Express state machine, one EventBridge PutEvents of its input), reached as the reconciler reaches
// it: StartSyncExecution from SDK v3. Its model gives StartSyncExecution the host prefix `sync-`
// (AWS: sync-states.<region>.amazonaws.com), which the SDK prepends to a custom endpoint too, so the
// local world resolves `sync-127.0.0.1` to the endpoint.

const RELEASE_ARN = 'arn:aws:states:eu-west-1:000000000000:stateMachine:colorapp-release';
let endpoint: LocalEndpoint;
let unresolve: () => void;
const bus = new LocalEventBus({ region: 'eu-west-1' });
const drift = new LocalDriftEventPublisher({ stateMachineName: 'colorapp-drift-events', region: 'eu-west-1', account: '000000000000', bus, standardStateMachineArns: [RELEASE_ARN] });

beforeAll(async () => {
  endpoint = await startLocalEndpoint({
    jsonServices: [{ targetPrefix: 'AWSStepFunctions', jsonVersion: '1.0', operations: { StartSyncExecution: (input) => drift.startSyncExecution(input) } }],
  });
  unresolve = resolveHostPrefixes(new URL(endpoint.url).hostname);
});
afterAll(async () => {
  unresolve();
  await endpoint.close();
});

describe('LocalDriftEventPublisher', () => {
  it('puts the input as a Release Drift Detected event and answers SUCCEEDED with the input as output', async () => {
    const detail = { schemaVersion: 1, service: 'colorapp', outcome: 'drift-detected', live: 'blue', findings: [], at: '2026-12-03T10:00:00Z' };
    const out = await new SFNClient(clientConfig(endpoint.url)).send(new StartSyncExecutionCommand({ stateMachineArn: drift.stateMachineArn, input: JSON.stringify(detail) }));
    expect(out.status).toBe('SUCCEEDED');
    expect(JSON.parse(out.output!)).toEqual(detail);
    expect(out.executionArn).toMatch(/^arn:aws:states:eu-west-1:000000000000:express:colorapp-drift-events:/);
    const event = bus.published().at(-1)!;
    expect(event).toMatchObject({ source: RELEASE_EVENT_SOURCE, 'detail-type': RELEASE_EVENT_TYPES.driftDetected, detail });
    expect(event.resources).toEqual([out.executionArn, drift.stateMachineArn]);
  });

  it('refuses StartSyncExecution on the standard release state machine, as Step Functions does', async () => {
    await expect(
      new SFNClient(clientConfig(endpoint.url)).send(new StartSyncExecutionCommand({ stateMachineArn: RELEASE_ARN, input: '{}' })),
    ).rejects.toThrow(expect.objectContaining({ name: 'StateMachineTypeNotSupported' }));
  });

  it('says which state machine does not exist', async () => {
    await expect(
      new SFNClient(clientConfig(endpoint.url)).send(
        new StartSyncExecutionCommand({ stateMachineArn: 'arn:aws:states:eu-west-1:000000000000:stateMachine:nope', input: '{}' }),
      ),
    ).rejects.toThrow(expect.objectContaining({ name: 'StateMachineDoesNotExist' }));
  });
});
