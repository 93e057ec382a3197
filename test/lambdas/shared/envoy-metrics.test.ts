import {
  colourDimensions,
  colourDimensionsMap,
  CONTRACT_DIMENSION_SETS,
  ENVOY_METRICS,
} from '../../../lambdas/shared/envoy-metrics';

describe('the Envoy metric contract', () => {
  it("picks one colour's ingress listener, so Envoy's admin and egress requests never count", () => {
    expect(colourDimensionsMap('colorapp', 'green')).toStrictEqual({
      Service: 'colorapp',
      Color: 'green',
      'envoy.http_conn_manager_prefix': 'ingress',
    });
  });

  it('gives the same dimensions as a CloudWatch dimension list, in the same order', () => {
    expect(colourDimensions('colorapp', 'blue')).toStrictEqual([
      { Name: 'Service', Value: 'colorapp' },
      { Name: 'Color', Value: 'blue' },
      { Name: 'envoy.http_conn_manager_prefix', Value: 'ingress' },
    ]);
  });

  it('publishes exactly the dimension sets the queries use: by colour, and by colour and response class', () => {
    const colour = Object.keys(colourDimensionsMap('colorapp', 'blue'));
    expect(CONTRACT_DIMENSION_SETS).toStrictEqual([colour, [...colour, ENVOY_METRICS.responseClassDimension]]);
  });
});
