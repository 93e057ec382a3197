/**
 * Local SSM Parameter Store behind the endpoint (target prefix `AmazonSSM`, awsJson1_1): the
 * operations the handlers and the CLI use, with the semantics a release depends on. Versions
 * count up from 1, `Overwrite: false` is an atomic create-if-absent (`ParameterAlreadyExists`),
 * and a value too long for its tier is rejected as AWS rejects it: a local run must not pass with
 * a document the real Parameter Store would refuse.
 */

import { AwsServiceError, type JsonProtocolService, type Operation } from '../contracts';

/** Parameter tiers, as PutParameter spells them. */
export type ParameterTier = 'Standard' | 'Advanced' | 'Intelligent-Tiering';

/** Options for {@link LocalSsm}. */
export interface LocalSsmOptions {
  /** @default '000000000000' */
  readonly accountId?: string;
  /** @default 'eu-west-1' */
  readonly region?: string;
  /**
   * The account's default parameter tier, used when a new parameter's PutParameter has no `Tier`.
   * @default 'Standard' - as in a new AWS account, so values over 4 KB fail as they would there
   */
  readonly defaultTier?: ParameterTier;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/** Operations {@link LocalSsm} answers. */
export type SsmOperationName =
  | 'GetParameter'
  | 'GetParameters'
  | 'GetParametersByPath'
  | 'PutParameter'
  | 'DeleteParameter'
  | 'DescribeParameters';

interface StoredVersion {
  readonly value: string;
  readonly version: number;
  readonly lastModifiedDate: Date;
}

interface StoredParameter {
  readonly name: string;
  type: 'String';
  tier: 'Standard' | 'Advanced';
  description?: string;
  dataType: string;
  /** Oldest first; at most {@link MAX_VERSIONS}, as SSM drops the oldest unlabelled version. */
  versions: StoredVersion[];
}

/** Limits as documented for Parameter Store. */
const STANDARD_MAX_VALUE_BYTES = 4096;
const ADVANCED_MAX_VALUE_BYTES = 8192;
const MAX_VERSIONS = 100;
const MAX_NAME_LENGTH = 1011;
const MAX_HIERARCHY_LEVELS = 15;
const GET_PARAMETERS_MAX_NAMES = 10;

/**
 * In-memory Parameter Store. `operations` is what the endpoint dispatches to; `getJson` and
 * `putJson` are how the local world seeds and reads documents without going through HTTP.
 *
 * @example
 * const ssm = new LocalSsm();
 * ssm.putJson('/ecs-release/colorapp/config', config);
 * const endpoint = await startLocalEndpoint({ jsonServices: [ssm] });
 * // later: ssm.getJson('/ecs-release/colorapp/state')
 */
export class LocalSsm implements JsonProtocolService {
  readonly targetPrefix = 'AmazonSSM';
  readonly jsonVersion = '1.1' as const;
  readonly operations: Readonly<Record<SsmOperationName, Operation>>;

  private readonly parameters = new Map<string, StoredParameter>();
  private readonly failures = new Map<string, AwsServiceError[]>();
  private readonly accountId: string;
  private readonly region: string;
  private readonly defaultTier: ParameterTier;
  private readonly now: () => Date;

  constructor(options: LocalSsmOptions = {}) {
    this.accountId = options.accountId ?? '000000000000';
    this.region = options.region ?? 'eu-west-1';
    this.defaultTier = options.defaultTier ?? 'Standard';
    this.now = options.now ?? (() => new Date());
    const op = (name: SsmOperationName, fn: (input: Record<string, unknown>) => Record<string, unknown>): Operation => {
      // Synchronous bodies: no request interleaves between a check and the write that depends
      // on it, which is what makes Overwrite: false an atomic create-if-absent.
      return async (input) => {
        this.failInjected(name);
        return fn(input);
      };
    };
    this.operations = {
      GetParameter: op('GetParameter', (input) => this.getParameter(input)),
      GetParameters: op('GetParameters', (input) => this.getParameters(input)),
      GetParametersByPath: op('GetParametersByPath', (input) => this.getParametersByPath(input)),
      PutParameter: op('PutParameter', (input) => this.putParameter(input)),
      DeleteParameter: op('DeleteParameter', (input) => this.deleteParameter(input)),
      DescribeParameters: op('DescribeParameters', (input) => this.describeParameters(input)),
    };
  }

  /**
   * Reads a parameter and parses it as JSON; `undefined` when it does not exist.
   *
   * @throws SyntaxError when the value is not JSON.
   */
  getJson<T = unknown>(name: string): T | undefined {
    const parameter = this.parameters.get(name);
    return parameter === undefined ? undefined : (JSON.parse(latest(parameter).value) as T);
  }

