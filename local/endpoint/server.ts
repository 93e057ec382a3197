/**
 * The local AWS endpoint: one HTTP server on loopback that speaks the wire protocols the release
 * handlers (SDK v3 via `AWS_ENDPOINT_URL`) and the AWS CLI (`--endpoint-url`) use:
 *
 * - **awsJson1_0 / awsJson1_1** (SSM, ECS, CloudWatch, Step Functions): `POST /` with
 *   `X-Amz-Target: <targetPrefix>.<Operation>` and `Content-Type: application/x-amz-json-1.x`.
 * - **REST JSON** (App Mesh): paths under `/v20190125/`, handed to {@link AppMeshRestHandler}.
 * - **AWS Query** (Elastic Load Balancing v2): `POST /` with a form-encoded body
 *   (`Action=...&Version=...`) and no `X-Amz-Target`; XML answers and XML errors (see `./query`).
 *   The `Version` picks the service, as each Query API has its own.
 *
 * SigV4 is not checked (any `Authorization` is accepted), which is why the server only binds to
 * and only answers loopback: nothing off this machine can reach an unauthenticated AWS.
 */

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { AwsServiceError, type JsonProtocolService, type QueryProtocolService } from '../contracts';
import { decodeQueryInput, encodeQueryResponse, QUERY_COMMON_ERRORS, queryProtocolError } from './query';
import { withoutHostPrefix } from './host-prefix';
import type { AppMeshRestHandler } from './rest';
import { jsonProtocolError, restJsonError, toWireJson, type WireError } from './wire';

/** Where the endpoint reports failures it turned into 5xx responses. Powertools' Logger and `console` both fit. */
export interface EndpointLogger {
  error(message: string, ...details: unknown[]): void;
}

/** Options for {@link startLocalEndpoint}. */
export interface LocalEndpointOptions {
  /** Services reached through `X-Amz-Target`; each target prefix at most once. */
  readonly jsonServices: readonly JsonProtocolService[];
  /**
   * Answers App Mesh REST JSON requests (paths under `/v20190125/`).
   * @default - such requests get 404 `UnknownOperationException`
   */
  readonly restAppMesh?: AppMeshRestHandler;
  /**
   * Services reached through the AWS Query protocol (Elastic Load Balancing v2); each API
   * version at most once.
   * @default - none: Query requests get `InvalidAction`
   */
  readonly queryServices?: readonly QueryProtocolService[];
  /**
   * Loopback address to bind (`127.0.0.1`, another `127.x.y.z`, `::1` or `localhost`).
   * @default '127.0.0.1'
   */
  readonly host?: string;
  /**
   * Port to bind; 0 picks a free one (use 0 in tests).
   * @default 0
   */
  readonly port?: number;
  /** @default console */
  readonly logger?: EndpointLogger;
  /**
   * Largest request body accepted, in bytes; larger ones get 413.
   * @default 1 MiB
   */
  readonly maxBodyBytes?: number;
  /**
   * Fault injection (`npm run chaos`): asked once per request, after its body is read, whether to
   * answer it badly. Off by default; the chaos plan decides, never the endpoint.
   * @default - every request is answered normally
   */
  readonly faults?: EndpointFaultHook;
}

/** The call a fault is decided for: the service (JSON target prefix, Query API version, or `appmesh`) and its operation. */
export interface EndpointCall {
  readonly service: string;
  readonly operation: string;
}

/**
 * How to answer one request badly: an AWS error instead of the answer (rendered in the request's
 * protocol, as any other error), a delay before the answer, or a connection closed without an
 * answer, before the operation ran or after it ran (the client cannot tell which: a retry of a
 * call that did happen).
 */
export type EndpointFault =
  | { readonly kind: 'error'; readonly error: AwsServiceError }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'drop'; readonly when: 'before' | 'after' };

/** Decides the fault for one call, or none. */
export type EndpointFaultHook = (call: EndpointCall) => EndpointFault | undefined;

/** A running local endpoint. */
export interface LocalEndpoint {
  /** Base URL for `AWS_ENDPOINT_URL`, an SDK client's `endpoint` or the CLI's `--endpoint-url`, e.g. `http://127.0.0.1:49152`. */
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish (at most 2 s), then closes every connection. Idempotent. */
  close(): Promise<void>;
}

/** Path prefix of every App Mesh API (API version 2019-01-25). */
const APP_MESH_PREFIX = '/v20190125/';
const CLOSE_GRACE_MS = 2000;

