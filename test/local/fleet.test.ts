// The fleet sample in the local world: `--services N` is checked before anything starts, and the
// N services are named and wired as the CDK app's fleet sample names and wires them
// (`sampleServiceSettings`; `ColorappCopyStack`: each copy its own listener, port 8000 + index,
// on colorapp's load balancer, with its own target groups and rules).
import { COLORAPP, alarmDefinitionsOf, localProfile } from '../../infra/colorapp-settings';
import { LocalElbv2 } from '../../local/services/elbv2';
import { seedAlb, type AlbTraffic } from '../../local/alb-sample';
import { LOCAL_SCOPE } from '../../local/backends';
import { InvalidServicesError, MAX_LOCAL_SERVICES, localFleetOf, sampleListenerPort, servicesOf, withServicesValueJoined } from '../../local/fleet';
import { validateServices } from '../../local/world';

describe('servicesOf (--services N)', () => {
  it.each([
    [undefined, 1],
    ['1', 1],
    ['3', 3],
    [String(MAX_LOCAL_SERVICES), MAX_LOCAL_SERVICES],
  ])('accepts %j as %d', (raw, count) => {
    expect(servicesOf(raw, 'alb')).toBe(count);
  });

  it.each(['0', '-1', '2.5', '1e1', '', ' ', 'three', String(MAX_LOCAL_SERVICES + 1), '0x3'])('refuses %j with an InvalidServicesError naming the range', (raw) => {
    let thrown: unknown;
    try {
      servicesOf(raw, 'alb');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidServicesError);
    expect(thrown).toMatchObject({ name: 'InvalidServicesError', message: `--services must be a whole number from 1 to ${MAX_LOCAL_SERVICES} (each service runs its own colorapp processes on this machine), got '${raw}'` });
  });

  it('refuses more than one service on App Mesh, as the CDK sample does, and accepts one', () => {
    expect(() => servicesOf('2', 'appmesh')).toThrow(InvalidServicesError);
    expect(() => servicesOf('2', 'appmesh')).toThrow('App Mesh (discontinued) runs one service only');
    expect(servicesOf('1', 'appmesh')).toBe(1);
  });
});

describe('withServicesValueJoined', () => {
  it('joins a negative value to --services, so the count check names it, and leaves everything else alone', () => {
    expect(withServicesValueJoined(['--services', '-1', '--rps', '5'])).toEqual(['--services=-1', '--rps', '5']);
    expect(withServicesValueJoined(['--services', '3', '--crash'])).toEqual(['--services', '3', '--crash']);
    expect(withServicesValueJoined(['--services', '--crash'])).toEqual(['--services', '--crash']);
    expect(withServicesValueJoined(['--rps', '-1'])).toEqual(['--rps', '-1']);
    expect(withServicesValueJoined(['--services'])).toEqual(['--services']);
  });
});