  /**
   * Writes `value` as JSON (creating or overwriting), with the same validation as PutParameter:
   * the world cannot be seeded with a document AWS would refuse.
   *
   * @returns the new version.
   * @throws AwsServiceError `ValidationException` when the JSON is too long for the parameter's tier.
   */
  putJson(name: string, value: unknown): number {
    return this.putString(name, JSON.stringify(value));
  }

  /**
   * Writes a plain string value (creating or overwriting), validated as PutParameter validates it.
   *
   * @returns the new version.
   */
  putString(name: string, value: string): number {
    return this.putParameter({ Name: name, Value: value, Type: 'String', Overwrite: true }).Version as number;
  }

  /**
   * Makes the next calls of `operation` fail, one error per call, in order, before they touch
   * any state; later calls behave normally again.
   *
   * @example
   * ssm.injectFailures('PutParameter', [new AwsServiceError('ThrottlingException', 'Rate exceeded')]);
   */
  injectFailures(operation: SsmOperationName, errors: readonly AwsServiceError[]): void {
    this.failures.set(operation, [...(this.failures.get(operation) ?? []), ...errors]);
  }

  /** Drops every failure injected and not yet thrown. */
  clearInjectedFailures(): void {
    this.failures.clear();
  }

  private failInjected(operation: string): void {
    const error = this.failures.get(operation)?.shift();
    if (error !== undefined) throw error;
  }

  // ---------- operations ----------

  private getParameter(input: Record<string, unknown>): Record<string, unknown> {
    const { name, version } = parseSelector(requiredString(input, 'Name'));
    const parameter = this.parameters.get(name);
    if (parameter === undefined) throw parameterNotFound(name);
    return { Parameter: this.render(parameter, version) };
  }

  private getParameters(input: Record<string, unknown>): Record<string, unknown> {
    const names = input.Names;
    if (!Array.isArray(names) || names.length === 0 || names.length > GET_PARAMETERS_MAX_NAMES || !names.every(isString)) {
      throw validation(`Names must be a list of 1 to ${GET_PARAMETERS_MAX_NAMES} parameter names`);
    }
    const found: Record<string, unknown>[] = [];
    const invalid: string[] = [];
    for (const requested of new Set(names)) {
      const { name, version } = parseSelector(requested);
      const parameter = this.parameters.get(name);
      if (parameter === undefined || (version !== undefined && !parameter.versions.some((v) => v.version === version))) {
        invalid.push(requested);
      } else {
        found.push(this.render(parameter, version));
      }
    }
    return { Parameters: found, InvalidParameters: invalid };
  }

  private getParametersByPath(input: Record<string, unknown>): Record<string, unknown> {
    const path = requiredString(input, 'Path');
    if (!path.startsWith('/')) throw validation(`The path must begin with a forward slash (/); got '${path}'`);
    rejectFilters(input.ParameterFilters, 'ParameterFilters');
    const recursive = input.Recursive === true;
    const prefix = path.endsWith('/') ? path : `${path}/`;
    const matches = this.sortedNames().filter(
      (name) => name.startsWith(prefix) && (recursive || !name.slice(prefix.length).includes('/')),
    );
    const page = paginate(matches, input, 10);
    return { Parameters: page.items.map((name) => this.render(this.parameters.get(name)!)), NextToken: page.nextToken };
  }

  private putParameter(input: Record<string, unknown>): Record<string, unknown> {
    const name = requiredString(input, 'Name');
    validateName(name);
    const value = input.Value;
    if (typeof value !== 'string') throw validation("1 validation error detected: Value null at 'value' failed to satisfy constraint: Member must not be null");
    if (value.length === 0) {
      throw validation("1 validation error detected: Value '' at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1");
    }
    const type = optionalString(input, 'Type');
    if (type !== undefined && type !== 'String') {
      throw new AwsServiceError('UnsupportedParameterType', `The local Parameter Store supports only String parameters; got ${type}`);
    }
    const tierInput = optionalString(input, 'Tier');
    if (tierInput !== undefined && !['Standard', 'Advanced', 'Intelligent-Tiering'].includes(tierInput)) {
      throw validation(`Tier must be Standard, Advanced or Intelligent-Tiering; got ${tierInput}`);
    }
    const existing = this.parameters.get(name);
    if (existing !== undefined && input.Overwrite !== true) {
      throw new AwsServiceError(
        'ParameterAlreadyExists',
        'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
      );
    }
    if (existing === undefined && type === undefined) {
      throw validation('A parameter type is required when you create a parameter.');
    }
    const tier = resolveTier((tierInput as ParameterTier | undefined) ?? (existing ? existing.tier : this.defaultTier), value, existing?.tier);
    const description = optionalString(input, 'Description');
    if (description !== undefined && description.length > 1024) {
      throw validation('1 validation error detected: Value at \'description\' failed to satisfy constraint: Member must have length less than or equal to 1024');
    }

    const now = this.now();
    const parameter: StoredParameter = existing ?? { name, type: 'String', tier, dataType: 'text', versions: [] };
    const version = (parameter.versions.at(-1)?.version ?? 0) + 1;
    parameter.tier = tier;
    if (description !== undefined) parameter.description = description;
    parameter.versions = [...parameter.versions, { value, version, lastModifiedDate: now }].slice(-MAX_VERSIONS);
    this.parameters.set(name, parameter);
    return { Version: version, Tier: tier };
  }

