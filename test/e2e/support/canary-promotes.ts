// End to end, as `npm start` runs it: a healthy v2 released as a canary (10/50/100, 6 s bakes, 100
// client requests/s) in a fresh local world, watched from the outside: what the clients saw, the
// weights, the ECS services and the state document read through the endpoint with the AWS SDK.
// On both backends: ALB weighted target groups (the default) and App Mesh (the one App Mesh e2e
// suite; the others run on ALB only, to keep `npm test` within its budget).
import { DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import type { Service } from '@aws-sdk/client-ecs';
import type { LocalBackend } from '../../../local/backends';
import { runDemo, type DemoReport } from '../../../local/demo';
import type { ReleaseState } from '../../../lambdas/shared/documents';
import { observe, revisionOf, V2 } from './local-release';

/** `arn:...:task-definition/<family>:<revision>` → family. */
const familyOf = (arn: string | undefined) => /task-definition\/([^:]+):\d+$/.exec(arn ?? '')?.[1];

interface Seen {
  readonly state: ReleaseState | null;
  readonly route: { blue: number; green: number };
  readonly services: { blue: Service; green: Service };
  readonly greenImage: string | undefined;
  /** The idle colour's weight after each route change, in order. */
  readonly greenWeights: number[];
}

/**
 * The canary suite on one backend. Each backend has its own test file, so jest runs the two
 * releases (mostly waiting on bakes) side by side on its two workers.
 */
export function describeCanaryPromotes(backend: LocalBackend): void {
  describe(`on ${backend}`, () => {
    let report: DemoReport;
    let seen: Seen;

    beforeAll(async () => {
      let captured: Seen | undefined;
      report = await runDemo({
        traffic: backend,
        strategy: { type: 'canary', steps: [10, 50, 100] },
        bakeSeconds: 6,
        requestsPerSecond: 100,
        inspect: async (world) => {
          const observer = observe(world);
          try {
            const services = await observer.services();
            const td = await observer.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: services.green.taskDefinition }));
            captured = {
              state: await observer.state(),
              route: await observer.routeWeights(),
              services,
              greenImage: td.taskDefinition?.containerDefinitions?.[0]?.image,
              greenWeights: world.weightHistory().map((c) => c.weights.green),
            };
          } finally {
            observer.destroy();
          }
        },
      });
      if (!captured) throw new Error('runDemo did not call inspect');
      seen = captured;
    }, 120_000);

    describe('a healthy canary release in the local world', () => {
      it('ran on the backend asked for', () => {
        expect(report.backend).toBe(backend);
      });

      it('is promoted with no failed client requests, green having served part of them', () => {
        expect(report.error).toBeNull();
        expect(report.outcome).toBe('promoted');
        // On failure, show which colour failed requests and the steps, not just a count.
        expect({ failed: report.traffic.failed, failures: report.traffic.failures, byColour: report.traffic.byColour, steps: report.steps }).toEqual({
          failed: 0,
          failures: {},
          byColour: report.traffic.byColour,
          steps: report.steps,
        });
        expect(report.traffic.requests).toBeGreaterThan(1000);
        expect(report.traffic.byColour.green?.requests).toBeGreaterThan(100);
        expect(report.traffic.byColour.blue?.requests).toBeGreaterThan(100);
        expect(report.rollback).toBeNull();
      });

      it('moves traffic through every canary step in order and ends with green at 100%', () => {
        // Each step's weight in turn, never going backwards (a rewrite of the same weight is not a step).
        const steps = seen.greenWeights.filter((w, i, all) => w > 0 && w !== all[i - 1]);
        expect(steps).toEqual([10, 50, 100]);
        expect(seen.route).toEqual({ blue: 0, green: 100 });
        expect(report.finalWeights).toEqual({ blue: 0, green: 100 });
      });

      it('judges every step healthy on enough requests before moving on', () => {
        const lastVerdictAt = (weight: number) => report.steps.filter((s) => s.weight === weight).pop();
        for (const weight of [10, 50, 100]) {
          const step = lastVerdictAt(weight);
          expect(step).toMatchObject({ verdict: 'healthy', successRate: 1 });
          expect(step!.requests).toBeGreaterThanOrEqual(50); // health.minRequestsPerStep
        }
        expect(report.steps.map((s) => s.verdict)).not.toContain('unhealthy');
      });

      it('leaves green live on v2 in the SSM state document, with the release in its history', () => {
        const state = seen.state!;
        expect(state).not.toBeNull();
        expect(state.live).toBe('green');
        expect(state.colours.green).toMatchObject({ image: V2, version: 'v2' });
        expect(state.colours.green.taskDefinitionArn).toBe(seen.services.green.taskDefinition);
        expect(state.lastRelease).toMatchObject({
          id: report.releaseId,
          image: V2,
          outcome: 'promoted',
          fromColour: 'blue',
          toColour: 'green',
          failure: null,
        });
        expect(state.history.map((r) => [r.id, r.outcome])).toEqual([[report.releaseId, 'promoted']]);
      });

      it('runs v2 on green in a new task definition revision and scales blue down', () => {
        const { blue, green } = seen.services;
        expect(seen.greenImage).toBe(V2);
        // Blue still names its template revision (colorapp-blue-template); the release registered
        // green's in the release family, cloned from green's template.
        expect(familyOf(blue.taskDefinition)).toBe('colorapp-blue-template');
        expect(familyOf(green.taskDefinition)).toBe('colorapp');
        expect(revisionOf(green.taskDefinition)).toBeGreaterThanOrEqual(1);
        expect(green).toMatchObject({ desiredCount: 2, runningCount: 2 });
        expect(blue.desiredCount).toBe(0); // promotion.scaleDownDelaySeconds is 0 locally, keepOldColourWarm false
      });
    });
  });
}
