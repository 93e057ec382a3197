import type { ContainerDefinition, RegisterTaskDefinitionCommandInput, Tag, TaskDefinition } from '@aws-sdk/client-ecs';
import type { Colour } from './colours';
import type { MeshIdentityRewrite } from './config';
import { ValidationError } from './errors';

/**
 * Pure helpers for the task definition revisions a release registers. The new revision is its
 * source (the idle colour's template, see {@link templateFamilyOf}, else the live revision) with
 * one image swapped and the colour's identity changed (the colour variable, the mesh virtual
 * node), so everything configured outside the release engine (sidecars, secrets, health checks,
 * roles, volumes) carries over untouched.
 */

/**
 * The family of the template a colour's release revisions are cloned from:
 * `<taskDefinitionFamily>-<colour>-template`. The CDK app registers it (and each change made to
 * the task definition there is a new revision of it); no service ever runs it after the first
 * deploy, so changing it never touches production until a release clones it. A service without
 * such a family is released from its live revision instead.
 *
 * @example
 * templateFamilyOf('colorapp', 'green'); // 'colorapp-green-template'
 */
export function templateFamilyOf(taskDefinitionFamily: string, colour: Colour): string {
  return `${taskDefinitionFamily}-${colour}-template`;
}

/** Tag keys the release engine writes on every revision it registers. */
export const RELEASE_TAG_KEYS = {
  releaseId: 'ecs-release:release-id',
  version: 'ecs-release:version',
  colour: 'ecs-release:colour',
} as const;

/**
 * Our tag namespace. Every key under it describes the release that registered the revision, so
 * it is dropped from the source before the new release's tags are added: a clone must never
 * carry a previous release's id (it would make a re-run think that release registered it).
 */
const RELEASE_TAG_PREFIX = 'ecs-release:';

/** AWS reserves `aws:` tag keys; RegisterTaskDefinition rejects them, so they are never copied. */
const AWS_RESERVED_TAG_PREFIX = 'aws:';

/** ECS allows at most 50 tags on a resource. */
const MAX_TAGS = 50;

/** Fields of `RegisterTaskDefinitionRequest` copied from the source as they are. */
type CopiedField = Exclude<keyof RegisterTaskDefinitionCommandInput, 'family' | 'tags'>;

/**
 * Every writable field of the SDK's `RegisterTaskDefinitionRequest` except `family` and `tags`
 * (which the release sets). A mapped type, not a list, so that an SDK upgrade adding a writable
 * field fails type-checking here instead of silently dropping the field from every clone.
 */
export const COPIED_TASK_DEFINITION_FIELDS: { readonly [K in CopiedField]: true } = {
  containerDefinitions: true,
  taskRoleArn: true,
  executionRoleArn: true,
  networkMode: true,
  volumes: true,
  placementConstraints: true,
  requiresCompatibilities: true,
  cpu: true,
  memory: true,
  pidMode: true,
  ipcMode: true,
  proxyConfiguration: true,
  inferenceAccelerators: true,
  ephemeralStorage: true,
  runtimePlatform: true,
  enableFaultInjection: true,
};

/**
 * Every field DescribeTaskDefinition returns that RegisterTaskDefinition does not accept. Also a
 * mapped type: a new read-only field in the SDK must be classified here before this compiles.
 */
export const READ_ONLY_TASK_DEFINITION_FIELDS: {
  readonly [K in Exclude<keyof TaskDefinition, CopiedField | 'family'>]: true;
} = {
  taskDefinitionArn: true,
  revision: true,
  status: true,
  requiresAttributes: true,
  compatibilities: true,
  registeredAt: true,
  registeredBy: true,
  deregisteredAt: true,
  deleteRequestedAt: true,
};