  private deleteParameter(input: Record<string, unknown>): Record<string, unknown> {
    const name = requiredString(input, 'Name');
    if (!this.parameters.delete(name)) throw parameterNotFound(name);
    return {};
  }

  private describeParameters(input: Record<string, unknown>): Record<string, unknown> {
    rejectFilters(input.Filters, 'Filters');
    let names = this.sortedNames();
    const filters = input.ParameterFilters;
    if (filters !== undefined) {
      if (!Array.isArray(filters)) throw validation('ParameterFilters must be a list');
      for (const filter of filters as { Key?: unknown; Option?: unknown; Values?: unknown }[]) {
        names = names.filter(describeFilter(filter, (name) => this.parameters.get(name)!));
      }
    }
    const page = paginate(names, input, 50);
    return {
      Parameters: page.items.map((name) => {
        const parameter = this.parameters.get(name)!;
        const current = latest(parameter);
        return {
          Name: name,
          ARN: this.arn(name),
          Type: parameter.type,
          LastModifiedDate: current.lastModifiedDate,
          LastModifiedUser: `arn:aws:iam::${this.accountId}:user/local`,
          Description: parameter.description,
          Version: current.version,
          Tier: parameter.tier,
          Policies: [],
          DataType: parameter.dataType,
        };
      }),
      NextToken: page.nextToken,
    };
  }

  // ---------- helpers ----------

  private render(parameter: StoredParameter, version?: number): Record<string, unknown> {
    const stored = version === undefined ? latest(parameter) : parameter.versions.find((v) => v.version === version);
    if (stored === undefined) {
      throw new AwsServiceError(
        'ParameterVersionNotFound',
        `Systems Manager could not find version ${version} of ${parameter.name}. Verify the version and try again.`,
      );
    }
    return {
      Name: parameter.name,
      Type: parameter.type,
      Value: stored.value,
      Version: stored.version,
      ...(version !== undefined ? { Selector: `:${version}` } : {}),
      LastModifiedDate: stored.lastModifiedDate,
      ARN: this.arn(parameter.name),
      DataType: parameter.dataType,
    };
  }

  private arn(name: string): string {
    return `arn:aws:ssm:${this.region}:${this.accountId}:parameter${name.startsWith('/') ? '' : '/'}${name}`;
  }

