/**
 * The chaos plan turned into the local world's fault hooks: the endpoint answers some calls badly,
 * a handler crashes, a status event is lost. The hooks act only while a release is "current"
 * ({@link ChaosFaults.begin} … {@link ChaosFaults.end}), so the invariant checks after each release
 * read a world that answers normally. Every fault that actually fires is counted.
 */
import type { BusEvent } from '../contracts';
import { AwsServiceError } from '../contracts';
import type { LambdaHandler } from '../asl/lambda';
import type { EndpointCall, EndpointFault } from '../endpoint/server';
import { ELBV2_API_VERSION } from '../services/elbv2';
import { EXECUTION_STATUS_CHANGE } from '../services/stepfunctions';
import type { LocalWorldFaults } from '../world';
import { endpointFaultOf, hash32, mulberry32, type ChaosPlan, type ChaosService, type EndpointFaultKind, type ReleaseFaultPlan } from './plan';

/** The local endpoint's services (JSON target prefix, Query API version, REST) by the plan's names. */
export const SERVICE_OF_CALL: Readonly<Record<string, ChaosService>> = {
  AmazonSSM: 'ssm',
  AmazonEC2ContainerServiceV20141113: 'ecs',
  GraniteServiceVersion20100801: 'cloudwatch',
  AWSStepFunctions: 'stepfunctions',
  [ELBV2_API_VERSION]: 'elbv2',
  appmesh: 'appmesh',
};

/**
 * The error AWS answers for a throttled, failed or unavailable call, per service, as its wire
 * protocol carries it (sources in test/local/chaos/faults.test.ts):
 * - JSON protocols (SSM, ECS, Step Functions): `ThrottlingException` 400, `InternalFailure` 500,
 *   `ServiceUnavailable` 503 (the "Common Errors" of the AWS API references).
 * - CloudWatch: its Query-era code `Throttling` 400 (it is query-compatible: the endpoint also sends
 *   `x-amzn-query-error: Throttling;Sender`, from which the SDK takes the code).
 * - Elastic Load Balancing v2 (Query): `Throttling` 400 (`<Type>Sender</Type>`, "Rate exceeded").
 * - App Mesh (REST JSON): its modelled `TooManyRequestsException` 429,
 *   `InternalServerErrorException` 500, `ServiceUnavailableException` 503.
 */
export function awsErrorFor(kind: 'throttle' | 'internal-error' | 'unavailable', service: ChaosService, operation: string): AwsServiceError {
  const what = `${operation} (injected by npm run chaos)`;
  if (service === 'appmesh') {
    if (kind === 'throttle') return new AwsServiceError('TooManyRequestsException', `Rate exceeded: ${what}`, 429);
    if (kind === 'internal-error') return new AwsServiceError('InternalServerErrorException', `The request processing has failed: ${what}`, 500);
    return new AwsServiceError('ServiceUnavailableException', `The request has failed due to a temporary failure of the service: ${what}`, 503);
  }
  if (kind === 'throttle') {
    return new AwsServiceError(service === 'elbv2' || service === 'cloudwatch' ? 'Throttling' : 'ThrottlingException', `Rate exceeded: ${what}`, 400);
  }
  if (kind === 'internal-error') return new AwsServiceError('InternalFailure', `The request processing has failed because of an unknown error: ${what}`, 500);
  return new AwsServiceError('ServiceUnavailable', `The request has failed due to a temporary failure of the server: ${what}`, 503);
}

/** What fired, by kind. */
export interface InjectedCounts {
  readonly endpoint: Record<EndpointFaultKind, number>;
  crash: number;
  stop: number;
  dropStatusEvent: number;
  badVersion: number;
}

/** The error a crashing handler throws: untyped (`name` is `Error`), as a bug would be. */
export function crashError(handler: string, when: 'before' | 'after'): Error {
  return new Error(`chaos: ${handler} crashed ${when} doing its work`);
}

