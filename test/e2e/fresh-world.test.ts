// A fresh local world as a newcomer meets it, before any release: what the deployed stack would
// already hold can be read with the same APIs.
import { startE2eWorld, V1, type E2eWorld } from './support/local-release';

let e2e: E2eWorld;

beforeAll(async () => {
  e2e = await startE2eWorld({ strategy: { type: 'canary', steps: [10, 50, 100] }, bakeSeconds: 6, requestsPerSecond: 1 });
}, 60_000);

afterAll(() => e2e?.close());

describe('a fresh local world', () => {
  it('holds the initial release state the CDK app creates: blue live on v1, marked seededBy cdk, no history', async () => {
    const state = await e2e.state();
    const services = await e2e.services();

    expect(state).toMatchObject({
      service: 'colorapp',
      live: 'blue',
      seededBy: 'cdk',
      colours: {
        blue: { taskDefinitionArn: services.blue.taskDefinition, image: V1, version: 'v1' },
        green: { taskDefinitionArn: services.green.taskDefinition, image: V1, version: 'v1' },
      },
      history: [],
    });
  });
});
