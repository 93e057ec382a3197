import { CHAOS_SERVICES, ChaosPlanError, endpointFaultOf, mulberry32, planChaos } from '../../../local/chaos/plan';

// The chaos plan is a pure function of its seed: a run that found a violation is replayed with its seed.

describe('mulberry32', () => {
  it('gives the same sequence for the same seed and another for another seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const first = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(first);
    expect([c(), c(), c()]).not.toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

describe('planChaos', () => {
  it('gives the same plan for the same seed', () => {
    expect(planChaos(7, 20)).toEqual(planChaos(7, 20));
    expect(planChaos(7, 20)).not.toEqual(planChaos(8, 20));
  });

  it('keeps a release plan the same whatever the number of releases after it', () => {
    expect(planChaos(7, 5).releases).toEqual(planChaos(7, 20).releases.slice(0, 5));
  });

  it('respects the fractions over many releases', () => {
    const n = 4000;
    const { releases } = planChaos(123, n, { endpoint: 0.5, crash: 0.2, stop: 0.1, dropStatusEvent: 0.3, faultyVersion: 0.2, slowVersion: 0.1, crashingVersion: 0.05 });
    const share = (pred: (r: (typeof releases)[number]) => boolean) => releases.filter(pred).length / n;
    expect(share((r) => r.endpoint !== null)).toBeCloseTo(0.5, 1);
    expect(share((r) => r.crash !== null)).toBeCloseTo(0.2, 1);
    expect(share((r) => r.stopAfterMs !== null)).toBeCloseTo(0.1, 1);
    expect(share((r) => r.dropStatusEvent)).toBeCloseTo(0.3, 1);
    expect(share((r) => r.version === 'faulty')).toBeCloseTo(0.2, 1);
    expect(share((r) => r.version === 'slow')).toBeCloseTo(0.1, 1);
    expect(share((r) => r.version === 'crash')).toBeCloseTo(0.05, 1);
  });

  it('plans no fault when every fraction is 0', () => {
    const none = { endpoint: 0, crash: 0, stop: 0, dropStatusEvent: 0, faultyVersion: 0, slowVersion: 0, crashingVersion: 0 };
    for (const r of planChaos(1, 50, none).releases) {
      expect(r).toMatchObject({ version: 'healthy', endpoint: null, crash: null, stopAfterMs: null, dropStatusEvent: false });
    }
  });

  it('numbers the images after v1, which runs at the start', () => {
    expect(planChaos(1, 3).releases.map((r) => r.image)).toEqual(['colorapp:v2', 'colorapp:v3', 'colorapp:v4']);
  });

  it.each([
    [-1, 3, /seed/],
    [1.5, 3, /seed/],
    [1, 0, /number of releases/],
  ])('refuses seed %p with %p releases, naming the problem', (seed, releases, message) => {
    expect(() => planChaos(seed, releases)).toThrow(ChaosPlanError);
    expect(() => planChaos(seed, releases)).toThrow(message);
  });

  it('refuses a fraction outside 0..1', () => {
    expect(() => planChaos(1, 1, { crash: 1.5 })).toThrow(/crash/);
  });
});

describe('endpointFaultOf', () => {
  const plan = planChaos(9, 1, { endpoint: 1, maxEndpointRate: 0.12 });
  const release = { ...plan.releases[0], endpoint: { rate: 0.1, services: CHAOS_SERVICES } };

  it('is the same for the same call, whatever else was called', () => {
    const call = { service: 'ssm' as const, operation: 'GetParameter', ordinal: 3 };
    expect(endpointFaultOf(plan, release, call)).toBe(endpointFaultOf(plan, release, call));
  });

  it('fails about the planned share of calls', () => {
    let faults = 0;
    for (let ordinal = 1; ordinal <= 5000; ordinal++) {
      if (endpointFaultOf(plan, release, { service: 'ecs', operation: 'DescribeServices', ordinal })) faults++;
    }
    expect(faults / 5000).toBeCloseTo(0.1, 1);
  });

  it('leaves services the plan does not name alone', () => {
    const onlySsm = { ...release, endpoint: { rate: 1, services: ['ssm' as const] } };
    expect(endpointFaultOf(plan, onlySsm, { service: 'ecs', operation: 'DescribeServices', ordinal: 1 })).toBeNull();
    expect(endpointFaultOf(plan, onlySsm, { service: 'ssm', operation: 'GetParameter', ordinal: 1 })).not.toBeNull();
  });
});
