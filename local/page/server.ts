/**
 * The release page's server: loopback HTTP, static files (the page, its script, Chart.js from
 * node_modules) and a tiny JSON API over {@link ./data}. The browser never talks to the AWS
 * endpoint itself; this server is one more SDK client of it, like the CLI.
 *
 *   GET  /                   the page
 *   GET  /api/release        {@link ReleaseView}
 *   GET  /api/metrics        {@link MetricsView}; `?window=SECONDS` (60..3600, default 300)
 *   POST /api/approve        `{ "releaseId": "..." }`: lets the waiting gate continue
 *   POST /api/reject         `{ "releaseId": "...", "reason": "..." }`: fails it; the release rolls back
 *
 * Errors are `{ error, message }` with a 4xx for anything the request got wrong (checked before
 * any AWS call, so nothing is touched) and the catalogue's status codes for what the release
 * documents say (404 no gate waiting, 410 gate closed), as the API answers them.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as z from 'zod';
import { localIdentity } from '../../cli/context';
import type { GateLogger } from '../../lambdas/api/approvals';
import { API_ERROR_CODES, MAX_BODY_BYTES, ReasonSchema, ReleaseIdSchema, statusCodeFor } from '../../lambdas/api/http';
import { ReleaseError } from '../../lambdas/shared/errors';
import {
  approveWaiting,
  createPageClients,
  destroyPageClients,
  readMetrics,
  readReleaseView,
  rejectWaiting,
  type PageClients,
} from './data';

/** What the page serves and how. */
export interface ReleasePageOptions {
  /** The local AWS endpoint, e.g. `http://127.0.0.1:4566`. */
  readonly endpointUrl: string;
  readonly region: string;
  /** The service the page shows (one page per service, as one pipeline per service). */
  readonly service: string;
  /** Port on 127.0.0.1. @default 0 (any free port) */
  readonly port?: number;
  /** Who approves and rejects from the page, recorded as `approvedBy` / in the rejection. @default - `user@host` of this process, as the CLI */
  readonly identity?: string;
  /** Length of one chart point, seconds (a CloudWatch period). @default 5 */
  readonly metricPeriodSeconds?: number;
}

/** A running page server. Close it: it owns a port and SDK clients. */
export interface ReleasePage {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  close(): Promise<void>;
}

/** `POST /api/approve`: the release the person looked at; if another one waits, nothing is approved. */
export const PageApproveSchema = z.strictObject({ releaseId: ReleaseIdSchema });
/** `POST /api/reject`: the release and why (recorded in its history, so never empty). */
export const PageRejectSchema = z.strictObject({ releaseId: ReleaseIdSchema, reason: ReasonSchema });

/** `?window=` bounds: a minute shows one bake; an hour at 5-second periods is 720 points a colour. */
const WINDOW_SECONDS = { min: 60, max: 3600, default: 300 } as const;

/** The files the page is made of, by URL path: a fixed map, so no path from a request ever reaches the file system. */
function staticFiles(): Readonly<Record<string, { file: string; type: string }>> {
  // Chart.js's UMD build defines `window.Chart`: no bundler, no import map, no build step.
  const chartJs = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
  return {
    '/': { file: path.join(__dirname, 'index.html'), type: 'text/html; charset=utf-8' },
    '/page.js': { file: path.join(__dirname, 'page.js'), type: 'text/javascript; charset=utf-8' },
    '/vendor/chart.umd.min.js': { file: chartJs, type: 'text/javascript; charset=utf-8' },
  };
}

