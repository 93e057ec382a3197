import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

/**
 * Runs cdk-nag's AWS Solutions rules over the whole app. A finding fails the synth unless the
 * construct it is on acknowledges it with a reason (`Validations.of(construct).acknowledge`),
 * next to the code that made the choice.
 */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
