/**
 * The REST JSON side of the local endpoint (App Mesh): what the endpoint hands a REST service,
 * what it gets back, and a path-template matcher that decodes labels the way the SDK encodes them.
 */

import { AwsServiceError } from '../contracts';

/** One REST JSON request, as the endpoint decoded it. */
export interface RestRequest {
  /** HTTP method, upper case. */
  readonly method: string;
  /** The raw (still percent-encoded) path, e.g. `/v20190125/meshes/apps/virtualRouter/r/routes/x`. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The parsed JSON body; `undefined` when the request had none. */
  readonly body: Record<string, unknown> | undefined;
}

/** A REST JSON response: the status and the JSON body (dates are serialised by the endpoint). */
export interface RestResponse {
  /** @default 200 */
  readonly statusCode?: number;
  readonly body: unknown;
}

/**
 * Answers App Mesh REST JSON requests (paths under `/v20190125/`). Throw an
 * {@link AwsServiceError} for an AWS-shaped error; anything else becomes a 500.
 */
export type AppMeshRestHandler = (request: RestRequest) => Promise<RestResponse>;

/**
 * Matches `path` against a template such as `/v20190125/meshes/{meshName}/virtualNodes/{virtualNodeName}`
 * and returns the decoded labels, or `null` when it does not match. Labels are decoded with
 * `decodeURIComponent`, the inverse of the SDK's `extendedEncodeURIComponent` and botocore's quoting.
 *
 * @throws AwsServiceError `BadRequestException` when a label is not valid percent-encoding.
 *
 * @example
 * matchPath('/meshes/{meshName}', '/meshes/my%20mesh'); // { meshName: 'my mesh' }
 */
export function matchPath(template: string, path: string): Record<string, string> | null {
  const want = template.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return null;
  const labels: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const label = /^\{(\w+)\}$/.exec(want[i]);
    if (label === null) {
      if (want[i] !== got[i]) return null;
      continue;
    }
    if (got[i] === '') return null;
    try {
      labels[label[1]] = decodeURIComponent(got[i]);
    } catch (error) {
      throw new AwsServiceError('BadRequestException', `Path segment '${got[i]}' is not valid percent-encoding: ${(error as Error).message}`);
    }
  }
  return labels;
}
