/**
 * The pipeline's drift-event publisher (`infra/constructs/drift-event-publisher.ts`) as the local
 * world runs it: an Express state machine whose one state is an EventBridge PutEvents of its input
 * as the `detail` of a `Release Drift Detected` event (source `ecs-release`), its result discarded,
 * so the execution's output is its input. The reconciler starts it with StartSyncExecution.
 *
 * Only StartSyncExecution is served: it is the only call the pipeline makes on it, and AWS answers
 * it for Express state machines only (the release state machine, a standard one, gets
 * `StateMachineTypeNotSupported`, as in AWS).
 */
import { randomUUID } from 'node:crypto';
import { RELEASE_EVENT_SOURCE, RELEASE_EVENT_TYPES } from '../../infra/release-event-schema';
import { AwsServiceError, type EventBus } from '../contracts';

/** Properties of {@link LocalDriftEventPublisher}. */
export interface LocalDriftEventPublisherProps {
  /** The state machine's name, e.g. `colorapp-drift-events`. */
  readonly stateMachineName: string;
  readonly region: string;
  readonly account: string;
  /** Where the drift events go (the default bus). */
  readonly bus: EventBus;
  /** ARNs of standard state machines this endpoint knows: StartSyncExecution on them is refused as AWS refuses it. */
  readonly standardStateMachineArns: readonly string[];
}

/**
 * StartSyncExecution of the drift-event publisher.
 *
 * @example
 * const drift = new LocalDriftEventPublisher({ stateMachineName: 'colorapp-drift-events', region, account, bus, standardStateMachineArns: [releaseArn] });
 * const out = await drift.startSyncExecution({ stateMachineArn: drift.stateMachineArn, input: JSON.stringify(detail) }); // status SUCCEEDED
 */
export class LocalDriftEventPublisher {
  readonly stateMachineArn: string;
  private readonly props: LocalDriftEventPublisherProps;

  constructor(props: LocalDriftEventPublisherProps) {
    this.props = props;
    this.stateMachineArn = `arn:aws:states:${props.region}:${props.account}:stateMachine:${props.stateMachineName}`;
  }

  /** StartSyncExecution: publishes the event and answers as a SUCCEEDED synchronous execution. */
  async startSyncExecution(input: Record<string, unknown>): Promise<Record<string, unknown>> {
    const arn = input.stateMachineArn;
    if (typeof arn !== 'string' || arn.length === 0) {
      throw new AwsServiceError('ValidationException', "1 validation error detected: Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null");
    }
    if (this.props.standardStateMachineArns.includes(arn)) {
      throw new AwsServiceError('StateMachineTypeNotSupported', 'This operation is not supported by this type of state machine');
    }
    if (arn !== this.stateMachineArn) throw new AwsServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    const inputText = typeof input.input === 'string' ? input.input : '{}';
    let detail: unknown;
    try {
      detail = JSON.parse(inputText);
    } catch (error) {
      throw new AwsServiceError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${(error as Error).message}'`);
    }
    const name = typeof input.name === 'string' ? input.name : randomUUID();
    const executionArn = `arn:aws:states:${this.props.region}:${this.props.account}:express:${this.props.stateMachineName}:${name}:${randomUUID()}`;
    const startDate = Date.now() / 1000;
    // The Step Functions PutEvents integration appends the execution's and the state machine's ARNs to `resources`.
    this.props.bus.publish({
      source: RELEASE_EVENT_SOURCE,
      'detail-type': RELEASE_EVENT_TYPES.driftDetected,
      resources: [executionArn, this.stateMachineArn],
      detail: detail as Record<string, unknown>,
    });
    return {
      executionArn,
      stateMachineArn: this.stateMachineArn,
      name,
      startDate,
      stopDate: Date.now() / 1000,
      status: 'SUCCEEDED',
      input: inputText,
      inputDetails: { included: true },
      // The PutEvents result is discarded (ResultPath DISCARD): the output is the input.
      output: inputText,
      outputDetails: { included: true },
    };
  }
}
