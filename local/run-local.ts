/**
 * `npm run local`: the local world, kept running for hands-on use. Prints the AWS endpoint (for
 * the AWS CLI and `ecs-release --endpoint-url`), the gateway (for curl) and the release page (for
 * a browser), then waits for Ctrl-C and shuts everything down.
 *
 * Images you can release: colorapp:v2 (healthy), colorapp:v2-faulty (half its requests fail),
 * colorapp:v2-slow (1.5 s per request), colorapp:v2-crash (exits on start).
 *
 *   npm run local                       # ALB weighted target groups (the default)
 *   npm run local -- --traffic appmesh  # App Mesh
 *   npm run local -- --services 3       # colorapp, colorapp-2, colorapp-3 registered with one engine
 *
 * With `--services N`, copy k of colorapp (k = 2..N) has its own listener on the load balancer,
 * as the CDK fleet sample gives it one on port 8000 + k: locally its gateway listens on port
 * 8000 + k (colorapp's stays on 8080; `LOCAL_COPY_PORT_BASE` replaces the 8000).
 */
import { COLORAPP, alarmDefinitionsOf, localProfile } from '../infra/colorapp-settings';
import { parseArgs } from 'node:util';
import { backendOf, type LocalBackend } from './backends';
import { COPY_LISTENER_BASE_PORT, localFleetOf, servicesOf, withServicesValueJoined } from './fleet';
import { buildColorApp } from './services/ecs';
import { startReleasePage } from './page/server';
import { startTraffic } from './traffic';
import { startLocalWorld, type LocalWorld } from './world';

/**
 * Background client traffic, so a release started from the CLI has requests to be judged on: at
 * 100 requests/s a 10 % step gets about 100 requests per 10-second bake, above the 50 it needs.
 */
const DEFAULT_RPS = 100;
/** The generator is bounded by design; a hands-on session is bounded by a day. */
const TRAFFIC_MAX_MS = 24 * 3600 * 1000;

/**
 * `--rps N`: client requests per second through each service's gateway (0: none);
 * `--traffic alb|appmesh`; `--services N`.
 *
 * @throws Error naming the option and what it accepts (InvalidServicesError for `--services`).
 */
function argsOf(argv: string[]): { requestsPerSecond: number; backend: LocalBackend; services: number; copyPortBase: number } {
  const { values } = parseArgs({ args: withServicesValueJoined(argv), options: { rps: { type: 'string' }, traffic: { type: 'string' }, services: { type: 'string' } }, strict: true });
  const backend = backendOf(values.traffic);
  const services = servicesOf(values.services, backend);
  const copyPortBase = copyPortBaseOf(process.env.LOCAL_COPY_PORT_BASE);
  if (values.rps === undefined) return { requestsPerSecond: DEFAULT_RPS, backend, services, copyPortBase };
  const rps = Number(values.rps);
  if (!Number.isInteger(rps) || rps < 0 || rps > 1000) {
    throw new Error(`--rps must be a whole number from 0 to 1000 (requests per second; 0 for none), got '${values.rps}'`);
  }
  return { requestsPerSecond: rps, backend, services, copyPortBase };
}

/**
 * Where the copies' gateways listen (copy k on base + k): 8000, as the CDK fleet sample's
 * listeners, unless `LOCAL_COPY_PORT_BASE` says otherwise. Unprivileged and clear of the
 * ports `npm run local` itself uses (4566, 8080, 8081) for every copy up to the tenth.
 */
function copyPortBaseOf(value: string | undefined): number {
  if (value === undefined) return COPY_LISTENER_BASE_PORT;
  const base = Number(value);
  const used = [4566, 8080, 8081];
  if (value.trim() === '' || !Number.isInteger(base) || base < 1024 || base > 65_000 || used.some((port) => port > base && port <= base + 10)) {
    throw new Error(`LOCAL_COPY_PORT_BASE must be a whole number from 1024 to 65000 whose next ten ports miss 4566, 8080 and 8081, got '${value}'`);
  }
  return base;
}

