import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { RELEASE_EVENT_BUS_NAME, RELEASE_EVENT_SOURCE, RELEASE_EVENT_TYPES } from '../release-event-schema';

/** Properties of {@link DriftEventPublisher}. */
export interface DriftEventPublisherProps {
  readonly serviceName: string;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Puts one `Release Drift Detected` event (source `ecs-release`) on the default bus, its detail
 * being the execution's input (`ReleaseDriftDetail`). An Express state machine with the EventBridge
 * integration and no code: the reconciler starts it (StartSyncExecution) instead of calling
 * PutEvents itself, so its role can announce drift and no other event, and the handlers need no
 * EventBridge client.
 */
export class DriftEventPublisher extends Construct {
  /** The Express state machine; grant callers {@link grantPublish}. */
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: DriftEventPublisherProps) {
    super(scope, id);
    const bus = events.EventBus.fromEventBusName(this, 'DefaultBus', RELEASE_EVENT_BUS_NAME);
    const put = tasks.EventBridgePutEvents.jsonPath(this, 'PutDriftEvent', {
      comment: 'The input is the drift detail; the source and detail-type are fixed here.',
      entries: [
        {
          eventBus: bus,
          source: RELEASE_EVENT_SOURCE,
          detailType: RELEASE_EVENT_TYPES.driftDetected,
          detail: sfn.TaskInput.fromJsonPathAt('$'),
        },
      ],
      resultPath: sfn.JsonPath.DISCARD,
    });
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: props.removalPolicy });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.EXPRESS,
      comment: `Publishes the drift events of ${props.serviceName}`,
      definitionBody: sfn.DefinitionBody.fromChainable(put),
      timeout: Duration.minutes(1),
      tracingEnabled: true,
      // The findings are about routes and services, no secrets: the data helps the operator.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions log delivery (logs:CreateLogDelivery and related) and X-Ray (xray:PutTraceSegments and related) ' +
        'support no resource-level permissions; CDK adds exactly those actions on *.',
    });
  }

  /** Lets `grantee` publish drift events (states:StartSyncExecution on this state machine only). */
  grantPublish(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['states:StartSyncExecution'], resourceArns: [this.stateMachine.stateMachineArn] });
  }
}