/** A request the page's API refuses before touching anything. */
class PageRequestError extends Error {
  override readonly name = 'PageRequestError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * Starts the page server on 127.0.0.1.
 *
 * @example
 * const page = await startReleasePage({ endpointUrl: world.endpoint.url, region: world.region, service: 'colorapp' });
 * console.log(`release page ${page.url}`);
 */
export async function startReleasePage(options: ReleasePageOptions): Promise<ReleasePage> {
  const clients = createPageClients(options);
  const files = staticFiles();
  const context: RequestContext = {
    clients,
    files,
    service: options.service,
    identity: options.identity ?? localIdentity(),
    periodSeconds: options.metricPeriodSeconds ?? 5,
    port: 0,
    logger: {
      info: () => undefined,
      warn: (message: unknown, ...extra: unknown[]) => console.warn(`release page: ${String(message)}`, ...extra),
    } as GateLogger,
  };
  const server = createServer((request, response) => {
    handle(context, request, response).catch((error: unknown) => {
      // handle() answers every error itself; this is only for a response that broke mid-write.
      console.warn(`release page: ${request.method} ${request.url}: ${(error as Error).message}`);
      response.destroy();
    });
  });
  await listen(server, options.port ?? 0);
  context.port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${context.port}/`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The page polls with keep-alive connections; close() alone would wait for them to idle out.
        server.closeAllConnections();
      });
      destroyPageClients(clients);
    },
  };
}

interface RequestContext {
  readonly clients: PageClients;
  readonly files: ReturnType<typeof staticFiles>;
  readonly service: string;
  readonly identity: string;
  readonly periodSeconds: number;
  readonly logger: GateLogger;
  port: number;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // Loopback only: the page can approve releases, so it must not be reachable from the network.
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function handle(ctx: RequestContext, request: IncomingMessage, response: ServerResponse): Promise<void> {
  try {
    checkHost(ctx, request);
    const url = new URL(request.url ?? '/', `http://127.0.0.1:${ctx.port}`);
    const pathname = url.pathname === '/index.html' ? '/' : url.pathname;
    const file = ctx.files[pathname];
    if (file) {
      allowMethods(request, ['GET', 'HEAD']);
      const body = await readFile(file.file);
      send(response, 200, file.type, request.method === 'HEAD' ? '' : body);
      return;
    }
    switch (pathname) {
      case '/api/release':
        allowMethods(request, ['GET']);
        sendJson(response, 200, await readReleaseView(ctx.clients, ctx.service));
        return;
      case '/api/metrics': {
        allowMethods(request, ['GET']);
        const windowSeconds = windowParameter(url.searchParams);
        sendJson(response, 200, await readMetrics(ctx.clients, ctx.service, { windowSeconds, periodSeconds: ctx.periodSeconds }));
        return;
      }
      case '/api/approve': {
        allowMethods(request, ['POST']);
        const body = parseBody(PageApproveSchema, await readJsonBody(ctx, request), 'approve request');
        const answer = await approveWaiting(ctx.clients, ctx.service, body.releaseId, ctx.identity, ctx.logger);
        if (!answer.answered) return sendGateClosed(response, ctx.service, answer.approval);
        sendJson(response, 200, { releaseId: answer.approval.releaseId, gate: answer.approval.gate, ...answer.output });
        return;
      }
      case '/api/reject': {
        allowMethods(request, ['POST']);
        const body = parseBody(PageRejectSchema, await readJsonBody(ctx, request), 'reject request');
        const answer = await rejectWaiting(ctx.clients, ctx.service, { ...body, by: ctx.identity }, ctx.logger);
        if (!answer.answered) return sendGateClosed(response, ctx.service, answer.approval);
        // 202, as the API: the gate is answered, the rollback follows.
        sendJson(response, 202, { releaseId: answer.approval.releaseId, gate: answer.approval.gate, ...answer.output });
        return;
      }
      default:
        throw new PageRequestError(404, 'NotFound', `No such page or API route: ${pathname}. The page is at /.`);
    }
  } catch (error) {
    sendError(response, error);
  }
}

/**
 * Only requests addressed to the loopback server by a loopback name. A site the browser visits
 * could otherwise point its own host name at 127.0.0.1 (DNS rebinding) and read or approve
 * releases through the browser.
 */
function checkHost(ctx: RequestContext, request: IncomingMessage): void {
  const allowed = [`127.0.0.1:${ctx.port}`, `localhost:${ctx.port}`];
  if (!allowed.includes(request.headers.host ?? '')) {
    throw new PageRequestError(403, 'ForbiddenHost', `Host '${request.headers.host ?? ''}' is not this page; open http://127.0.0.1:${ctx.port}/.`);
  }
}