describe('localFleetOf', () => {
  const settings = localProfile(COLORAPP);
  const fleet = localFleetOf(settings, 3, 'alb', alarmDefinitionsOf);
  const alb = (traffic: unknown) => traffic as AlbTraffic;

  it('names the services and their resources as sampleServiceSettings does, colorapp first', () => {
    expect(fleet.map((m) => [m.index, m.config.service, m.config.ecsServices, m.config.taskDefinitionFamily, m.config.cluster])).toEqual([
      [1, 'colorapp', { blue: 'colorapp-blue', green: 'colorapp-green' }, 'colorapp', 'colorapp'],
      [2, 'colorapp-2', { blue: 'colorapp-2-blue', green: 'colorapp-2-green' }, 'colorapp-2', 'colorapp'],
      [3, 'colorapp-3', { blue: 'colorapp-3-blue', green: 'colorapp-3-green' }, 'colorapp-3', 'colorapp'],
    ]);
    expect(fleet[1].service.alarms.map((a) => a.alarmName)).toEqual([
      'colorapp-2-blue-success-rate',
      'colorapp-2-blue-p99-latency',
      'colorapp-2-green-success-rate',
      'colorapp-2-green-p99-latency',
    ]);
  });

  it('puts colorapp on listener port 80 and copy k on 8000 + k, on the one load balancer, with ARNs of their own', () => {
    expect([1, 2, 3, 10].map(sampleListenerPort)).toEqual([80, 8002, 8003, 8010]);
    expect(fleet.map((m) => m.service.listenerPort)).toEqual([80, 8002, 8003]);
    const traffics = fleet.map((m) => alb(m.config.traffic));
    const lbOf = (arn: string) => /listener\/(app\/[^/]+\/[^/]+)\//.exec(arn)?.[1];
    expect(new Set(traffics.map((t) => lbOf(t.listenerArn))).size).toBe(1);
    const arns = traffics.flatMap((t) => [t.listenerArn, t.rule, t.targetGroups.blue, t.targetGroups.green, t.testRules!.blue, t.testRules!.green]);
    expect(new Set(arns).size).toBe(arns.length);
  });

  it('can be seeded into one local ELBv2: one load balancer, a listener per service on its port, each rule forwarding to its own target groups', () => {
    const elbv2 = new LocalElbv2({ accountId: LOCAL_SCOPE.account, region: LOCAL_SCOPE.region, newId: () => nextIds.shift() ?? 'ffffffffffffffff' });
    const nextIds: string[] = [];
    for (const m of fleet) {
      seedAlb(elbv2, alb(m.config.traffic), LOCAL_SCOPE, { testHeader: 'x-release-color', deregistrationDelaySeconds: 2, nextIds, listenerPort: m.service.listenerPort });
    }
    expect(elbv2.describeLoadBalancers().LoadBalancers).toHaveLength(1);
    const listeners = elbv2.describeListeners({ LoadBalancerArn: elbv2.describeLoadBalancers().LoadBalancers[0].LoadBalancerArn }).Listeners;
    expect(listeners.map((l) => [l.ListenerArn, l.Port])).toEqual(fleet.map((m) => [alb(m.config.traffic).listenerArn, m.service.listenerPort]));
    for (const m of fleet) {
      const traffic = alb(m.config.traffic);
      expect(elbv2.weights(traffic.listenerArn, traffic.rule)).toEqual({ [traffic.targetGroups.blue]: 100, [traffic.targetGroups.green]: 0 });
    }
  });

  it('refuses a count servicesOf refuses', () => {
    expect(() => localFleetOf(settings, 0, 'alb', alarmDefinitionsOf)).toThrow(InvalidServicesError);
    expect(() => localFleetOf(settings, 2, 'appmesh', alarmDefinitionsOf)).toThrow(InvalidServicesError);
  });
});

describe('validateServices (the services one local world runs)', () => {
  const settings = localProfile(COLORAPP);
  const [first, second] = localFleetOf(settings, 2, 'alb', alarmDefinitionsOf).map((member) => member.service);

  it('accepts the fleet sample as localFleetOf builds it', () => {
    expect(() => validateServices([first, second])).not.toThrow();
  });

  it('refuses two services on one target group: their traffic and alarms would mix', () => {
    const traffic = second.config.traffic as Extract<typeof second.config.traffic, { kind: 'alb' }>;
    const firstTraffic = first.config.traffic as typeof traffic;
    const clash = { ...second, config: { ...second.config, traffic: { ...traffic, targetGroups: { ...traffic.targetGroups, green: firstTraffic.targetGroups.green } } } };
    expect(() => validateServices([first, clash])).toThrow(`Two services of the local world share the target group '${firstTraffic.targetGroups.green}'`);
  });

  it("refuses an alarm registered with another service than the one it is about", () => {
    const stray = { ...second, alarms: [{ ...second.alarms[0], service: 'colorapp' }] };
    expect(() => validateServices([first, stray])).toThrow(`Alarm '${second.alarms[0].alarmName}' is about service 'colorapp' but is registered with 'colorapp-2'`);
  });

  it('refuses a service in another cluster (the local world runs one)', () => {
    const elsewhere = { ...second, config: { ...second.config, cluster: 'other' } };
    expect(() => validateServices([first, elsewhere])).toThrow(`Every service of the local world runs in one cluster, '${first.config.cluster}'; 'colorapp-2' names 'other'`);
  });
});