/**
 * Fault hooks for one chaos run. Give {@link hooks} to the world; call {@link begin} when a
 * release starts and {@link end} when it is over.
 */
export class ChaosFaults {
  readonly counts: InjectedCounts = {
    endpoint: { throttle: 0, 'internal-error': 0, unavailable: 0, slow: 0, 'drop-before': 0, 'drop-after': 0 },
    crash: 0,
    stop: 0,
    dropStatusEvent: 0,
    badVersion: 0,
  };
  private current: ReleaseFaultPlan | null = null;
  private executionArn: string | null = null;
  private crashed = false;
  private readonly ordinals = new Map<string, number>();

  constructor(private readonly plan: ChaosPlan) {}

  /** Faults of `release` are on from now; `executionArn` is the execution whose status event may be lost. */
  begin(release: ReleaseFaultPlan, executionArn: string): void {
    this.current = release;
    this.executionArn = executionArn;
    this.crashed = false;
    this.ordinals.clear();
    if (release.version !== 'healthy') this.counts.badVersion++;
  }

  /** No faults from now on (the invariant checks read a healthy world). */
  end(): void {
    this.current = null;
  }

  /** Counts a StopExecution the runner sent. */
  countStop(): void {
    this.counts.stop++;
  }

  /** Every fault that fired so far. */
  total(): number {
    const endpoint = Object.values(this.counts.endpoint).reduce((a, b) => a + b, 0);
    return endpoint + this.counts.crash + this.counts.stop + this.counts.dropStatusEvent + this.counts.badVersion;
  }

  /** The world's hooks. */
  hooks(): LocalWorldFaults {
    return {
      endpoint: (call) => this.endpointFault(call),
      dropEvent: (event) => this.dropEvent(event),
      wrapHandler: (file, handler) => this.wrap(file, handler),
    };
  }

  private endpointFault(call: EndpointCall): EndpointFault | undefined {
    const release = this.current;
    const service = SERVICE_OF_CALL[call.service];
    if (!release || !service) return undefined;
    const key = `${service}/${call.operation}`;
    const ordinal = (this.ordinals.get(key) ?? 0) + 1;
    this.ordinals.set(key, ordinal);
    const kind = endpointFaultOf(this.plan, release, { service, operation: call.operation, ordinal });
    if (!kind) return undefined;
    this.counts.endpoint[kind]++;
    switch (kind) {
      case 'throttle':
      case 'internal-error':
      case 'unavailable':
        return { kind: 'error', error: awsErrorFor(kind, service, call.operation) };
      case 'slow':
        // 0.2-1.5 s: slow enough to overlap other calls, short of every task's timeout.
        return { kind: 'delay', ms: Math.round(200 + 1300 * mulberry32(hash32(`${this.plan.seed}/${release.index}/${key}/${ordinal}/delay`))()) };
      case 'drop-before':
        return { kind: 'drop', when: 'before' };
      case 'drop-after':
        return { kind: 'drop', when: 'after' };
    }
  }

  private dropEvent(event: BusEvent): boolean {
    const release = this.current;
    if (!release?.dropStatusEvent || event.source !== 'aws.states' || event['detail-type'] !== EXECUTION_STATUS_CHANGE) return false;
    const detail = event.detail as { executionArn?: string; status?: string };
    if (detail.executionArn !== this.executionArn || detail.status === 'RUNNING') return false;
    this.counts.dropStatusEvent++;
    return true;
  }

  private wrap(file: string, handler: LambdaHandler): LambdaHandler {
    return async (event) => {
      const crash = this.current?.crash;
      if (!crash || crash.handler !== file || this.crashed) return handler(event);
      // Once per release: the state machine's retries and the rollback then run for real.
      this.crashed = true;
      this.counts.crash++;
      if (crash.when === 'after') await handler(event);
      throw crashError(file, crash.when);
    };
  }
}
