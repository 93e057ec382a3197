/**
 * The AWS Query protocol (`awsQuery`) side of the local endpoint, as Elastic Load Balancing v2
 * speaks it: a form-encoded `POST /` body (`Action=DescribeRules&Version=2015-12-01&...`) in, an
 * XML document out, and XML errors.
 *
 * Decoding and encoding are driven by each operation's input and output shapes, so nothing about
 * a member's wire name or type is guessed. The shapes come from the SDK's own model (the static
 * schemas `@aws-sdk/client-elastic-load-balancing-v2` exports, e.g. `DescribeRules$`) through
 * {@link operationShapesFromSdk}; the rules below mirror the code that reads and writes them:
 *
 * - Requests, as `@aws-sdk/core` 3.9x `QueryShapeSerializer` (with `AwsQueryProtocol`'s
 *   `serializeEmptyLists: true`) and botocore's `QuerySerializer` write them: a structure member
 *   is `Prefix.Member`, a list item `Prefix.member.N` (N from 1; `Prefix.N` when flattened), an
 *   empty list `Prefix=` with no value, a map entry `Prefix.entry.N.key` / `.value`, booleans
 *   `true`/`false`, timestamps ISO 8601.
 * - Responses, as `XmlShapeDeserializer` (SDK) and botocore's `QueryParser` read them:
 *   `<{Action}Response xmlns="..."><{Action}Result>...</{Action}Result><ResponseMetadata>
 *   <RequestId>..</RequestId></ResponseMetadata></{Action}Response>`, list items in `<member>`,
 *   map entries in `<entry><key/><value/></entry>`, timestamps ISO 8601.
 * - Errors, as `AwsQueryProtocol.handleError` (SDK) and botocore read them:
 *   `<ErrorResponse><Error><Type>Sender</Type><Code>RuleNotFound</Code><Message>..</Message>
 *   </Error><RequestId>..</RequestId></ErrorResponse>`. The code is the model's `awsQueryError`
 *   code (`RuleNotFound`), not the exception's shape name (`RuleNotFoundException`).
 */

import { NormalizedSchema } from '@smithy/core/schema';
import { AwsServiceError } from '../contracts';
import type { WireError } from './wire';

/** A scalar shape; numbers cover every integer, long and double member. */
export interface QueryScalarShape {
  readonly type: 'string' | 'number' | 'boolean' | 'timestamp' | 'blob';
}

/** A list: items under `<member>` (`Prefix.member.N` in requests), or directly repeated when flattened. */
export interface QueryListShape {
  readonly type: 'list';
  readonly member: QueryShape;
  /** Wire name of one item: `member` unless the model renames it. */
  readonly memberName: string;
  readonly flattened: boolean;
}

/** A map: `entry` elements with `key` and `value` (or the model's names). */
export interface QueryMapShape {
  readonly type: 'map';
  readonly key: QueryShape;
  readonly value: QueryShape;
  readonly keyName: string;
  readonly valueName: string;
  readonly flattened: boolean;
}

/** One member of a structure. */
export interface QueryMember {
  readonly shape: QueryShape;
  /** The name on the wire (the model's `xmlName`, else the member name). */
  readonly wireName: string;
  readonly required: boolean;
}

/** A structure: named members, in model order. */
export interface QueryStructureShape {
  readonly type: 'structure';
  readonly name: string;
  readonly members: Readonly<Record<string, QueryMember>>;
}

/** Any shape the codec handles. */
export type QueryShape = QueryScalarShape | QueryListShape | QueryMapShape | QueryStructureShape;

/** What the codec needs to know about one operation. */
export interface QueryOperationShapes {
  /** The action name, e.g. `DescribeRules`. */
  readonly name: string;
  readonly input: QueryStructureShape;
  readonly output: QueryStructureShape;
}

/** The generic faults every Query service shares (AWS API reference, "Common Errors"). */
export const QUERY_COMMON_ERRORS = {
  /** HTTP 400: the request has no `Action`. */
  missingAction: 'MissingAction',
  /** HTTP 400: the action (or the action in this API version) does not exist. */
  invalidAction: 'InvalidAction',
  /** HTTP 400: a required parameter (here: `Version`) is missing. */
  missingParameter: 'MissingParameter',
  /** HTTP 400: the query string does not follow the shapes (here: a parameter no member reads). */
  invalidQueryParameter: 'InvalidQueryParameter',
  /** HTTP 400: a value breaks a constraint of its shape (type, required). */
  validationError: 'ValidationError',
  /** HTTP 500: the service failed. */
  internalFailure: 'InternalFailure',
} as const;

