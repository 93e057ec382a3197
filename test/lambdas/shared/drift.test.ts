import { findDrift, type DriftObservation } from '../../../lambdas/shared/drift';

/** Between releases as the state says it should be: blue live 100/0 on revision 7, green at zero. */
function observed(overrides: Partial<DriftObservation> = {}): DriftObservation {
  return {
    live: 'blue',
    route: { weights: { live: 100, idle: 0 }, describe: 'alb:rule' },
    idleService: { name: 'colorapp-green', desiredCount: 0 },
    keepOldColourWarm: false,
    liveService: { name: 'colorapp-blue', taskDefinitionArn: 'td:7' },
    recordedLiveTaskDefinitionArn: 'td:7',
    ...overrides,
  };
}

describe('findDrift', () => {
  it.each<[string, Partial<DriftObservation>, string[]]>([
    ['nothing when everything matches the state', {}, []],
    ['a split route', { route: { weights: { live: 90, idle: 10 }, describe: 'alb:rule' } }, ['route']],
    ['all traffic on the idle colour', { route: { weights: { live: 0, idle: 100 }, describe: 'alb:rule' } }, ['route']],
    ['a route that cannot be read as the two colours', { route: { problem: 'alb:rule forwards to a third group' } }, ['route']],
    ['an idle colour with tasks', { idleService: { name: 'colorapp-green', desiredCount: 1 } }, ['idle-running']],
    ['nothing for a warm idle colour that is meant to stay warm', { idleService: { name: 'colorapp-green', desiredCount: 3 }, keepOldColourWarm: true }, []],
    ['a live colour on another revision', { liveService: { name: 'colorapp-blue', taskDefinitionArn: 'td:9' } }, ['live-revision']],
    ['nothing about the revision when the state records none', { liveService: { name: 'colorapp-blue', taskDefinitionArn: 'td:9' }, recordedLiveTaskDefinitionArn: null }, []],
    [
      'every difference at once, route first',
      { route: { weights: { live: 50, idle: 50 }, describe: 'alb:rule' }, idleService: { name: 'colorapp-green', desiredCount: 2 }, liveService: { name: 'colorapp-blue', taskDefinitionArn: undefined } },
      ['route', 'idle-running', 'live-revision'],
    ],
  ])('finds %s', (_case, overrides, kinds) => {
    expect(findDrift(observed(overrides)).map((finding) => finding.kind)).toEqual(kinds);
  });

  it('names the route, both weights and what to do', () => {
    const [finding] = findDrift(observed({ route: { weights: { live: 90, idle: 10 }, describe: 'alb:rule' } }));
    expect(finding.message).toBe(
      'alb:rule sends blue 90 / green 10 with no release running; the state says blue is live, so it should be 100/0. ' +
        'Find out who changed it, then restore it or release again.',
    );
  });
});