async function main(): Promise<void> {
  let args: ReturnType<typeof argsOf>;
  try {
    args = argsOf(process.argv.slice(2));
  } catch (error) {
    // A usage mistake: the message says what to change; no stack trace.
    const { name, message } = error as Error;
    console.error(`npm run local: ${name === 'Error' || name === 'TypeError' ? '' : `${name}: `}${message}`);
    process.exit(2);
  }
  const { requestsPerSecond, backend, services } = args;
  const settings = localProfile(COLORAPP, { bakeSeconds: 10 });
  const [first, ...copies] = localFleetOf(settings, services, backend, alarmDefinitionsOf);
  const entry = await buildColorApp();
  const world = await startLocalWorld({
    config: first.config,
    alarms: first.service.alarms,
    // The copies' listeners, as the CDK fleet sample's: 8000 + k (LOCAL_COPY_PORT_BASE moves them).
    additionalServices: copies.map((copy) => ({ ...copy.service, gatewayPort: args.copyPortBase + copy.index })),
    images: {
      'colorapp:v1': { entry },
      'colorapp:v2': { entry },
      'colorapp:v2-faulty': { entry, env: { FAULT_RATE: '0.5' } },
      'colorapp:v2-slow': { entry, env: { LATENCY_MS: '1500' } },
      'colorapp:v2-crash': { entry, crash: true },
    },
    liveImage: 'colorapp:v1',
    endpointPort: Number(process.env.LOCAL_ENDPOINT_PORT ?? 4566),
    gatewayPort: Number(process.env.LOCAL_GATEWAY_PORT ?? 8080),
    logLevel: process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO',
  });
  const page = await startReleasePage({
    endpointUrl: world.endpoint.url,
    region: world.region,
    service: world.config.service,
    port: Number(process.env.LOCAL_PAGE_PORT ?? 8081),
  }).catch(async (error: unknown) => {
    await world.close();
    throw error;
  });
  const e = world.endpoint.url;
  const { traffic, cluster, ecsServices } = world.config;
  // Any credentials do (the endpoint checks none), but the SDK and the CLI refuse to sign without
  // some: each printed line carries them, so it works pasted into a fresh shell.
  const creds = 'AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local';
  const cliPrefix = `${creds} aws --region ${world.region} --endpoint-url ${e}`;
  const trafficReads =
    traffic.kind === 'alb'
      ? [
          `${cliPrefix} elbv2 describe-rules --listener-arn ${traffic.listenerArn}`,
          `${cliPrefix} elbv2 describe-target-health --target-group-arn ${traffic.targetGroups.green}`,
        ]
      : [
          `${cliPrefix} appmesh describe-route --mesh-name ${traffic.meshName} --virtual-router-name ${traffic.virtualRouterName} --route-name ${traffic.routeName}`,
        ];
  const layer = traffic.kind === 'alb' ? 'an Application Load Balancer (weighted target groups)' : 'App Mesh (--traffic appmesh)';
  console.log(`
Local world running on ${layer}. Blue (colorapp:v1) is live at 100%.

  AWS endpoint  ${e}
  gateway       ${world.gateway.url}     (curl ${world.gateway.url}/ ; -H 'x-release-color: green' reaches the idle colour once a release runs tasks on it: until then 503, as an ALB with no target)
  state machine ${world.stateMachineArn}
  release page  ${page.url}     (open it in a browser: weights, success rate and latency per colour, verdicts, Approve/Reject, history)

Try:
  ${creds} npx ecs-release --region ${world.region} --endpoint-url ${e} start --service colorapp --image colorapp:v2 --wait
  ${creds} npx ecs-release --region ${world.region} --endpoint-url ${e} start --service colorapp --image colorapp:v2 --approve-before-promote   # then Approve or Reject on the release page, or:
  ${creds} npx ecs-release --region ${world.region} --endpoint-url ${e} approve --service colorapp
  ${creds} npx ecs-release --region ${world.region} --endpoint-url ${e} status --service colorapp
  ${creds} npx ecs-release --region ${world.region} --endpoint-url ${e} history --service colorapp
  curl -s ${page.url}api/release
  ${cliPrefix} ssm get-parameter --name /ecs-release/colorapp/state
${trafficReads.map((line) => `  ${line}`).join('\n')}
  ${cliPrefix} ecs describe-services --cluster ${cluster} --services ${ecsServices.blue} ${ecsServices.green}

${fleetLines(world, e, creds)}Background traffic: ${requestsPerSecond > 0 ? `${requestsPerSecond} requests/s through ${world.services.length > 1 ? 'each service\'s' : 'the'} gateway (--rps N to change, --rps 0 for none)` : 'none (--rps 0); a release with no requests is judged inconclusive'}.
Images: colorapp:v2 (healthy), colorapp:v2-faulty, colorapp:v2-slow, colorapp:v2-crash. Ctrl-C stops everything.
`);
  const clients =
    requestsPerSecond > 0 ? world.services.map((service) => startTraffic(service.gateway.url, { requestsPerSecond, maxDurationMs: TRAFFIC_MAX_MS })) : [];
  const stop = async () => {
    console.log('\nStopping the local world...');
    const seen = await Promise.all(clients.map((c) => c.stop()));
    seen.forEach((s, i) => console.log(`Background traffic${seen.length > 1 ? ` (${world.services[i].config.service})` : ''}: ${s.requests} requests, ${s.failed} failed.`));
    await page.close();
    await world.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

/** With several services: each copy's gateway and the commands that release it (nothing with one). */
function fleetLines(world: LocalWorld, endpointUrl: string, creds: string): string {
  if (world.services.length === 1) return '';
  const cli = `${creds} npx ecs-release --region ${world.region} --endpoint-url ${endpointUrl}`;
  const lines = world.services.slice(1).flatMap((service) => {
    const name = service.config.service;
    return [
      `  ${name.padEnd(12)} gateway ${service.gateway.url}   (its own listener on the load balancer, as the CDK fleet sample's)`,
      `    ${cli} start --service ${name} --image colorapp:v2 --wait`,
    ];
  });
  return `The same engine runs ${world.services.length} services (the release page shows colorapp):\n${lines.join('\n')}\n\n`;
}

main().catch((error: unknown) => {
  console.error(`npm run local: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
