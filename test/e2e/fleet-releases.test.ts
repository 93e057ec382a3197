// End to end, as `npm start -- --services 3` runs it: the fleet sample's colorapp, colorapp-2 and
// colorapp-3 registered with one release engine, each behind its own listener of the one load
// balancer with its own clients, released at the same moment. colorapp-2's new version fails half
// its requests: it must roll back while the other two promote, and nothing of its rollback
// (weights, lock, state) may reach the others. Kept cheap for `npm test`'s budget (under 10 s of
// CPU on two cores): one step (blue/green, all traffic at once) and a 3 s bake, 30 requests/s per
// service (90 in a bake, above the 50 a verdict needs), one task per colour.
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import type { Service } from '@aws-sdk/client-ecs';
import { parameterNames, type ReleaseState } from '../../lambdas/shared/documents';
import { runDemo, type DemoReport, type ServiceReleaseReport } from '../../local/demo';
import { observe, V1, V2 } from './support/local-release';

const SERVICES = ['colorapp', 'colorapp-2', 'colorapp-3'] as const;
const FAULTY = 'colorapp-2';
const HEALTHY = SERVICES.filter((s) => s !== FAULTY);

interface Seen {
  readonly state: ReleaseState | null;
  readonly lockExists: boolean;
  readonly route: { blue: number; green: number };
  readonly services: { blue: Service; green: Service };
  /** The idle colour's weight after each change of the service's weighted rule, in order. */
  readonly greenWeights: number[];
  /** Every change of the service's weighted rule, with its time (epoch ms). */
  readonly changes: { readonly at: number; readonly green: number }[];
  /** When the service's execution started and stopped (epoch ms, from its history). */
  readonly ran: { readonly from: number; readonly to: number };
}

let report: DemoReport;
const seen = new Map<string, Seen>();

beforeAll(async () => {
  report = await runDemo({
    services: SERVICES.length,
    faultyServices: [FAULTY],
    faultRate: 0.5,
    strategy: { type: 'blue-green' },
    bakeSeconds: 3,
    requestsPerSecond: 30,
    // One task per colour and a slower progress poll: the releases are the same, the CPU is not (6 colorapp processes instead of 12).
    liveTasks: 1,
    progressIntervalMs: 500,
    inspect: async (world, _first, executions) => {
      for (const { service, executionArn } of executions) {
        const observer = observe(world, service);
        try {
          const lock = await observer.ssm.send(new GetParameterCommand({ Name: parameterNames(service).lock })).then(
            () => true,
            (error: Error) => {
              if (error.name === 'ParameterNotFound') return false;
              throw error;
            },
          );
          const events = world.stepFunctions.executionEvents(executionArn);
          seen.set(service, {
            state: await observer.state(),
            lockExists: lock,
            route: await observer.routeWeights(),
            services: await observer.services(),
            greenWeights: world.service(service).weightHistory().map((c) => c.weights.green),
            changes: world.service(service).weightHistory().map((c) => ({ at: c.at.getTime(), green: c.weights.green })),
            ran: { from: new Date(events[0].timestamp!).getTime(), to: new Date(events[events.length - 1].timestamp!).getTime() },
          });
        } finally {
          observer.destroy();
        }
      }
    },
  });
}, 90_000);

const releaseOf = (service: string): ServiceReleaseReport => {
  const found = report.releases.find((r) => r.service === service);
  if (!found) throw new Error(`no release of ${service} in the report: ${report.releases.map((r) => r.service).join(', ')}`);
  return found;
};
const seenOf = (service: string): Seen => {
  const found = seen.get(service);
  if (!found) throw new Error(`inspect saw no ${service}`);
  return found;
};

describe('three services of one engine released at once, one of them faulty', () => {
  it('reports one release per service, colorapp first and at the top level as with one service', () => {
    expect(report.releases.map((r) => r.service)).toEqual([...SERVICES]);
    expect(report).toMatchObject({ service: 'colorapp', outcome: report.releases[0].outcome, releaseId: report.releases[0].releaseId });
    expect(new Set(report.releases.map((r) => r.releaseId)).size).toBe(SERVICES.length);
  });

  it('ran the three releases concurrently', () => {
    const runs = SERVICES.map((s) => seenOf(s).ran);
    const latestStart = Math.max(...runs.map((r) => r.from));
    const earliestEnd = Math.min(...runs.map((r) => r.to));
    expect(latestStart).toBeLessThan(earliestEnd);
  });

  it('promotes the healthy services: green at 100, with no failed request', () => {
    for (const service of HEALTHY) {
      const release = releaseOf(service);
      expect({ service, outcome: release.outcome, error: release.error, failed: release.traffic.failed }).toEqual({
        service,
        outcome: 'promoted',
        error: null,
        failed: 0,
      });
      expect({ service, final: release.finalWeights, route: seenOf(service).route }).toEqual({
        service,
        final: { blue: 0, green: 100 },
        route: { blue: 0, green: 100 },
      });
      const steps = seenOf(service).greenWeights.filter((w, i, all) => w > 0 && w !== all[i - 1]);
      expect({ service, steps }).toEqual({ service, steps: [100] });
    }
  });

  it('rolls the faulty service back to blue at 100/0, its failed requests all on its green', () => {
    const release = releaseOf(FAULTY);
    expect(release.outcome).toBe('rolled-back');
    expect(release.image).toBe('colorapp:v2-faulty');
    expect(release.finalWeights).toEqual({ blue: 100, green: 0 });
    expect(seenOf(FAULTY).route).toEqual({ blue: 100, green: 0 });
    expect(Math.max(...seenOf(FAULTY).greenWeights)).toBe(100);
    expect(seenOf(FAULTY).greenWeights[seenOf(FAULTY).greenWeights.length - 1]).toBe(0);
    expect(release.traffic.failed).toBeGreaterThan(0);
    expect(release.traffic.failedOnNewColour).toBe(release.traffic.failed);
  });

  it("left the healthy services' weights alone: the faulty one's rollback to 100/0 never moved theirs back", () => {
    const rolledBackAt = seenOf(FAULTY).changes.filter((c) => c.green === 0).pop()!.at;
    for (const service of HEALTHY) {
      const { changes, ran } = seenOf(service);
      // The rollback happened while this service's release was still running.
      expect(rolledBackAt).toBeLessThan(ran.to);
      const after = changes.filter((c) => c.at >= rolledBackAt).map((c) => c.green);
      expect({ service, after }).toEqual({ service, after: after.map(() => 100) });
      const backwards = changes.filter((c, i) => i > 0 && c.green < changes[i - 1].green);
      expect({ service, backwards }).toEqual({ service, backwards: [] });
    }
  });

  it('leaves every lock free', () => {
    expect(SERVICES.map((s) => [s, seenOf(s).lockExists])).toEqual(SERVICES.map((s) => [s, false]));
  });

  it("records each service's own outcome in its own state document, live colour on the revision its ECS service runs", () => {
    for (const service of SERVICES) {
      const { state, services } = seenOf(service);
      const release = releaseOf(service);
      const live = service === FAULTY ? 'blue' : 'green';
      expect({ service, live: state?.live, history: state?.history.map((r) => [r.id, r.outcome]) }).toEqual({
        service,
        live,
        history: [[release.releaseId, release.outcome]],
      });
      expect(state!.colours[live]).toMatchObject({ image: service === FAULTY ? V1 : V2, taskDefinitionArn: services[live].taskDefinition });
      expect(services[live]).toMatchObject({ desiredCount: 1, runningCount: 1 });
    }
  });
});
