import * as path from 'node:path';
import { SdkCallScanner } from './support/sdk-calls';

/**
 * The scanner behind "IAM matches the code" (app.test.ts): it must see what a handler can call,
 * not what the modules it imports could call, and it must never miss a call the handler makes.
 */
describe('SdkCallScanner', () => {
  const FIXTURES = ['reads-documents', 'writes-documents', 'updates-lock', 'reads-route', 'shifts-route', 'reads-listener-rule'];
  const fixture = (name: string) => path.join(__dirname, 'support', 'fixtures', `${name}.ts`);
  let scanner: SdkCallScanner;

  beforeAll(() => {
    scanner = new SdkCallScanner(FIXTURES.map(fixture));
  }, 60_000);

  const actionsOf = (name: string) => [...scanner.actionsOf(fixture(name))].sort();

  it('sees only ssm:GetParameter in a handler that reads through a module that can also write', () => {
    expect(actionsOf('reads-documents')).toEqual(['ssm:GetParameter']);
  });

  it('sees ssm:PutParameter as soon as that handler writes, even from a helper function', () => {
    expect(actionsOf('writes-documents')).toEqual(['ssm:GetParameter', 'ssm:PutParameter']);
  });

  it('follows a method through the fields of its class, and not into the methods the handler never calls', () => {
    // ReleaseLock.update reads and writes; acquire (DescribeExecution) and release (DeleteParameter) are not reached.
    expect(actionsOf('updates-lock')).toEqual(['ssm:GetParameter', 'ssm:PutParameter']);
  });

  it('follows a call through an interface (TrafficRouter) to the class the code instantiates (AppMeshRouter)', () => {
    // App Mesh's part only: the router factory also instantiates the other backends' routers,
    // whose calls the scanner counts too (it does not evaluate the factory's switch).
    const appMesh = (actions: string[]) => actions.filter((a) => a.startsWith('appmesh:'));
    expect(appMesh(actionsOf('reads-route'))).toEqual(['appmesh:DescribeRoute']);
    expect(appMesh(actionsOf('shifts-route'))).toEqual(['appmesh:DescribeRoute', 'appmesh:UpdateRoute']);
  });

  it('names Elastic Load Balancing v2 calls with their IAM prefix, elasticloadbalancing', () => {
    expect(actionsOf('reads-listener-rule')).toEqual(['elasticloadbalancing:DescribeRules', 'elasticloadbalancing:DescribeTargetHealth']);
  });

  it('refuses a file it was not built for', () => {
    expect(() => scanner.actionsOf(path.join(__dirname, 'app.test.ts'))).toThrow(/not part of the scanned program/);
  });
});
