/**
 * Contracts between the pieces of the local environment: the AWS endpoint (wire protocols),
 * the services behind it (SSM, ECS, Elastic Load Balancing v2, App Mesh, CloudWatch, Step
 * Functions), the gateways and the event bus. Each piece depends on these interfaces, not on the others' classes, so each can be
 * built and tested alone.
 */

import type { QueryOperationShapes } from './endpoint/query';

/**
 * An AWS-shaped error. The endpoint renders it the way the real service does: `__type`/`code`
 * for the JSON protocols, the status code and `x-amzn-ErrorType` for REST JSON, so SDK v3 and
 * the AWS CLI raise the same named exception they would against AWS.
 */
export class AwsServiceError extends Error {
  constructor(
    /** The error code, e.g. `ParameterNotFound`, `ServiceNotFoundException`, `NotFoundException`. */
    readonly code: string,
    message: string,
    /** HTTP status: 400 for client errors, 404 for REST not-found, 500 for service faults. */
    readonly statusCode = 400,
  ) {
    super(message);
    this.name = code;
  }
}

/** One API operation: the decoded request in, the response body out (JSON-serialisable). */
export type Operation = (input: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** A service reached through a JSON protocol (`X-Amz-Target: <targetPrefix>.<Operation>`). */
export interface JsonProtocolService {
  /** e.g. `AmazonSSM`, `AmazonEC2ContainerServiceV20141113`, `GraniteServiceVersion20100801`, `AWSStepFunctions`. */
  readonly targetPrefix: string;
  /** `application/x-amz-json-1.1` (ECS, SSM) or `1.0` (CloudWatch, Step Functions). */
  readonly jsonVersion: '1.0' | '1.1';
  readonly operations: Readonly<Record<string, Operation>>;
}

/** One operation of a Query-protocol service: its shapes (from the SDK model) and what answers it. */
export interface QueryOperation {
  readonly shapes: QueryOperationShapes;
  /** Gets the input decoded by `shapes.input`; its result is encoded by `shapes.output`. */
  readonly handler: Operation;
}

/**
 * A service reached through the AWS Query protocol (`POST /`, form-encoded `Action=...&Version=...`).
 * The endpoint picks the service by the request's `Version`, as each Query API has its own.
 */
export interface QueryProtocolService {
  /** The API version every request names, e.g. `2015-12-01` for Elastic Load Balancing v2. */
  readonly apiVersion: string;
  /** Namespace of every XML answer, e.g. `http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/`. */
  readonly xmlNamespace: string;
  /** Operations by action name. */
  readonly queryOperations: Readonly<Record<string, QueryOperation>>;
}

/** An EventBridge-shaped event, as rules deliver it to a Lambda target. */
export interface BusEvent {
  readonly version: '0';
  readonly id: string;
  readonly source: string;
  readonly 'detail-type': string;
  readonly account: string;
  readonly region: string;
  readonly time: string;
  readonly resources: string[];
  readonly detail: Record<string, unknown>;
}

/** The local event bus: CloudWatch alarm changes and execution status changes go through it. */
export interface EventBus {
  /**
   * Delivers `event` to every matching subscriber (asynchronously; errors are logged, not thrown).
   * `id` is the id PutEvents already answered with, when the publisher is an emulated PutEvents
   * call; otherwise the bus assigns one.
   */
  publish(event: Omit<BusEvent, 'version' | 'id' | 'account' | 'region' | 'time'> & { time?: string; id?: string }): void;
  /** Subscribes to events whose `source` and `detail-type` match. Returns an unsubscribe function. */
  subscribe(
    match: { source: string; detailType: string },
    target: (event: BusEvent) => Promise<unknown>,
  ): () => void;
}

/** One measurement, as the Envoy sidecar's StatsD would ship it to CloudWatch. */
export interface MetricSample {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestamp: Date;
}

/** Where the gateway writes its per-request statistics. */
export interface MetricSink {
  record(sample: MetricSample): void;
}

/** A running task's address, for the gateway. */
export interface TaskEndpoint {
  readonly taskId: string;
  readonly host: string;
  readonly port: number;
}

/** What the gateway needs from ECS: the healthy tasks of a service right now. */
export interface TaskEndpoints {
  healthyEndpoints(serviceName: string): TaskEndpoint[];
}

/** What the gateway needs from App Mesh: the current weighted targets of a route. */
export interface RouteWeights {
  /** Weights by virtual node name for the route, read on every request (routes change mid-release). */
  weights(meshName: string, virtualRouterName: string, routeName: string): Record<string, number>;
}

/**
 * A CloudWatch alarm the local CloudWatch evaluates every second, defined exactly as the CDK
 * app defines it (one source of truth for names, thresholds and periods).
 */
export interface AlarmDefinition {
  readonly alarmName: string;
  readonly service: string;
  readonly colour: 'blue' | 'green';
  /** `success-rate`: non-5xx / total below threshold (0..1). `p99-latency`: p99 in ms above threshold. */
  readonly kind: 'success-rate' | 'p99-latency';
  readonly threshold: number;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly treatMissingData: 'notBreaching' | 'breaching' | 'ignore' | 'missing';
}
