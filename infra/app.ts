import { App, RemovalPolicy } from 'aws-cdk-lib';
import { COLORAPP, SAMPLE_TRAFFIC_KINDS, type SampleTrafficKind, settingsForTraffic } from './colorapp-settings';
import { addNagChecks } from './nag';
import { ColorappReleaseStack } from './stacks/colorapp-release-stack';
import { ColorappServiceStack } from './stacks/colorapp-service-stack';

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  /**
   * How traffic reaches colorapp.
   * @default - the `traffic` context value (`cdk synth -c traffic=appmesh`), else 'alb'
   */
  readonly traffic?: SampleTrafficKind;
}

/**
 * The traffic backend of the sample: the option, else the `traffic` context value, else `alb`.
 * App Mesh was discontinued on 2026-09-30, so the load balancer is the default.
 *
 * @throws Error for any other value, naming the allowed ones.
 */
export function sampleTrafficOf(app: App, options: BuildAppOptions = {}): SampleTrafficKind {
  const value: unknown = options.traffic ?? app.node.tryGetContext('traffic') ?? 'alb';
  if (!(SAMPLE_TRAFFIC_KINDS as readonly unknown[]).includes(value)) {
    throw new Error(`Unknown traffic '${String(value)}': use one of ${SAMPLE_TRAFFIC_KINDS.join(', ')} (cdk synth -c traffic=alb)`);
  }
  return value as SampleTrafficKind;
}

/**
 * The sample: colorapp on ECS behind an Application Load Balancer (or, with
 * `-c traffic=appmesh`, behind App Mesh), and its release pipeline. Both stacks are
 * environment-agnostic, so `cdk synth` needs no credentials; `cdk deploy` deploys to the
 * account and region of your credentials.
 */
export function buildApp(app: App, options: BuildAppOptions = {}): { service: ColorappServiceStack; release: ColorappReleaseStack } {
  const traffic = sampleTrafficOf(app, options);
  // A sample should leave nothing behind on `cdk destroy`.
  const removalPolicy = RemovalPolicy.DESTROY;
  const service = new ColorappServiceStack(app, 'ColorappService', {
    description:
      traffic === 'alb'
        ? 'colorapp: a blue/green sample service on ECS Fargate behind an Application Load Balancer'
        : 'colorapp: a blue/green sample service on ECS Fargate behind App Mesh (discontinued on 2026-09-30)',
    traffic,
    // The one source of names and release settings; the local environment runs with the same
    // (its App Mesh variant). The ALB variant reads 60-second metrics, see settingsForTraffic.
    settings: settingsForTraffic(COLORAPP, traffic),
    removalPolicy,
  });
  const release = new ColorappReleaseStack(app, 'ColorappRelease', {
    description: 'Blue/green and canary release pipeline of colorapp (Step Functions + Lambda)',
    service,
    removalPolicy,
  });
  addNagChecks(app);
  return { service, release };
}

if (require.main === module) {
  const app = new App();
  buildApp(app);
  app.synth();
}
