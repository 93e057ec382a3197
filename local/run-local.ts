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
 */
import { COLORAPP, alarmDefinitionsOf, localProfile, serviceConfigOf } from '../infra/colorapp-settings';
import { parseArgs } from 'node:util';
import { backendOf, localTrafficOf, type LocalBackend } from './backends';
import { buildColorApp } from './services/ecs';
import { startReleasePage } from './page/server';
import { startTraffic } from './traffic';
import { startLocalWorld } from './world';

/**
 * Background client traffic, so a release started from the CLI has requests to be judged on: at
 * 100 requests/s a 10 % step gets about 100 requests per 10-second bake, above the 50 it needs.
 */
const DEFAULT_RPS = 100;
/** The generator is bounded by design; a hands-on session is bounded by a day. */
const TRAFFIC_MAX_MS = 24 * 3600 * 1000;

/**
 * `--rps N`: client requests per second through the gateway (0: none); `--traffic alb|appmesh`.
 *
 * @throws Error naming the option and what it accepts.
 */
function argsOf(argv: string[]): { requestsPerSecond: number; backend: LocalBackend } {
  const { values } = parseArgs({ args: argv, options: { rps: { type: 'string' }, traffic: { type: 'string' } }, strict: true });
  const backend = backendOf(values.traffic);
  if (values.rps === undefined) return { requestsPerSecond: DEFAULT_RPS, backend };
  const rps = Number(values.rps);
  if (!Number.isInteger(rps) || rps < 0 || rps > 1000) {
    throw new Error(`--rps must be a whole number from 0 to 1000 (requests per second; 0 for none), got '${values.rps}'`);
  }
  return { requestsPerSecond: rps, backend };
}

async function main(): Promise<void> {
  let args: ReturnType<typeof argsOf>;
  try {
    args = argsOf(process.argv.slice(2));
  } catch (error) {
    // A usage mistake: the message says what to change; no stack trace.
    console.error(`npm run local: ${(error as Error).message}`);
    process.exit(2);
  }
  const { requestsPerSecond, backend } = args;
  const settings = localProfile(COLORAPP, { bakeSeconds: 10 });
  const entry = await buildColorApp();
  const world = await startLocalWorld({
    config: serviceConfigOf(settings, { traffic: localTrafficOf(settings, backend) }),
    alarms: alarmDefinitionsOf(settings),
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

Background traffic: ${requestsPerSecond > 0 ? `${requestsPerSecond} requests/s through the gateway (--rps N to change, --rps 0 for none)` : 'none (--rps 0); a release with no requests is judged inconclusive'}.
Images: colorapp:v2 (healthy), colorapp:v2-faulty, colorapp:v2-slow, colorapp:v2-crash. Ctrl-C stops everything.
`);
  const clients = requestsPerSecond > 0 ? startTraffic(world.gateway.url, { requestsPerSecond, maxDurationMs: TRAFFIC_MAX_MS }) : undefined;
  const stop = async () => {
    console.log('\nStopping the local world...');
    const seen = await clients?.stop();
    if (seen) console.log(`Background traffic: ${seen.requests} requests, ${seen.failed} failed.`);
    await page.close();
    await world.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  console.error(`npm run local: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
