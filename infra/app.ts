import { App, RemovalPolicy } from 'aws-cdk-lib';
import { COLORAPP } from './colorapp-settings';
import { addNagChecks } from './nag';
import { ColorappReleaseStack } from './stacks/colorapp-release-stack';
import { ColorappServiceStack } from './stacks/colorapp-service-stack';

/**
 * The sample: colorapp on ECS behind App Mesh, and its release pipeline. Both stacks are
 * environment-agnostic, so `cdk synth` needs no credentials; `cdk deploy` deploys to the
 * account and region of your credentials.
 */
export function buildApp(app: App): { service: ColorappServiceStack; release: ColorappReleaseStack } {
  // A sample should leave nothing behind on `cdk destroy`.
  const removalPolicy = RemovalPolicy.DESTROY;
  const service = new ColorappServiceStack(app, 'ColorappService', {
    description: 'colorapp: a blue/green sample service on ECS Fargate behind App Mesh',
    // The one source of names and release settings; the local environment runs with the same.
    settings: COLORAPP,
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
