import { AppMeshClient, DescribeRouteCommand } from '@aws-sdk/client-app-mesh';
import { DescribeRulesCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { TrafficConfig } from '../../../../lambdas/shared/config';
import { ValidationError } from '../../../../lambdas/shared/errors';
import { AlbTrafficRouter } from '../../../../lambdas/shared/traffic/alb-router';
import { AppMeshRouter } from '../../../../lambdas/shared/traffic/appmesh-router';
import { createTrafficRouter } from '../../../../lambdas/shared/traffic/create-traffic-router';
import { albConfig, describeRulesOutput, productionActions, rule } from '../../../support/alb-fixtures';
import { appMeshConfig, describeRouteOutput, routeSpecs } from '../../../support/traffic-fixtures';

const colours = { live: 'blue', idle: 'green' } as const;

describe('createTrafficRouter', () => {
  it('builds an AppMeshRouter for kind appmesh', () => {
    const router = createTrafficRouter(appMeshConfig, colours);

    expect(router).toBeInstanceOf(AppMeshRouter);
    expect(router.describe()).toBe('appmesh:colorapp-mesh/colorapp-router/colorapp-route');
  });

  it('uses the App Mesh client it is given', async () => {
    const client = new AppMeshClient({});
    const mock = mockClient(client);
    mock
      .on(DescribeRouteCommand)
      .resolves(describeRouteOutput(routeSpecs([{ virtualNode: 'colorapp-blue', weight: 100 }]).httpRoute));

    await expect(createTrafficRouter(appMeshConfig, colours, { appmesh: client }).getWeights()).resolves.toEqual({
      live: 100,
      idle: 0,
    });
    expect(mock).toHaveReceivedCommandTimes(DescribeRouteCommand, 1);
    mock.restore();
  });

  it('builds an AlbTrafficRouter for kind alb', () => {
    const router = createTrafficRouter(albConfig, colours);

    expect(router).toBeInstanceOf(AlbTrafficRouter);
    expect(router.describe()).toBe('alb:listener-rule/app/colorapp/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee');
  });

  it('uses the ELBv2 client it is given', async () => {
    const client = new ElasticLoadBalancingV2Client({});
    const mock = mockClient(client);
    mock.on(DescribeRulesCommand).resolves(describeRulesOutput(rule(productionActions(100, 0))));

    await expect(createTrafficRouter(albConfig, colours, { elbv2: client }).getWeights()).resolves.toEqual({ live: 100, idle: 0 });
    expect(mock).toHaveReceivedCommandTimes(DescribeRulesCommand, 1);
    mock.restore();
  });

  it('fails fast with a ValidationError naming an unknown kind', () => {
    const config = { kind: 'nlb', listenerArn: 'arn:aws:elasticloadbalancing:x' } as unknown as TrafficConfig;

    expect(() => createTrafficRouter(config, colours)).toThrow(ValidationError);
    expect(() => createTrafficRouter(config, colours)).toThrow(/Unknown traffic kind 'nlb'/);
  });

  it('creates the default App Mesh client on first use, once per process', async () => {
    await jest.isolateModulesAsync(async () => {
      let constructed = 0;
      jest.doMock('@aws-sdk/client-app-mesh', () => {
        const actual = jest.requireActual<typeof import('@aws-sdk/client-app-mesh')>('@aws-sdk/client-app-mesh');
        class CountingAppMeshClient extends actual.AppMeshClient {
          constructor(...args: ConstructorParameters<typeof actual.AppMeshClient>) {
            super(...args);
            constructed += 1;
          }
        }
        return { ...actual, AppMeshClient: CountingAppMeshClient };
      });
      const factory = await import('../../../../lambdas/shared/traffic/create-traffic-router');
      expect(constructed).toBe(0);

      factory.createTrafficRouter(appMeshConfig, colours);
      factory.createTrafficRouter(appMeshConfig, { live: 'green', idle: 'blue' });

      expect(constructed).toBe(1);
    });
  });

  it('creates the default ELBv2 client on first use, once per process, and no App Mesh client for ALB', async () => {
    await jest.isolateModulesAsync(async () => {
      const constructed = { elbv2: 0, appmesh: 0 };
      jest.doMock('@aws-sdk/client-elastic-load-balancing-v2', () => {
        const actual = jest.requireActual<typeof import('@aws-sdk/client-elastic-load-balancing-v2')>('@aws-sdk/client-elastic-load-balancing-v2');
        class CountingElbv2Client extends actual.ElasticLoadBalancingV2Client {
          constructor(...args: ConstructorParameters<typeof actual.ElasticLoadBalancingV2Client>) {
            super(...args);
            constructed.elbv2 += 1;
          }
        }
        return { ...actual, ElasticLoadBalancingV2Client: CountingElbv2Client };
      });
      jest.doMock('@aws-sdk/client-app-mesh', () => {
        const actual = jest.requireActual<typeof import('@aws-sdk/client-app-mesh')>('@aws-sdk/client-app-mesh');
        class CountingAppMeshClient extends actual.AppMeshClient {
          constructor(...args: ConstructorParameters<typeof actual.AppMeshClient>) {
            super(...args);
            constructed.appmesh += 1;
          }
        }
        return { ...actual, AppMeshClient: CountingAppMeshClient };
      });
      const factory = await import('../../../../lambdas/shared/traffic/create-traffic-router');
      expect(constructed).toEqual({ elbv2: 0, appmesh: 0 });

      factory.createTrafficRouter(albConfig, colours);
      factory.createTrafficRouter(albConfig, { live: 'green', idle: 'blue' });

      expect(constructed).toEqual({ elbv2: 1, appmesh: 0 });
    });
  });
});
