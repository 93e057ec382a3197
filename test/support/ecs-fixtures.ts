import type { Deployment, Service, Tag, TaskDefinition } from '@aws-sdk/client-ecs';
import { ServiceConfigSchema, type ServiceConfig, type ServiceConfigInput } from '../../lambdas/shared/config';
import type { ColourAssignment, PlannedRelease } from '../../lambdas/shared/release';

// Shared fixtures for the ECS steps: a release of `colorapp` from blue (live) to green (idle).

/** Account of every ARN in the fixtures. */
export const ACCOUNT = '111122223333';
/** Region of every ARN (matches test/support/setup-env.ts). */
export const REGION = 'eu-west-1';
/** ECS cluster of both colours. */
export const CLUSTER = 'apps';
/** Task definition family of the configuration and of the live revision. */
export const FAMILY = 'colorapp';
/** Id of the release under test. */
export const RELEASE_ID = 'rel-20250101-abc123';
/** Image the release deploys (version 1.4.0). */
export const IMAGE = '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:1.4.0';

/** Task definition ARN of `family:revision`. */
export function taskDefinitionArn(revision: number, family = FAMILY): string {
  return `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/${family}:${revision}`;
}

/** The revision blue (live) runs. */
export const LIVE_TASK_DEFINITION_ARN = taskDefinitionArn(7);

/** A parsed service configuration (defaults filled), with overrides. */
export function serviceConfig(overrides: Partial<ServiceConfigInput> = {}): ServiceConfig {
  return ServiceConfigSchema.parse({
    service: 'colorapp',
    cluster: CLUSTER,
    ecsServices: { blue: 'colorapp-blue', green: 'colorapp-green' },
    taskDefinitionFamily: FAMILY,
    containerName: 'app',
    colourEnvironmentVariable: 'COLOR',
    traffic: {
      kind: 'appmesh',
      meshName: 'apps',
      virtualRouterName: 'colorapp-router',
      routeName: 'colorapp-route',
      virtualNodes: { blue: 'colorapp-blue', green: 'colorapp-green' },
    },
    stabilization: { pollSeconds: 15, timeoutSeconds: 600 },
    ...overrides,
  });
}

/** A planned release as the state machine carries it. */
export function plannedRelease(config: ServiceConfig = serviceConfig()): PlannedRelease {
  return {
    id: RELEASE_ID,
    executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:ecs-release:${RELEASE_ID}`,
    service: config.service,
    image: IMAGE,
    version: '1.4.0',
    strategy: { type: 'canary', steps: [10, 50, 100] },
    schedule: [10, 50, 100],
    bakeSeconds: 60,
    approvals: { beforeTraffic: false, beforePromote: false },
    requestedBy: 'alice',
    reason: null,
    startedAt: '2025-01-01T12:00:00.000Z',
    config,
  };
}

/** Blue is live, green is idle. */
export const COLOURS: ColourAssignment = { live: 'blue', idle: 'green', liveTaskDefinitionArn: LIVE_TASK_DEFINITION_ARN };

/**
 * The live revision as DescribeTaskDefinition returns it: the app, an Envoy sidecar and an X-Ray
 * daemon, with every writable field set and every read-only one present.
 */
export function liveTaskDefinition(): TaskDefinition {
  return {
    taskDefinitionArn: LIVE_TASK_DEFINITION_ARN,
    family: FAMILY,
    revision: 7,
    status: 'ACTIVE',
    requiresAttributes: [{ name: 'com.amazonaws.ecs.capability.docker-remote-api.1.18' }],
    compatibilities: ['EC2', 'FARGATE'],
    registeredAt: new Date('2024-12-01T10:00:00Z'),
    registeredBy: `arn:aws:iam::${ACCOUNT}:role/deployer`,
    deregisteredAt: undefined,
    containerDefinitions: [
      {
        name: 'app',
        image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/colorapp:1.3.0',
        essential: true,
        portMappings: [{ containerPort: 8080, protocol: 'tcp' }],
        environment: [
          { name: 'LOG_LEVEL', value: 'info' },
          { name: 'COLOR', value: 'blue' },
        ],
        secrets: [{ name: 'DB_PASSWORD', valueFrom: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/colorapp/db` }],
        healthCheck: { command: ['CMD-SHELL', 'curl -f http://localhost:8080/ping || exit 1'], interval: 10, retries: 3 },
        dependsOn: [{ containerName: 'envoy', condition: 'HEALTHY' }],
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/colorapp' } },
      },
      {
        name: 'envoy',
        image: '840364872350.dkr.ecr.eu-west-1.amazonaws.com/aws-appmesh-envoy:v1.29.6.0-prod',
        essential: true,
        user: '1337',
        environment: [{ name: 'APPMESH_RESOURCE_ARN', value: 'mesh/apps/virtualNode/colorapp-blue' }],
        healthCheck: { command: ['CMD-SHELL', 'curl -s http://localhost:9901/server_info | grep state | grep -q LIVE'] },
      },
      { name: 'xray', image: 'amazon/aws-xray-daemon:3', essential: false },
    ],
    taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/colorapp-task`,
    executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/colorapp-exec`,
    networkMode: 'awsvpc',
    volumes: [{ name: 'scratch', host: {} }],
    placementConstraints: [{ type: 'memberOf', expression: 'attribute:ecs.os-type == linux' }],
    requiresCompatibilities: ['FARGATE'],
    cpu: '512',
    memory: '1024',
    pidMode: 'task',
    ipcMode: 'none',
    proxyConfiguration: {
      type: 'APPMESH',
      containerName: 'envoy',
      properties: [
        { name: 'AppPorts', value: '8080' },
        { name: 'ProxyIngressPort', value: '15000' },
      ],
    },
    inferenceAccelerators: [{ deviceName: 'device1', deviceType: 'eia2.medium' }],
    ephemeralStorage: { sizeInGiB: 30 },
    runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' },
    enableFaultInjection: false,
  };
}

