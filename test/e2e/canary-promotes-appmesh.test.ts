// A healthy canary release, end to end, on App Mesh (the one App Mesh e2e suite; the others run
// on ALB only, to keep `npm test` within its budget).
import { describeCanaryPromotes } from './support/canary-promotes';

describeCanaryPromotes('appmesh');
