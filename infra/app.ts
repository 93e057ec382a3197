import { App, RemovalPolicy } from 'aws-cdk-lib';
import { COLORAPP, MAX_SAMPLE_SERVICES, SAMPLE_TRAFFIC_KINDS, type SampleTrafficKind, sampleServiceSettings, settingsForTraffic } from './colorapp-settings';
import { addNagChecks } from './nag';
import { ColorappCopyStack } from './stacks/colorapp-copy-stack';
import { ColorappReleaseStack, registerSampleCopies } from './stacks/colorapp-release-stack';
import { ColorappServiceStack } from './stacks/colorapp-service-stack';

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  /**
   * How traffic reaches colorapp.
   * @default - the `traffic` context value (`cdk synth -c traffic=appmesh`), else 'alb'
   */
  readonly traffic?: SampleTrafficKind;
  /**
   * How many copies of colorapp (colorapp, colorapp-2, ...) run behind the sample's load balancer,
   * all registered with the one release engine.
   * @default - the `services` context value (`cdk synth -c services=3`), else 1
   */
  readonly services?: number;
}

/**
 * The number of sample services: the option, else the `services` context value, else 1.
 *
 * @throws Error for anything but a whole number from 1 to MAX_SAMPLE_SERVICES, or more than one on App Mesh.
 */
export function sampleServicesOf(app: App, traffic: SampleTrafficKind, options: BuildAppOptions = {}): number {
  const raw: unknown = options.services ?? app.node.tryGetContext('services') ?? 1;
  const count = typeof raw === 'string' ? Number(raw) : raw;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_SAMPLE_SERVICES) {
    throw new Error(`Unknown services '${String(raw)}': a whole number from 1 to ${MAX_SAMPLE_SERVICES} (cdk synth -c services=3)`);
  }
  if (count > 1 && traffic !== 'alb') {
    throw new Error(`services=${count} needs the load balancer sample: App Mesh (discontinued) runs one service only`);
  }
  return count;
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
export function buildApp(
  app: App,
  options: BuildAppOptions = {},
): { service: ColorappServiceStack; release: ColorappReleaseStack; copies: ColorappCopyStack[] } {
  const traffic = sampleTrafficOf(app, options);
  const count = sampleServicesOf(app, traffic, options);
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
  // The fleet sample: each copy in a stack of its own behind the same load balancer, registered
  // with the one engine. services=1 builds exactly the single-service sample.
  const copies = Array.from({ length: count - 1 }, (_, i) => {
    const index = i + 2;
    return new ColorappCopyStack(app, `ColorappService${index}`, {
      description: `colorapp-${index}: a copy of colorapp behind the sample's load balancer (fleet sample)`,
      main: service,
      settings: sampleServiceSettings(service.settings, index),
      index,
    });
  });
  registerSampleCopies(app, release, copies);
  addNagChecks(app);
  return { service, release, copies };
}

if (require.main === module) {
  const app = new App();
  buildApp(app);
  app.synth();
}