/** Tags on the live revision: a team tag, the previous release's tags, and an AWS-reserved one. */
export function liveTags(): Tag[] {
  return [
    { key: 'team', value: 'payments' },
    { key: 'ecs-release:release-id', value: 'rel-previous' },
    { key: 'ecs-release:version', value: '1.3.0' },
    { key: 'ecs-release:colour', value: 'blue' },
    { key: 'aws:cloudformation:stack-name', value: 'colorapp' },
  ];
}

/** An ECS deployment; PRIMARY and COMPLETED unless overridden. */
export function deployment(overrides: Partial<Deployment> = {}): Deployment {
  return {
    id: 'ecs-svc/1111111111111111111',
    status: 'PRIMARY',
    taskDefinition: LIVE_TASK_DEFINITION_ARN,
    desiredCount: 3,
    runningCount: 3,
    pendingCount: 0,
    rolloutState: 'COMPLETED',
    createdAt: new Date('2024-12-01T10:05:00Z'),
    ...overrides,
  };
}

/** An ACTIVE ECS service with the given deployments (one steady PRIMARY by default). */
export function ecsService(serviceName: string, overrides: Partial<Service> = {}): Service {
  return {
    serviceName,
    serviceArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:service/${CLUSTER}/${serviceName}`,
    clusterArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/${CLUSTER}`,
    status: 'ACTIVE',
    desiredCount: 3,
    runningCount: 3,
    deployments: [deployment()],
    ...overrides,
  };
}

/** The ARN of a virtual node of the fixtures' mesh (`apps`), as `APPMESH_RESOURCE_ARN` takes it. */
export function virtualNodeArn(node: string): string {
  return `arn:aws:appmesh:${REGION}:${ACCOUNT}:mesh/apps/virtualNode/${node}`;
}

/**
 * A colour's revision as the CDK app's colorapp stack registers it and DescribeTaskDefinition
 * returns it: the stats init container (Service and Color tags from its environment), the
 * CloudWatch agent, the Envoy sidecar registered as the colour's virtual node, and the app.
 */
