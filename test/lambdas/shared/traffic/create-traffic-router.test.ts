import { AppMeshClient, DescribeRouteCommand } from '@aws-sdk/client-app-mesh';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { TrafficConfig } from '../../../../lambdas/shared/config';
import { ValidationError } from '../../../../lambdas/shared/errors';
import { AppMeshRouter } from '../../../../lambdas/shared/traffic/appmesh-router';
import { createTrafficRouter } from '../../../../lambdas/shared/traffic/create-traffic-router';
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
});