/** What a clone changes. Everything else comes from the source revision. */
export interface CloneTaskDefinitionOptions {
  /** Family the new revision is registered in (the service configuration's `taskDefinitionFamily`). */
  readonly family: string;
  /** Container whose image is replaced. Must exist in the source. */
  readonly containerName: string;
  /** The image the release deploys. */
  readonly image: string;
  /**
   * Environment variable set to `colour`: in `containerName` (replaced if present, added if
   * not), and in every other container that already defines it (replaced), because sidecars
   * carry the colour too (the Envoy stats init container tags every metric with it).
   * @default - every container's environment is left as it is
   */
  readonly colourEnvironmentVariable?: string;
  /**
   * The virtual node to rename (`meshIdentityRewrite` in `config.ts` gives it): every
   * environment value of every container, and every proxy configuration property value, that is
   * an App Mesh virtual node ARN naming `from` (or its `mesh/<mesh>/virtualNode/<node>` short
   * form) is changed to name `to`; every other value is kept as it is.
   * @default - no value is renamed (a traffic backend that does not name the colour in the task)
   */
  readonly meshIdentity?: MeshIdentityRewrite;
  /** The colour the revision will run as (the release's idle colour). */
  readonly colour: Colour;
  /** Release id, written to the `ecs-release:release-id` tag so a re-run can recognise the revision. */
  readonly releaseId: string;
  /** Version label of the image, written to the `ecs-release:version` tag. */
  readonly version: string;
}

/**
 * Builds the RegisterTaskDefinition input for a release: a deep copy of `source` with every
 * writable field kept, read-only fields dropped, the named container's image replaced and the
 * live colour's identity replaced by the idle colour's: the colour variable (if configured) and
 * the virtual node (if `meshIdentity` is given), in whichever containers name them. Source tags
 * are kept except our own namespace and AWS-reserved keys; the release's id, version and colour
 * are added. Never mutates its inputs.
 *
 * @throws ValidationError when `source` has no container named `containerName` (the message lists
 *   the containers it does have), when a container defines the colour variable as a secret, or
 *   when the tags would exceed ECS's limit of 50.
 *
 * @example
 * const input = cloneTaskDefinition(live.taskDefinition!, live.tags, {
 *   family: 'colorapp', containerName: 'app', image: 'repo/app:1.4.0',
 *   colourEnvironmentVariable: 'COLOR', colour: 'green', releaseId: 'rel-123', version: '1.4.0',
 *   meshIdentity: { from: 'colorapp-blue', to: 'colorapp-green' },
 * });
 * await ecs.send(new RegisterTaskDefinitionCommand(input));
 */
export function cloneTaskDefinition(
  source: TaskDefinition,
  tags: Tag[] | undefined,
  options: CloneTaskDefinitionOptions,
): RegisterTaskDefinitionCommandInput {
  const copied: Partial<Pick<RegisterTaskDefinitionCommandInput, CopiedField>> = {};
  for (const field of Object.keys(COPIED_TASK_DEFINITION_FIELDS) as CopiedField[]) {
    const value = source[field];
    // Absent stays absent: an exact, minimal request is easier to compare with what ECS shows
    // and with what tests expect than one full of `undefined`s.
    if (value !== undefined) (copied as Record<string, unknown>)[field] = deepCopy(value);
  }

  const containers = copied.containerDefinitions ?? [];
  const target = containers.find((c) => c.name === options.containerName);
  if (!target) {
    const names = containers.map((c) => c.name ?? '(unnamed)');
    throw new ValidationError(
      `Task definition ${describeSource(source)} has no container named '${options.containerName}' ` +
        `(it has: ${names.length ? names.join(', ') : 'no containers'}). ` +
        'Fix containerName in the service configuration.',
    );
  }
  target.image = options.image;

  if (options.colourEnvironmentVariable !== undefined) {
    const variable = options.colourEnvironmentVariable;
    for (const container of containers) {
      // A secret of the same name would be set alongside (or instead of) our plain value, and a
      // container that kept the live colour would report or behave as the live colour.
      if (container.secrets?.some((s) => s.name === variable)) {
        throw new ValidationError(
          `Container '${container.name ?? '(unnamed)'}' in ${describeSource(source)} defines '${variable}' as a secret, ` +
            'so the release cannot set it to the colour. Rename the secret or colourEnvironmentVariable.',
        );
      }
      if (container === target || container.environment?.some((e) => e.name === variable)) {
        setVariable(container, variable, options.colour);
      }
    }
  }

  if (options.meshIdentity !== undefined) {
    const rename = options.meshIdentity;
    for (const variable of containers.flatMap((c) => c.environment ?? [])) {
      if (variable.value !== undefined) variable.value = renameVirtualNode(variable.value, rename);
    }
    for (const property of copied.proxyConfiguration?.properties ?? []) {
      if (property.value !== undefined) property.value = renameVirtualNode(property.value, rename);
    }
  }

  const newTags = releaseTags(tags, options);
  if (newTags.length > MAX_TAGS) {
    throw new ValidationError(
      `Task definition ${describeSource(source)} would get ${newTags.length} tags with the release's own; ` +
        `ECS allows ${MAX_TAGS}. Remove some tags from the live revision.`,
    );
  }
  return { ...copied, family: options.family, containerDefinitions: containers, tags: newTags };
}

