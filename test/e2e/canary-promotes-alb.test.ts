// A healthy canary release, end to end, on ALB weighted target groups (the default backend).
import { describeCanaryPromotes } from './support/canary-promotes';

describeCanaryPromotes('alb');