/**
 * Converts an operation schema exported by an SDK v3 client (e.g. `DescribeRules$` from
 * `@aws-sdk/client-elastic-load-balancing-v2`) into the shapes the codec reads. Done once per
 * operation when a service is built.
 *
 * @throws Error for a recursive shape or a shape type the Query protocol cannot carry.
 *
 * @example
 * import { DescribeRules$ } from '@aws-sdk/client-elastic-load-balancing-v2';
 * const shapes = operationShapesFromSdk(DescribeRules$); // { name: 'DescribeRules', input, output }
 */
export function operationShapesFromSdk(operationSchema: unknown): QueryOperationShapes {
  const op = operationSchema as readonly unknown[];
  if (!Array.isArray(op) || op[0] !== 9 || typeof op[2] !== 'string') {
    throw new Error('Expected an SDK v3 static operation schema such as DescribeRules$');
  }
  const resolve = (ref: unknown) => (typeof ref === 'function' ? (ref as () => unknown)() : ref);
  const input = convert(NormalizedSchema.of(resolve(op[4]) as never), new Set());
  const output = convert(NormalizedSchema.of(resolve(op[5]) as never), new Set());
  if (input.type !== 'structure' || output.type !== 'structure') {
    throw new Error(`${op[2]}: the Query protocol needs structure input and output shapes`);
  }
  return { name: op[2], input, output };
}

function convert(ns: NormalizedSchema, seen: Set<string>): QueryShape {
  if (ns.isStructSchema()) {
    const name = ns.getName() ?? 'anonymous';
    if (seen.has(name)) throw new Error(`Shape ${name} is recursive; the local Query codec does not support recursion`);
    const inner = new Set(seen).add(name);
    // A static structure schema lists its required members first and counts them last.
    const raw = ns.getSchema() as unknown as readonly unknown[];
    const requiredCount = Array.isArray(raw) && typeof raw[6] === 'number' ? raw[6] : 0;
    const members: Record<string, QueryMember> = {};
    let index = 0;
    for (const [memberName, member] of ns.structIterator()) {
      members[memberName] = {
        shape: convert(member, inner),
        wireName: (member.getMergedTraits().xmlName as string | undefined) ?? memberName,
        required: index < requiredCount,
      };
      index += 1;
    }
    return { type: 'structure', name, members };
  }
  if (ns.isListSchema()) {
    const member = ns.getValueSchema();
    return {
      type: 'list',
      member: convert(member, seen),
      memberName: (member.getMergedTraits().xmlName as string | undefined) ?? 'member',
      flattened: Boolean(ns.getMergedTraits().xmlFlattened),
    };
  }
  if (ns.isMapSchema()) {
    const key = ns.getKeySchema();
    const value = ns.getValueSchema();
    return {
      type: 'map',
      key: convert(key, seen),
      value: convert(value, seen),
      keyName: (key.getMergedTraits().xmlName as string | undefined) ?? 'key',
      valueName: (value.getMergedTraits().xmlName as string | undefined) ?? 'value',
      flattened: Boolean(ns.getMergedTraits().xmlFlattened),
    };
  }
  if (ns.isTimestampSchema()) return { type: 'timestamp' };
  if (ns.isBooleanSchema()) return { type: 'boolean' };
  if (ns.isNumericSchema() || ns.isBigIntegerSchema() || ns.isBigDecimalSchema()) return { type: 'number' };
  if (ns.isBlobSchema()) return { type: 'blob' };
  if (ns.isStringSchema()) return { type: 'string' };
  throw new Error(`Shape ${ns.getName() ?? '?'} has a type the Query protocol cannot carry`);
}

// ---------- requests ----------

/**
 * Decodes a form-encoded request body into the operation's input, following `shape`. `Action` and
 * `Version` are the envelope and are not part of the result.
 *
 * @throws AwsServiceError `ValidationError` for a value that is not of its member's type or a
 *   missing required member; `InvalidQueryParameter` for a parameter no member of the shape reads.
 *
 * @example
 * decodeQueryInput(shapes.input, new URLSearchParams('Action=DescribeRules&Version=2015-12-01&RuleArns.member.1=arn:...'));
 * // { RuleArns: ['arn:...'] }
 */