/** Sets every copy of `variable` in the container's environment to `value`, or adds it at the end. */
function setVariable(container: ContainerDefinition, variable: string, value: string): void {
  const environment = container.environment ?? [];
  const existing = environment.filter((e) => e.name === variable);
  if (existing.length) existing.forEach((e) => (e.value = value));
  else environment.push({ name: variable, value });
  container.environment = environment;
}

/**
 * An App Mesh virtual node reference: the ARN `APPMESH_RESOURCE_ARN` takes
 * (`arn:aws:appmesh:eu-west-1:111122223333:mesh/apps/virtualNode/colorapp-blue`) or the
 * `mesh/apps/virtualNode/colorapp-blue` form of the older `APPMESH_VIRTUAL_NODE_NAME`. Group 1 is
 * everything before the node name, group 2 the node name.
 */
const VIRTUAL_NODE_REFERENCE = /^((?:arn:[^:]+:appmesh:[^:]*:[^:]*:)?mesh\/[^/]+\/virtualNode\/)([^/]+)$/;

/** `value` naming `rename.to` if it is a virtual node reference to `rename.from`; otherwise `value`. */
function renameVirtualNode(value: string, rename: MeshIdentityRewrite): string {
  const match = VIRTUAL_NODE_REFERENCE.exec(value);
  return match && match[2] === rename.from ? `${match[1]}${rename.to}` : value;
}

/** Source tags minus our namespace and AWS-reserved keys, plus this release's tags. */
function releaseTags(tags: Tag[] | undefined, options: CloneTaskDefinitionOptions): Tag[] {
  const kept = (tags ?? [])
    .filter((t) => t.key !== undefined && !t.key.startsWith(RELEASE_TAG_PREFIX) && !t.key.startsWith(AWS_RESERVED_TAG_PREFIX))
    .map((t) => ({ ...t }));
  return [
    ...kept,
    { key: RELEASE_TAG_KEYS.releaseId, value: options.releaseId },
    { key: RELEASE_TAG_KEYS.version, value: options.version },
    { key: RELEASE_TAG_KEYS.colour, value: options.colour },
  ];
}

/** The value of tag `key`, or `undefined`. */
export function tagValue(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.key === key)?.value;
}

/**
 * Deep copy of SDK data (plain objects, arrays, Dates, primitives). Not `structuredClone`: its
 * objects come from the host realm, which makes deep equality fail under jest's sandbox, and SDK
 * shapes never hold anything it would add support for.
 */
function deepCopy<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => deepCopy(item)) as T;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepCopy(v)])) as T;
  }
  return value;
}

function describeSource(source: TaskDefinition): string {
  return source.taskDefinitionArn ?? `${source.family ?? '(unknown family)'}:${source.revision ?? '?'}`;
}
