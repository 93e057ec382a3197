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