export function decodeQueryInput(shape: QueryStructureShape, params: URLSearchParams): Record<string, unknown> {
  const values = new Map<string, string>();
  for (const [key, value] of params) {
    if (key === 'Action' || key === 'Version') continue;
    values.set(key, value);
  }
  const consumed = new Set<string>();
  const input = decodeStructure(shape, values, '', consumed, shape.name);
  const unread = [...values.keys()].filter((key) => !consumed.has(key));
  if (unread.length > 0) {
    throw new AwsServiceError(
      QUERY_COMMON_ERRORS.invalidQueryParameter,
      `${shape.name} has no member for parameter(s) ${unread.join(', ')}`,
    );
  }
  return input;
}

function decodeStructure(
  shape: QueryStructureShape,
  values: ReadonlyMap<string, string>,
  prefix: string,
  consumed: Set<string>,
  path: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(shape.members)) {
    const key = `${prefix}${member.wireName}`;
    const value = decodeValue(member.shape, values, key, consumed, `${path}.${name}`);
    if (value !== undefined) out[name] = value;
    else if (member.required) {
      // The wording AWS's request validation uses for a missing required member.
      throw new AwsServiceError(
        QUERY_COMMON_ERRORS.validationError,
        `1 validation error detected: Value null at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`,
      );
    }
  }
  return out;
}

function decodeValue(
  shape: QueryShape,
  values: ReadonlyMap<string, string>,
  key: string,
  consumed: Set<string>,
  path: string,
): unknown {
  switch (shape.type) {
    case 'structure': {
      if (![...values.keys()].some((k) => k.startsWith(`${key}.`))) return undefined;
      return decodeStructure(shape, values, `${key}.`, consumed, path);
    }
    case 'list': {
      if (values.has(key)) {
        // `Prefix=` with no value is how an empty list travels (serializeEmptyLists).
        consumed.add(key);
        if (values.get(key) !== '') throw invalid(path, values.get(key), 'a list');
        return [];
      }
      const itemPrefix = shape.flattened ? `${key}.` : `${key}.${shape.memberName}.`;
      const indices = new Set<number>();
      for (const k of values.keys()) {
        if (!k.startsWith(itemPrefix)) continue;
        const index = /^(\d+)(?:\.|$)/.exec(k.slice(itemPrefix.length));
        if (index !== null) indices.add(Number(index[1]));
      }
      if (indices.size === 0) return undefined;
      return [...indices]
        .sort((a, b) => a - b)
        .map((i) => decodeValue(shape.member, values, `${itemPrefix}${i}`, consumed, `${path}[${i}]`))
        .filter((item) => item !== undefined);
    }
    case 'map': {
      const entryPrefix = shape.flattened ? `${key}.` : `${key}.entry.`;
      const indices = new Set<number>();
      for (const k of values.keys()) {
        const index = k.startsWith(entryPrefix) ? /^(\d+)\./.exec(k.slice(entryPrefix.length)) : null;
        if (index !== null) indices.add(Number(index[1]));
      }
      if (indices.size === 0) return undefined;
      const out: Record<string, unknown> = {};
      for (const i of [...indices].sort((a, b) => a - b)) {
        const k = decodeValue(shape.key, values, `${entryPrefix}${i}.${shape.keyName}`, consumed, `${path}.key`);
        const v = decodeValue(shape.value, values, `${entryPrefix}${i}.${shape.valueName}`, consumed, `${path}.value`);
        if (typeof k === 'string') out[k] = v;
      }
      return out;
    }
    default: {
      const raw = values.get(key);
      if (raw === undefined) return undefined;
      consumed.add(key);
      return decodeScalar(shape, raw, path);
    }
  }
}

function decodeScalar(shape: QueryScalarShape, raw: string, path: string): unknown {
  switch (shape.type) {
    case 'string':
    case 'blob':
      return raw;
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw invalid(path, raw, 'a number');
      return n;
    }
    case 'boolean':
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      throw invalid(path, raw, 'true or false');
    case 'timestamp': {
      const date = /^\d+(\.\d+)?$/.test(raw) ? new Date(Number(raw) * 1000) : new Date(raw);
      if (Number.isNaN(date.getTime())) throw invalid(path, raw, 'an ISO 8601 timestamp');
      return date;
    }
  }
}