/**
 * Starts the local endpoint on loopback.
 *
 * @throws Error when `host` is not a loopback address, two services share a target prefix, or the port is taken.
 *
 * @example
 * const ssm = new LocalSsm();
 * const mesh = new LocalAppMesh();
 * const endpoint = await startLocalEndpoint({ jsonServices: [ssm], restAppMesh: appMeshRestHandler(mesh) });
 * process.env.AWS_ENDPOINT_URL = endpoint.url; // handlers' SDK clients now talk to it
 * // aws ssm get-parameter --name /ecs-release/colorapp/state --endpoint-url "$URL"
 * await endpoint.close();
 */
export async function startLocalEndpoint(options: LocalEndpointOptions): Promise<LocalEndpoint> {
  const host = options.host ?? '127.0.0.1';
  if (host !== 'localhost' && !isLoopbackAddress(host)) {
    throw new Error(
      `The local endpoint accepts any credentials, so it only binds to loopback; got host '${host}'. ` +
        'Use 127.0.0.1 (the default), ::1 or localhost.',
    );
  }
  const services = new Map<string, JsonProtocolService>();
  for (const service of options.jsonServices) {
    if (services.has(service.targetPrefix)) {
      throw new Error(`Two JSON services use the target prefix '${service.targetPrefix}'; each prefix must be registered once`);
    }
    services.set(service.targetPrefix, service);
  }
  const queryServices = new Map<string, QueryProtocolService>();
  for (const service of options.queryServices ?? []) {
    if (queryServices.has(service.apiVersion)) {
      throw new Error(`Two Query services use the API version '${service.apiVersion}'; each version must be registered once`);
    }
    queryServices.set(service.apiVersion, service);
  }
  const context: Context = {
    services,
    queryServices,
    restAppMesh: options.restAppMesh,
    logger: options.logger ?? console,
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    faults: options.faults,
  };

  const server = createServer((req, res) => {
    handle(context, req, res).catch((error: unknown) => {
      // handle() answers every request itself; this only fires if writing the answer failed.
      context.logger.error('Local endpoint could not answer a request', error);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const { address, port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${isIP(address) === 6 ? `[${address}]` : address}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        server.close((error) => {
          clearTimeout(force);
          if (error) reject(error);
          else resolve();
        });
        // SDK clients keep connections alive; idle ones would otherwise hold close() open.
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

interface Context {
  readonly services: ReadonlyMap<string, JsonProtocolService>;
  readonly queryServices: ReadonlyMap<string, QueryProtocolService>;
  readonly restAppMesh: AppMeshRestHandler | undefined;
  readonly logger: EndpointLogger;
  readonly maxBodyBytes: number;
  readonly faults: EndpointFaultHook | undefined;
}

/** Which protocol a request speaks decides how its errors are rendered. */
type Protocol =
  | { kind: 'json'; contentType: string; queryMode: boolean }
  | { kind: 'rest' }
  // `service` is filled in once the request's Version is known, so errors carry its namespace.
  | { kind: 'query'; service?: QueryProtocolService };

async function handle(context: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = randomUUID();
  const url = new URL(req.url ?? '/', 'http://local');
  const protocol: Protocol = url.pathname.startsWith(APP_MESH_PREFIX)
    ? { kind: 'rest' }
    : isQueryRequest(req)
      ? { kind: 'query' }
      : {
          kind: 'json',
          contentType: jsonContentType(req.headers['content-type']) ?? 'application/x-amz-json-1.1',
          queryMode: req.headers['x-amzn-query-mode'] === 'true',
        };
  let status = 200;
  let headers: Record<string, string>;
  let body: string;
  let dropAfter = false;
  try {
    if (!isLoopbackAddress(req.socket.remoteAddress ?? '') || !isLoopbackHostHeader(req.headers.host)) {
      throw new AwsServiceError(
        'AccessDeniedException',
        'The local endpoint only answers requests made to loopback (127.0.0.1, ::1 or localhost)',
        403,
      );
    }
    const raw = await readBody(req, context.maxBodyBytes);
    const fault = context.faults?.(callOf(context, protocol, req, url, raw));
    if (fault?.kind === 'error') throw fault.error;
    if (fault?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.ms));
    if (fault?.kind === 'drop' && fault.when === 'before') {
      req.socket.destroy();
      return;
    }
    dropAfter = fault?.kind === 'drop';
    if (protocol.kind === 'rest') {
      const out = await answerRest(context, req, url, raw);
      status = out.statusCode ?? 200;
      headers = { 'content-type': 'application/json' };
      body = toWireJson(out.body);
    } else if (protocol.kind === 'query') {
      headers = { 'content-type': 'text/xml' };
      body = await answerQuery(context, protocol, raw, requestId);
    } else {
      headers = { 'content-type': protocol.contentType };
      body = toWireJson(await answerJson(context, req, raw));
    }
  } catch (error) {
    const wire = renderError(context, protocol, req, url, error, requestId);
    status = wire.statusCode;
    headers = wire.headers;
    body = wire.body;
  }
  if (dropAfter) {
    // The operation ran; the client never hears so.
    req.socket.destroy();
    return;
  }
  res.writeHead(status, {
    ...headers,
    'content-length': String(Buffer.byteLength(body)),
    'x-amzn-requestid': requestId,
  });
  res.end(body);
}

/** The service and operation a request names, for the fault hook (`unknown` where it names none). */
function callOf(context: Context, protocol: Protocol, req: IncomingMessage, url: URL, raw: Buffer): EndpointCall {
  if (protocol.kind === 'rest') return { service: 'appmesh', operation: `${req.method ?? 'GET'} ${url.pathname}` };
  if (protocol.kind === 'query') {
    const params = new URLSearchParams(raw.toString('utf8'));
    const version = params.get('Version') ?? 'unknown';
    // Known now, so an injected error carries the service's XML namespace like any other.
    protocol.service = context.queryServices.get(version);
    return { service: version, operation: params.get('Action') ?? 'unknown' };
  }
  const target = String(req.headers['x-amz-target'] ?? 'unknown.unknown');
  const dot = target.lastIndexOf('.');
  return { service: target.slice(0, Math.max(dot, 0)), operation: target.slice(dot + 1) };
}

/** Dispatches a JSON-protocol request to its service's operation. */
async function answerJson(context: Context, req: IncomingMessage, raw: Buffer): Promise<Record<string, unknown>> {
  const target = req.headers['x-amz-target'];
  if (req.method !== 'POST' || typeof target !== 'string') {
    throw new AwsServiceError(
      'UnknownOperationException',
      `The local endpoint answers POST requests with an X-Amz-Target header (JSON protocols) and App Mesh paths under ` +
        `${APP_MESH_PREFIX}; got ${req.method} ${req.url}${typeof target === 'string' ? '' : ' without X-Amz-Target'}`,
    );
  }
  const dot = target.lastIndexOf('.');
  const prefix = target.slice(0, Math.max(dot, 0));
  const name = target.slice(dot + 1);
  const service = context.services.get(prefix);
  if (service === undefined || dot < 0) {
    const known = [...context.services.keys()].join(', ') || 'none';
    throw new AwsServiceError('UnknownOperationException', `No local service answers target '${target}' (services: ${known})`);
  }
  if (!Object.hasOwn(service.operations, name)) {
    throw new AwsServiceError(
      'UnknownOperationException',
      `The local ${prefix} does not implement ${name}; it implements ${Object.keys(service.operations).join(', ')}`,
    );
  }
  const expected = `application/x-amz-json-${service.jsonVersion}`;
  const sent = jsonContentType(req.headers['content-type']);
  if (sent !== expected) {
    // Both the SDK and the CLI send the version from the service model; a mismatch means the
    // local service was registered with the wrong version, which would also break responses.
    throw new AwsServiceError(
      'SerializationException',
      `${prefix} speaks ${expected}; the request was sent as ${req.headers['content-type'] ?? 'no content type'}`,
    );
  }
  const input = parseJsonObject(raw, 'SerializationException');
  return (await service.operations[name](input ?? {})) ?? {};
}

/**
 * Decodes a Query request by its operation's input shape, runs the operation and encodes the
 * answer by its output shape.
 */
async function answerQuery(
  context: Context,
  protocol: Extract<Protocol, { kind: 'query' }>,
  raw: Buffer,
  requestId: string,
): Promise<string> {
  const params = new URLSearchParams(raw.toString('utf8'));
  const action = params.get('Action');
  if (action === null || action === '') {
    throw new AwsServiceError(QUERY_COMMON_ERRORS.missingAction, 'The request has no Action parameter');
  }
  const version = params.get('Version');
  if (version === null || version === '') {
    throw new AwsServiceError(QUERY_COMMON_ERRORS.missingParameter, `The request for ${action} has no Version parameter`);
  }
  const service = context.queryServices.get(version);
  if (service === undefined) {
    const known = [...context.queryServices.keys()].join(', ') || 'none';
    throw new AwsServiceError(
      QUERY_COMMON_ERRORS.invalidAction,
      `No local Query service answers API version ${version} (versions: ${known}); cannot run ${action}`,
    );
  }
  protocol.service = service;
  if (!Object.hasOwn(service.queryOperations, action)) {
    throw new AwsServiceError(
      QUERY_COMMON_ERRORS.invalidAction,
      `The local service for API version ${version} does not implement ${action}; it implements ${Object.keys(service.queryOperations).join(', ')}`,
    );
  }
  const operation = service.queryOperations[action];
  const input = decodeQueryInput(operation.shapes.input, params);
  const output = (await operation.handler(input)) ?? {};
  return encodeQueryResponse(operation.shapes, output, { xmlNamespace: service.xmlNamespace, requestId });
}

/** Hands an App Mesh request to the REST handler. */
async function answerRest(context: Context, req: IncomingMessage, url: URL, raw: Buffer) {
  if (context.restAppMesh === undefined) {
    throw new AwsServiceError('UnknownOperationException', `No local App Mesh is running; nothing answers ${req.method} ${url.pathname}`, 404);
  }
  return context.restAppMesh({
    method: (req.method ?? 'GET').toUpperCase(),
    path: url.pathname,
    query: url.searchParams,
    body: parseJsonObject(raw, 'BadRequestException'),
  });
}

function renderError(context: Context, protocol: Protocol, req: IncomingMessage, url: URL, error: unknown, requestId: string): WireError {
  let aws: AwsServiceError;
  if (error instanceof AwsServiceError) {
    aws = error;
  } else {
    const what =
      protocol.kind === 'rest' ? `${req.method} ${url.pathname}` : protocol.kind === 'query' ? 'a Query request' : String(req.headers['x-amz-target']);
    context.logger.error(`Local endpoint: ${what} failed unexpectedly`, error);
    const message = `The local service failed: ${error instanceof Error ? error.message : String(error)}`;
    // InternalFailure is the JSON protocols' generic fault; App Mesh models its own 500.
    aws = new AwsServiceError(protocol.kind === 'rest' ? 'InternalServerErrorException' : 'InternalFailure', message, 500);
  }
  if (protocol.kind === 'query') return queryProtocolError(aws, { xmlNamespace: protocol.service?.xmlNamespace, requestId });
  return protocol.kind === 'rest' ? restJsonError(aws) : jsonProtocolError(aws, protocol);
}

/** The body as a JSON object; `undefined` when empty. */
function parseJsonObject(raw: Buffer, code: string): Record<string, unknown> | undefined {
  if (raw.length === 0) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new AwsServiceError(code, `The request body is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new AwsServiceError(code, 'The request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    // Keep draining so the connection stays usable, but stop buffering.
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  if (size > limit) {
    throw new AwsServiceError('RequestEntityTooLargeException', `The request body is ${size} bytes; the limit is ${limit}`, 413);
  }
  return Buffer.concat(chunks);
}

/**
 * True for an AWS Query request: a form-encoded POST without `X-Amz-Target` (the SDK's
 * `AwsQueryProtocol` and botocore's `QuerySerializer` both send exactly this).
 */
function isQueryRequest(req: IncomingMessage): boolean {
  const type = req.headers['content-type']?.split(';', 1)[0].trim().toLowerCase();
  return req.method === 'POST' && req.headers['x-amz-target'] === undefined && type === 'application/x-www-form-urlencoded';
}

/** `application/x-amz-json-1.0` or `-1.1` without parameters, or `undefined` for anything else. */
function jsonContentType(header: string | undefined): string | undefined {
  const type = header?.split(';', 1)[0].trim().toLowerCase();
  return type === 'application/x-amz-json-1.0' || type === 'application/x-amz-json-1.1' ? type : undefined;
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x addresses. */
export function isLoopbackAddress(address: string): boolean {
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * True when the Host header names loopback. Checking it as well as the peer address stops a web
 * page from reaching this unauthenticated endpoint through DNS rebinding.
 */
function isLoopbackHostHeader(header: string | undefined): boolean {
  if (header === undefined) return false;
  const named = header.startsWith('[') ? header.slice(1, header.indexOf(']')) : header.split(':', 1)[0];
  // `sync-127.0.0.1`: the SDK prepends a model host prefix (StartSyncExecution) to the endpoint's host.
  const hostname = withoutHostPrefix(named);
  return hostname.toLowerCase() === 'localhost' || isLoopbackAddress(hostname);
}
