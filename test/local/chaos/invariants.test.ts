import { checkInvariants, INVARIANTS, type ReleaseFacts, type WorldObservation } from '../../../local/chaos/invariants';
import type { LockDocument, ReleaseState } from '../../../lambdas/shared/documents';

// Each invariant of `npm run chaos`, shown to hold on a clean world and to be reported on a world
// that breaks it. The worlds are built as a client reads them (see WorldReader).

const TD = (family: string, revision: number) => `arn:aws:ecs:eu-west-1:000000000000:task-definition/${family}:${revision}`;
const RELEASE_ID = 'chaos-7-3';

function state(overrides: Partial<ReleaseState> = {}): ReleaseState {
  return {
    schemaVersion: 1,
    service: 'colorapp',
    live: 'green',
    colours: {
      blue: { taskDefinitionArn: TD('colorapp', 4), image: 'colorapp:v3', version: 'v3' },
      green: { taskDefinitionArn: TD('colorapp', 5), image: 'colorapp:v4', version: 'v4' },
    },
    lastRelease: {
      id: RELEASE_ID,
      executionArn: `arn:aws:states:eu-west-1:000000000000:execution:colorapp-release:${RELEASE_ID}`,
      image: 'colorapp:v4',
      version: 'v4',
      outcome: 'promoted',
      startedAt: '2026-12-03T10:00:00Z',
      finishedAt: '2026-12-03T10:00:10Z',
      requestedBy: 'npm run chaos',
      reason: null,
      failure: null,
      verdicts: [],
    } as unknown as ReleaseState['lastRelease'],
    history: [],
    updatedAt: '2026-12-03T10:00:10Z',
    ...overrides,
  };
}

/** A world after `RELEASE_ID` promoted v4 to green: 0/100, blue scaled to zero, users get green/v4. */
function promotedWorld(overrides: Partial<WorldObservation> = {}): WorldObservation {
  return {
    weights: { blue: 0, green: 100 },
    state: state(),
    lock: null,
    services: {
      blue: { name: 'colorapp-blue', taskDefinition: TD('colorapp', 4), desiredCount: 0 },
      green: { name: 'colorapp-green', taskDefinition: TD('colorapp', 5), desiredCount: 2 },
    },
    keepOldColourWarm: false,
    served: Array.from({ length: 5 }, () => ({ status: 200, color: 'green', version: 'v4' })),
    ...overrides,
  };
}

const PROMOTED: ReleaseFacts = { releaseId: RELEASE_ID, version: 'v4', executionStatus: 'SUCCEEDED', rollbackFailureReports: [] };

function lock(status: LockDocument['status']): LockDocument {
  return {
    service: 'colorapp',
    releaseId: RELEASE_ID,
    executionArn: `arn:aws:states:eu-west-1:000000000000:execution:colorapp-release:${RELEASE_ID}`,
    status,
    reason: status === 'rollback-failed' ? 'UpdateService kept failing' : null,
  } as LockDocument;
}

const names = (observed: WorldObservation, facts: ReleaseFacts = PROMOTED) => checkInvariants(observed, facts).map((v) => v.invariant);