  private sortedNames(): string[] {
    return [...this.parameters.keys()].sort();
  }
}

function latest(parameter: StoredParameter): StoredVersion {
  return parameter.versions[parameter.versions.length - 1];
}

function parameterNotFound(name: string): AwsServiceError {
  return new AwsServiceError('ParameterNotFound', `Parameter ${name} not found.`);
}

function validation(message: string): AwsServiceError {
  return new AwsServiceError('ValidationException', message);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function requiredString(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw validation(
      `1 validation error detected: Value ${value === undefined ? 'null' : JSON.stringify(value)} at '${lowerFirst(field)}' ` +
        'failed to satisfy constraint: Member must not be null and must have length greater than or equal to 1',
    );
  }
  return value;
}

function optionalString(input: Record<string, unknown>, field: string): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw validation(`${field} must be a string`);
  return value;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** `name` or `name:version`. Labels are not supported locally. */
function parseSelector(requested: string): { name: string; version?: number } {
  const colon = requested.lastIndexOf(':');
  if (colon < 0) return { name: requested };
  const selector = requested.slice(colon + 1);
  if (!/^[1-9]\d*$/.test(selector)) {
    throw validation(`The local Parameter Store supports version selectors (name:3), not labels; got '${requested}'`);
  }
  return { name: requested.slice(0, colon), version: Number(selector) };
}

/** The naming rules PutParameter enforces. */
function validateName(name: string): void {
  if (name.length > MAX_NAME_LENGTH) {
    throw validation(`Parameter name must be at most ${MAX_NAME_LENGTH} characters; got ${name.length}`);
  }
  if (!/^[a-zA-Z0-9_.\-/]+$/.test(name)) {
    throw validation(`Parameter name '${name}' can include only the following symbols and letters: a-zA-Z0-9_.-/`);
  }
  if (name.includes('/') && !name.startsWith('/')) {
    throw validation(`Parameter name '${name}' must be a fully qualified name: a hierarchy begins with a forward slash (/)`);
  }
  if (/^\/?(aws|ssm)/i.test(name)) {
    throw validation(`Parameter name '${name}' can't be prefixed with "aws" or "ssm" (case-insensitive).`);
  }
  const levels = name.split('/').filter((part) => part.length > 0).length;
  if (levels > MAX_HIERARCHY_LEVELS) {
    throw new AwsServiceError(
      'HierarchyLevelLimitExceededException',
      `Parameter name '${name}' has ${levels} levels; a hierarchy can have at most ${MAX_HIERARCHY_LEVELS}.`,
    );
  }
}

/**
 * The tier the parameter ends up in, checking the value fits. Lengths are counted in UTF-8
 * bytes: AWS documents the limits as 4 KB and 8 KB, and counting bytes is never more lenient.
 */
function resolveTier(requested: ParameterTier, value: string, current: 'Standard' | 'Advanced' | undefined): 'Standard' | 'Advanced' {
  const bytes = Buffer.byteLength(value, 'utf8');
  const tier = requested === 'Intelligent-Tiering' ? (bytes > STANDARD_MAX_VALUE_BYTES || current === 'Advanced' ? 'Advanced' : 'Standard') : requested;
  if (tier === 'Standard' && current === 'Advanced') {
    throw validation(
      "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier " +
        'to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.',
    );
  }
  if (tier === 'Standard' && bytes > STANDARD_MAX_VALUE_BYTES) {
    throw validation(
      `Standard tier parameters support a maximum parameter value of ${STANDARD_MAX_VALUE_BYTES} characters. To create a larger ` +
        'parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see ' +
        'https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html',
    );
  }
  if (bytes > ADVANCED_MAX_VALUE_BYTES) {
    throw validation(
      `Advanced tier parameters support a maximum parameter value of ${ADVANCED_MAX_VALUE_BYTES} characters; this value is ${bytes} bytes.`,
    );
  }
  return tier;
}

/** Fails loudly on filters this local store does not implement, rather than ignoring them. */
function rejectFilters(filters: unknown, field: string): void {
  if (Array.isArray(filters) && filters.length > 0) {
    throw new AwsServiceError('InvalidFilterKey', `The local Parameter Store does not support ${field} here`);
  }
}

/** DescribeParameters' ParameterFilters: Name (Equals, BeginsWith), Path (OneLevel, Recursive), Type, Tier. */
function describeFilter(
  filter: { Key?: unknown; Option?: unknown; Values?: unknown },
  lookup: (name: string) => StoredParameter,
): (name: string) => boolean {
  const values = Array.isArray(filter.Values) && filter.Values.every(isString) ? filter.Values : undefined;
  if (values === undefined || values.length === 0) throw new AwsServiceError('InvalidFilterValue', 'Each filter needs at least one value');
  const option = filter.Option ?? (filter.Key === 'Path' ? 'OneLevel' : 'Equals');
  switch (filter.Key) {
    case 'Name':
      if (option === 'Equals') return (name) => values.includes(name);
      if (option === 'BeginsWith') return (name) => values.some((v) => name.startsWith(v));
      break;
    case 'Path':
      if (option === 'OneLevel' || option === 'Recursive') {
        return (name) =>
          values.some((v) => {
            const prefix = v.endsWith('/') ? v : `${v}/`;
            return name.startsWith(prefix) && (option === 'Recursive' || !name.slice(prefix.length).includes('/'));
          });
      }
      break;
    case 'Type':
      if (option === 'Equals') return (name) => values.includes(lookup(name).type);
      break;
    case 'Tier':
      if (option === 'Equals') return (name) => values.includes(lookup(name).tier);
      break;
    default:
      throw new AwsServiceError('InvalidFilterKey', `The local Parameter Store does not support the filter key ${String(filter.Key)}`);
  }
  throw new AwsServiceError('InvalidFilterOption', `The filter option ${String(option)} is not valid for the key ${String(filter.Key)}`);
}

/** A page of `names` after NextToken (an opaque token: the base64 of the last name returned). */
function paginate(names: string[], input: Record<string, unknown>, maxResults: number): { items: string[]; nextToken?: string } {
  const limit = input.MaxResults ?? maxResults;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > maxResults) {
    throw validation(`MaxResults must be an integer from 1 to ${maxResults}; got ${JSON.stringify(limit)}`);
  }
  let start = 0;
  if (input.NextToken !== undefined) {
    const after = typeof input.NextToken === 'string' ? Buffer.from(input.NextToken, 'base64url').toString('utf8') : '';
    if (after === '') throw new AwsServiceError('InvalidNextToken', 'The specified token is not valid.');
    start = names.findIndex((name) => name > after);
    if (start < 0) start = names.length;
  }
  const items = names.slice(start, start + limit);
  const more = start + limit < names.length;
  return { items, nextToken: more ? Buffer.from(items[items.length - 1], 'utf8').toString('base64url') : undefined };
}