function invalid(path: string, raw: string | undefined, expected: string): AwsServiceError {
  return new AwsServiceError(QUERY_COMMON_ERRORS.validationError, `${path} must be ${expected}; got '${raw}'`);
}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

// ---------- responses ----------

/**
 * Encodes a successful answer: the output structure inside `<{Action}Result>`, with the request
 * id in `ResponseMetadata`. Members absent from `output` (or `undefined`/`null`) are left out, as
 * AWS leaves out unset members.
 *
 * @example
 * encodeQueryResponse(shapes, { Rules: [] }, { xmlNamespace: 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/', requestId });
 * // <DescribeRulesResponse xmlns="..."><DescribeRulesResult><Rules/></DescribeRulesResult>...
 */
export function encodeQueryResponse(
  operation: QueryOperationShapes,
  output: Record<string, unknown>,
  options: { xmlNamespace: string; requestId: string },
): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<${operation.name}Response xmlns="${escapeXml(options.xmlNamespace)}">` +
    `<${operation.name}Result>${encodeMembers(operation.output, output)}</${operation.name}Result>` +
    `<ResponseMetadata><RequestId>${escapeXml(options.requestId)}</RequestId></ResponseMetadata>` +
    `</${operation.name}Response>`
  );
}

function encodeMembers(shape: QueryStructureShape, value: Record<string, unknown>): string {
  let xml = '';
  for (const [name, member] of Object.entries(shape.members)) {
    const v = value[name];
    if (v === undefined || v === null) continue;
    xml += encodeElement(member.wireName, member.shape, v, `${shape.name}.${name}`);
  }
  return xml;
}

function encodeElement(tag: string, shape: QueryShape, value: unknown, path: string): string {
  switch (shape.type) {
    case 'structure':
      if (typeof value !== 'object' || value === null) throw new Error(`${path}: expected an object`);
      return `<${tag}>${encodeMembers(shape, value as Record<string, unknown>)}</${tag}>`;
    case 'list': {
      if (!Array.isArray(value)) throw new Error(`${path}: expected an array`);
      const items = value.map((item, i) => encodeElement(shape.flattened ? tag : shape.memberName, shape.member, item, `${path}[${i}]`));
      return shape.flattened ? items.join('') : `<${tag}>${items.join('')}</${tag}>`;
    }
    case 'map': {
      if (typeof value !== 'object' || value === null) throw new Error(`${path}: expected an object`);
      const entries = Object.entries(value as Record<string, unknown>).map(
        ([k, v]) =>
          `${encodeElement(shape.keyName, shape.key, k, `${path}.key`)}${encodeElement(shape.valueName, shape.value, v, `${path}.${k}`)}`,
      );
      return shape.flattened
        ? entries.map((e) => `<${tag}>${e}</${tag}>`).join('')
        : `<${tag}>${entries.map((e) => `<entry>${e}</entry>`).join('')}</${tag}>`;
    }
    case 'timestamp': {
      const date = value instanceof Date ? value : new Date(value as string);
      if (Number.isNaN(date.getTime())) throw new Error(`${path}: expected a timestamp`);
      return `<${tag}>${date.toISOString()}</${tag}>`;
    }
    case 'boolean':
      return `<${tag}>${value === true ? 'true' : 'false'}</${tag}>`;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${path}: expected a number`);
      return `<${tag}>${value}</${tag}>`;
    default:
      return `<${tag}>${escapeXml(String(value))}</${tag}>`;
  }
}

/**
 * Renders an AWS error in the Query protocol: HTTP status from the error, `Type` `Sender` for
 * client errors and `Receiver` for faults, and the request id.
 */
export function queryProtocolError(error: AwsServiceError, options: { xmlNamespace?: string; requestId: string }): WireError {
  const xmlns = options.xmlNamespace === undefined ? '' : ` xmlns="${escapeXml(options.xmlNamespace)}"`;
  return {
    statusCode: error.statusCode,
    headers: { 'content-type': 'text/xml' },
    body:
      `<?xml version="1.0" encoding="UTF-8"?>\n` +
      `<ErrorResponse${xmlns}><Error><Type>${error.statusCode >= 500 ? 'Receiver' : 'Sender'}</Type>` +
      `<Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message></Error>` +
      `<RequestId>${escapeXml(options.requestId)}</RequestId></ErrorResponse>`,
  };
}

/** Escapes text for an XML element or attribute. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}