describe('checkInvariants', () => {
  it('passes a clean promoted world', () => {
    expect(checkInvariants(promotedWorld(), PROMOTED)).toEqual([]);
  });

  it('passes a clean rolled-back world: traffic and users on the old live colour, idle at zero', () => {
    const rolledBack = state({
      live: 'blue',
      colours: { blue: { taskDefinitionArn: TD('colorapp', 4), image: 'colorapp:v3', version: 'v3' }, green: { taskDefinitionArn: TD('colorapp', 2), image: 'colorapp:v2', version: 'v2' } },
      lastRelease: { ...state().lastRelease!, outcome: 'rolled-back' },
    });
    const world = promotedWorld({
      state: rolledBack,
      weights: { blue: 100, green: 0 },
      services: {
        blue: { name: 'colorapp-blue', taskDefinition: TD('colorapp', 4), desiredCount: 2 },
        green: { name: 'colorapp-green', taskDefinition: TD('colorapp', 5), desiredCount: 0 },
      },
      served: [{ status: 200, color: 'blue', version: 'v3' }],
    });
    expect(checkInvariants(world, { ...PROMOTED, executionStatus: 'FAILED', executionError: 'UnhealthyReleaseError' })).toEqual([]);
  });

  it('reports traffic that is not 100/0 on the live colour', () => {
    expect(names(promotedWorld({ weights: { blue: 50, green: 50 } }))).toContain(INVARIANTS.trafficOnLive);
    expect(names(promotedWorld({ weights: { problem: 'the rule is gone' } }))).toContain(INVARIANTS.trafficOnLive);
  });

  it('reports a lock still held after the release ended', () => {
    expect(names(promotedWorld({ lock: lock('held') }))).toContain(INVARIANTS.lockFree);
    expect(names(promotedWorld({ lock: lock('rolling-back') }))).toContain(INVARIANTS.lockFree);
  });

  it('accepts a rollback-failed lock that was reported, and reports one nobody reported', () => {
    const world = promotedWorld({ lock: lock('rollback-failed'), weights: { blue: 50, green: 50 } });
    expect(checkInvariants(world, { ...PROMOTED, rollbackFailureReports: ['the execution failed with RollbackFailedError'] })).toEqual([]);
    expect(names(world)).toEqual([INVARIANTS.lockFree]);
  });

  it('reports a live service running another revision than the state records', () => {
    const world = promotedWorld({
      services: { ...promotedWorld().services, green: { name: 'colorapp-green', taskDefinition: TD('colorapp', 6), desiredCount: 2 } },
    });
    expect(names(world)).toEqual([INVARIANTS.revisionsMatch]);
  });

  it('reports a warm idle service running another revision than the state records', () => {
    const world = promotedWorld({
      keepOldColourWarm: true,
      services: { ...promotedWorld().services, blue: { name: 'colorapp-blue', taskDefinition: TD('colorapp', 9), desiredCount: 2 } },
    });
    expect(names(world)).toEqual([INVARIANTS.revisionsMatch]);
  });

  it('reports an idle service that still wants tasks, unless kept warm', () => {
    const busy = { ...promotedWorld().services, blue: { name: 'colorapp-blue', taskDefinition: TD('colorapp', 4), desiredCount: 2 } };
    expect(names(promotedWorld({ services: busy }))).toEqual([INVARIANTS.idleEmpty]);
    expect(checkInvariants(promotedWorld({ services: busy, keepOldColourWarm: true }), PROMOTED)).toEqual([]);
  });

  it('accepts a busy idle service after a promotion whose scale-down failed and said so', () => {
    const busy = { ...promotedWorld().services, blue: { name: 'colorapp-blue', taskDefinition: TD('colorapp', 4), desiredCount: 2 } };
    expect(checkInvariants(promotedWorld({ services: busy }), { ...PROMOTED, executionStatus: 'FAILED', executionError: 'ScaleDownFailedError' })).toEqual([]);
  });

  it('reports a release recorded as promoted whose users still get the old version', () => {
    const old = Array.from({ length: 5 }, () => ({ status: 200, color: 'blue', version: 'v3' }));
    const violations = checkInvariants(promotedWorld({ served: old }), PROMOTED);
    expect(violations.map((v) => v.invariant)).toEqual([INVARIANTS.servesLive]);
    expect(violations[0].message).toMatch(/recorded as promoted/);
  });

  it('reports a gateway that answers nothing, or errors', () => {
    expect(names(promotedWorld({ served: [] }))).toEqual([INVARIANTS.servesLive]);
    expect(names(promotedWorld({ served: [{ status: 503 }] }))).toEqual([INVARIANTS.servesLive]);
  });
});
