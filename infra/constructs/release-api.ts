import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { API_HANDLERS, type ReleaseHandlerSpec } from './release-handlers';

/** What {@link createReleaseApi} needs from its engine. */
export interface ReleaseApiProps {
  /** The engine's name: the API's name. */
  readonly name: string;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** Creates one API handler (its function, role and grants) in the engine. */
  readonly createHandler: (id: string, spec: ReleaseHandlerSpec) => lambda.IFunction;
}

/**
 * The engine's REST API, in `scope` (the engine, so its logical ids are the engine's): start,
 * follow, approve, reject and abort releases of every registered service, IAM (SigV4) on every
 * method, the service in every path but `POST /releases` (so IAM can allow one service's routes
 * and not another's).
 */
export function createReleaseApi(scope: Construct, props: ReleaseApiProps): apigw.RestApi {
  const service = props.name;
  const accessLogs = new logs.LogGroup(scope, 'ApiAccessLogs', {
    retention: props.logRetention,
    removalPolicy: props.removalPolicy,
  });
  const api = new apigw.RestApi(scope, 'Api', {
    restApiName: service,
    description: `Release API of ${service}: start, follow, approve, reject and abort releases of its services. Every method needs SigV4 (AWS_IAM).`,
    endpointTypes: [apigw.EndpointType.REGIONAL],
    defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
    // Execution logging needs the account-level CloudWatch role; without it the stage fails to deploy.
    cloudWatchRole: true,
    cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
    deployOptions: {
      stageName: 'v1',
      accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
      accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
      loggingLevel: apigw.MethodLoggingLevel.INFO,
      dataTraceEnabled: false, // request bodies can carry approval reasons; keep them out of logs
      metricsEnabled: true,
      tracingEnabled: true,
      throttlingRateLimit: 10,
      throttlingBurstLimit: 20,
    },
  });
  const validator = api.addRequestValidator('ValidateBodyAndParameters', {
    validateRequestBody: true,
    validateRequestParameters: true,
  });
  // Every registered service: a handler refuses one without a configuration with a 404.
  const handler = (id: string, spec: ReleaseHandlerSpec) => props.createHandler(id, spec);
  const startRelease = handler('StartRelease', API_HANDLERS.startRelease);
  const getRelease = handler('GetRelease', API_HANDLERS.getRelease);
  const approve = handler('ApproveRelease', API_HANDLERS.approveRelease);
  const reject = handler('RejectRelease', API_HANDLERS.rejectRelease);
  const abort = handler('AbortRelease', API_HANDLERS.abortRelease);

  const releaseRequestModelProperties: Record<string, apigw.JsonSchema> = {
    service: { type: apigw.JsonSchemaType.STRING, pattern: '^[a-zA-Z0-9_.-]+$', maxLength: 255 },
    image: { type: apigw.JsonSchemaType.STRING, minLength: 3, maxLength: 1024 },
    strategy: { type: apigw.JsonSchemaType.OBJECT },
    bakeSeconds: { type: apigw.JsonSchemaType.INTEGER, minimum: 1, maximum: 86400 },
    approvals: { type: apigw.JsonSchemaType.OBJECT },
    requestedBy: { type: apigw.JsonSchemaType.STRING, maxLength: 256 },
    reason: { type: apigw.JsonSchemaType.STRING, maxLength: 1024 },
  };
  const releaseRequestModel = api.addModel('ReleaseRequest', {
    contentType: 'application/json',
    modelName: 'ReleaseRequest',
    description: 'A release request: the service and the image; everything else is optional',
    schema: {
      schema: apigw.JsonSchemaVersion.DRAFT4,
      type: apigw.JsonSchemaType.OBJECT,
      required: ['service', 'image'],
      additionalProperties: false,
      properties: releaseRequestModelProperties,
    },
  });
  const integration = (fn: lambda.IFunction) => new apigw.LambdaIntegration(fn, { proxy: true });
  const releases = api.root.addResource('releases');
  releases.addMethod('POST', integration(startRelease), {
    requestValidator: validator,
    requestModels: { 'application/json': releaseRequestModel },
  });
  const byService = releases.addResource('{service}');
  // The service in the path, so an operator's IAM policy can allow one service's routes
  // (execute-api:Invoke on .../POST/releases/orders) and not another's: grantStartRelease(role, 'orders').
  const serviceRequestModel = api.addModel('ServiceReleaseRequest', {
    contentType: 'application/json',
    modelName: 'ServiceReleaseRequest',
    description: 'A release request of the service in the path: the image; everything else is optional',
    schema: {
      schema: apigw.JsonSchemaVersion.DRAFT4,
      type: apigw.JsonSchemaType.OBJECT,
      required: ['image'],
      additionalProperties: false,
      properties: releaseRequestModelProperties,
    },
  });
  byService.addMethod('POST', integration(startRelease), {
    requestValidator: validator,
    requestParameters: { 'method.request.path.service': true },
    requestModels: { 'application/json': serviceRequestModel },
  });
  byService.addMethod('GET', integration(getRelease), {
    requestValidator: validator,
    requestParameters: { 'method.request.path.service': true },
  });
  byService.addResource('{releaseId}').addMethod('GET', integration(getRelease), {
    requestValidator: validator,
    requestParameters: { 'method.request.path.service': true, 'method.request.path.releaseId': true },
  });
  for (const [action, fn] of [['approve', approve], ['reject', reject], ['abort', abort]] as const) {
    byService.addResource(action).addMethod('POST', integration(fn), {
      requestValidator: validator,
      requestParameters: { 'method.request.path.service': true },
    });
  }
  Validations.of(api).acknowledge({
    id: 'AwsSolutions-COG4',
    reason:
      'The callers are AWS principals (operators, CI roles, pipelines), not end users: every method uses AWS_IAM ' +
      '(SigV4) authorization, and grantStartRelease and friends scope each caller to the routes it needs.',
  });
  Validations.of(api).acknowledge({
    id: 'AwsSolutions-APIG3',
    reason:
      'Every method requires SigV4 (AWS_IAM), so unsigned requests are refused before any integration runs, and the ' +
      'stage is throttled (10 rps). The callers are operators and CI roles; attach a WAF web ACL if the API is exposed further.',
  });
  Validations.of(api).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    reason:
      'The account-level API Gateway logging role needs exactly this AWS-managed policy (it is the documented setup) ' +
      'for the INFO execution logs of the stage.',
  });
  return api;
}