export function appMeshTaskDefinition(colour: 'blue' | 'green', revision = 7): TaskDefinition {
  const logging = (prefix: string) => ({
    logDriver: 'awslogs' as const,
    options: { 'awslogs-group': 'ColorappService-ContainerLogs', 'awslogs-stream-prefix': `${colour}-${prefix}`, 'awslogs-region': REGION },
  });
  return {
    taskDefinitionArn: taskDefinitionArn(revision),
    family: FAMILY,
    revision,
    status: 'ACTIVE',
    requiresAttributes: [{ name: 'com.amazonaws.ecs.capability.task-iam-role' }],
    compatibilities: ['EC2', 'FARGATE'],
    registeredAt: new Date('2024-12-01T10:00:00Z'),
    registeredBy: `arn:aws:iam::${ACCOUNT}:role/cdk-deploy`,
    containerDefinitions: [
      {
        name: 'envoy-stats-config',
        image: 'public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod',
        essential: false,
        user: '0',
        entryPoint: ['sh', '-c'],
        command: ['set -eu\ncat > /etc/envoy-release/stats.yaml <<EOF\nstats_config:\n  stats_tags: []\nEOF'],
        environment: [
          { name: 'SERVICE', value: 'colorapp' },
          { name: 'COLOR', value: colour },
        ],
        mountPoints: [{ sourceVolume: 'envoy-release', containerPath: '/etc/envoy-release', readOnly: false }],
        memoryReservation: 32,
        logConfiguration: logging('envoy-stats-config'),
      },
      {
        name: 'cloudwatch-agent',
        image: 'public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300049.1b929',
        essential: false,
        environment: [{ name: 'CW_CONFIG_CONTENT', value: '{"agent":{"omit_hostname":true},"metrics":{"namespace":"ECSRelease/Envoy"}}' }],
        memoryReservation: 64,
        logConfiguration: logging('cloudwatch-agent'),
      },
      {
        name: 'envoy',
        image: 'public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod',
        essential: true,
        user: '1337',
        environment: [
          { name: 'APPMESH_RESOURCE_ARN', value: virtualNodeArn(`colorapp-${colour}`) },
          { name: 'ENABLE_ENVOY_DOG_STATSD', value: '1' },
          { name: 'STATSD_ADDRESS', value: '127.0.0.1' },
          { name: 'STATSD_PORT', value: '8125' },
          { name: 'ENVOY_STATS_CONFIG_FILE', value: '/etc/envoy-release/stats.yaml' },
          { name: 'ENVOY_STATS_FLUSH_INTERVAL', value: '10s' },
        ],
        mountPoints: [{ sourceVolume: 'envoy-release', containerPath: '/etc/envoy-release', readOnly: true }],
        dependsOn: [
          { containerName: 'envoy-stats-config', condition: 'SUCCESS' },
          { containerName: 'cloudwatch-agent', condition: 'START' },
        ],
        healthCheck: {
          command: ['CMD-SHELL', 'curl -s http://localhost:9901/server_info | grep state | grep -q LIVE'],
          interval: 5,
          timeout: 2,
          retries: 3,
          startPeriod: 10,
        },
        ulimits: [{ name: 'nofile', softLimit: 15000, hardLimit: 15000 }],
        memoryReservation: 128,
        logConfiguration: logging('envoy'),
      },
      {
        name: 'app',
        image: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/colorapp:1.3.0`,
        essential: true,
        portMappings: [{ containerPort: 8080, hostPort: 8080, protocol: 'tcp' }],
        environment: [
          { name: 'PORT', value: '8080' },
          { name: 'COLOR', value: colour },
        ],
        dependsOn: [{ containerName: 'envoy', condition: 'HEALTHY' }],
        healthCheck: { command: ['CMD', 'node', '/app/healthcheck.js'], interval: 10, timeout: 3, retries: 3, startPeriod: 10 },
        memoryReservation: 256,
        logConfiguration: logging('app'),
      },
    ],
    taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/ColorappService-TaskRole`,
    executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/ColorappService-ExecutionRole`,
    networkMode: 'awsvpc',
    volumes: [{ name: 'envoy-release', host: {} }],
    placementConstraints: [],
    requiresCompatibilities: ['FARGATE'],
    cpu: '512',
    memory: '1024',
    proxyConfiguration: {
      type: 'APPMESH',
      containerName: 'envoy',
      properties: [
        { name: 'AppPorts', value: '8080' },
        { name: 'ProxyIngressPort', value: '15000' },
        { name: 'ProxyEgressPort', value: '15001' },
        { name: 'IgnoredUID', value: '1337' },
        { name: 'EgressIgnoredIPs', value: '169.254.170.2,169.254.169.254' },
      ],
    },
  };
}
