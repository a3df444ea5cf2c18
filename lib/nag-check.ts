/**
 * cdk-nag's AwsSolutions pack on a whole app (a development dependency: the construct
 * package does not ship this module). The acknowledged findings are in lib/nag-suppressions.ts.
 */
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

/** Runs cdk-nag's AwsSolutions pack when `app` synthesizes; an unacknowledged finding fails the synth. */
export function checkWithCdkNag(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