function allowMethods(request: IncomingMessage, methods: readonly string[]): void {
  if (!methods.includes(request.method ?? '')) {
    throw new PageRequestError(405, 'MethodNotAllowed', `${request.method} is not allowed here; use ${methods.join(' or ')}.`, {
      Allow: methods.join(', '),
    });
  }
}

function windowParameter(params: URLSearchParams): number {
  const raw = params.get('window');
  if (raw === null) return WINDOW_SECONDS.default;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < WINDOW_SECONDS.min || value > WINDOW_SECONDS.max) {
    throw new PageRequestError(
      400,
      'ValidationError',
      `Invalid window '${raw}': a whole number of seconds from ${WINDOW_SECONDS.min} to ${WINDOW_SECONDS.max}.`,
    );
  }
  return value;
}

/**
 * The JSON body of a POST. Only `application/json` from this page's own origin: a form on
 * another site can post `text/plain` to loopback without asking, but not JSON.
 */
async function readJsonBody(ctx: RequestContext, request: IncomingMessage): Promise<unknown> {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://127.0.0.1:${ctx.port}` && origin !== `http://localhost:${ctx.port}`) {
    throw new PageRequestError(403, 'ForbiddenOrigin', `Requests from ${origin} may not answer approval gates; use the page itself.`);
  }
  const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    throw new PageRequestError(415, 'UnsupportedMediaType', `Send the body as application/json, not '${type || 'nothing'}'.`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new PageRequestError(413, 'PayloadTooLarge', `The body is larger than ${MAX_BODY_BYTES} bytes; these requests need a few hundred.`);
    }
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(raw);
  } catch {
    throw new PageRequestError(400, 'ValidationError', 'The body is not valid JSON.');
  }
}

function parseBody<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`).join('; ');
    throw new PageRequestError(400, 'ValidationError', `Invalid ${what}: ${issues}.`);
  }
  return parsed.data;
}

function sendGateClosed(response: ServerResponse, service: string, approval: { releaseId: string; gate: string }): void {
  sendJson(response, 410, {
    error: API_ERROR_CODES.approvalGateClosed,
    message:
      `The approval gate is no longer waiting: release ${approval.releaseId} (gate ${approval.gate}) timed out or its execution ended. ` +
      `Check it with 'ecs-release status --service ${service} --release-id ${approval.releaseId}'.`,
    releaseId: approval.releaseId,
    gate: approval.gate,
  });
}

function sendError(response: ServerResponse, error: unknown): void {
  if (error instanceof PageRequestError) {
    for (const [name, value] of Object.entries(error.headers)) response.setHeader(name, value);
    sendJson(response, error.statusCode, { error: error.code, message: error.message });
    return;
  }
  if (error instanceof ReleaseError) {
    sendJson(response, statusCodeFor(error), { error: error.name, message: error.message });
    return;
  }
  // The endpoint is this machine's own: its errors name nothing secret, and they are what a
  // person needs to see (e.g. the world was stopped).
  const { name, message } = error as Error;
  const unreachable = /ECONNREFUSED|ECONNRESET|socket hang up/.test(`${message} ${(error as { code?: string }).code ?? ''}`);
  sendJson(response, unreachable ? 502 : 500, {
    error: unreachable ? 'EndpointUnreachable' : name,
    message: unreachable ? `The local AWS endpoint does not answer (${message}); is \`npm run local\` still running?` : message,
  });
}

function sendJson(response: ServerResponse, statusCode: number, body: unknown): void {
  // Release status changes from one second to the next; a cached answer would mislead.
  response.setHeader('Cache-Control', 'no-store');
  send(response, statusCode, 'application/json; charset=utf-8', JSON.stringify(body));
}

function send(response: ServerResponse, statusCode: number, type: string, body: string | Buffer): void {
  response.writeHead(statusCode, { 'Content-Type': type, 'X-Content-Type-Options': 'nosniff' });
  response.end(body);
}
