/**
 * Task definition families and revisions, as ECS keeps them: revisions numbered from 1 per
 * family, immutable once registered, addressed by ARN, `family:revision` or `family` (latest
 * ACTIVE revision).
 */

import { AwsServiceError } from '../../contracts';

/** A key/value tag as the ECS API spells it (lower-case `key`, `value`). */
export interface EcsTag {
  readonly key: string;
  readonly value: string;
}

/** The parts of a container definition the local world runs. */
export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly environment: Readonly<Record<string, string>>;
  /**
   * `stopTimeout`: seconds between the stop signal and SIGKILL ("Time duration (in seconds) to wait
   * before the container is forcefully killed if it doesn't exit normally on its own").
   * @default - the local ECS's `stopTimeoutMs` (Fargate's default is 30 s)
   */
  readonly stopTimeoutSeconds?: number;
}

/** One registered revision. */
export interface TaskDefinitionRecord {
  readonly arn: string;
  readonly family: string;
  readonly revision: number;
  readonly status: 'ACTIVE';
  readonly registeredAt: Date;
  /** Every field of the request except `family` and `tags`, as registered (deep copy). */
  readonly body: Readonly<Record<string, unknown>>;
  readonly containers: readonly ContainerSpec[];
  readonly tags: readonly EcsTag[];
}

const FAMILY = /^[a-zA-Z0-9_-]{1,255}$/;
const ARN = /^arn:aws[a-z-]*:ecs:[^:]*:[^:]*:task-definition\/([^:/]+):(\d+)$/;

function clientError(message: string): AwsServiceError {
  return new AwsServiceError('ClientException', message);
}

/** The registry of every family and revision of one account and region. */
export class TaskDefinitionRegistry {
  private readonly revisions = new Map<string, TaskDefinitionRecord[]>();

  /** @param arnPrefix `arn:aws:ecs:<region>:<account>:task-definition/` */
  constructor(private readonly arnPrefix: string) {}

  /**
   * Registers the next revision of `input.family`.
   *
   * @throws AwsServiceError `ClientException` for a missing or malformed family, container or tag,
   *   with a message in ECS's words.
   */
  register(input: Record<string, unknown>): TaskDefinitionRecord {
    const family = input.family;
    if (typeof family !== 'string' || !FAMILY.test(family)) {
      throw clientError(
        'Family contains invalid characters or is too long: up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.',
      );
    }
    const containers = parseContainers(input.containerDefinitions);
    const tags = parseTags(input.tags);
    const body = deepCopy(Object.fromEntries(Object.entries(input).filter(([key]) => key !== 'family' && key !== 'tags')));
    const existing = this.revisions.get(family) ?? [];
    const revision = existing.length + 1;
    const record: TaskDefinitionRecord = {
      arn: `${this.arnPrefix}${family}:${revision}`,
      family,
      revision,
      status: 'ACTIVE',
      registeredAt: new Date(),
      body,
      containers,
      tags,
    };
    this.revisions.set(family, [...existing, record]);
    return record;
  }

  /** The revision `reference` names (ARN, `family:revision` or `family` for the latest), or `undefined`. */
  find(reference: string): TaskDefinitionRecord | undefined {
    const arn = ARN.exec(reference);
    if (arn) {
      const record = this.revisions.get(arn[1])?.[Number(arn[2]) - 1];
      return record?.arn === reference ? record : undefined;
    }
    if (reference.startsWith('arn:')) return undefined;
    const colon = reference.lastIndexOf(':');
    if (colon < 0) return this.revisions.get(reference)?.at(-1);
    const revision = Number(reference.slice(colon + 1));
    if (!Number.isInteger(revision) || revision < 1) return undefined;
    return this.revisions.get(reference.slice(0, colon))?.[revision - 1];
  }

  /** Every revision, families in registration order, revisions ascending. */
  all(): TaskDefinitionRecord[] {
    return [...this.revisions.values()].flat();
  }
}

/** The JSON `taskDefinition` object DescribeTaskDefinition and RegisterTaskDefinition return. */
export function describeTaskDefinition(record: TaskDefinitionRecord): Record<string, unknown> {
  const requires = Array.isArray(record.body.requiresCompatibilities) ? (record.body.requiresCompatibilities as string[]) : [];
  return {
    ...deepCopy(record.body),
    taskDefinitionArn: record.arn,
    family: record.family,
    revision: record.revision,
    status: record.status,
    compatibilities: requires.includes('FARGATE') ? ['EC2', 'FARGATE'] : ['EC2'],
    requiresAttributes: [],
    registeredAt: record.registeredAt.getTime() / 1000,
  };
}

function parseContainers(value: unknown): ContainerSpec[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw clientError('Container list cannot be empty.');
  }
  return value.map((raw: unknown) => {
    const container = (raw ?? {}) as Record<string, unknown>;
    if (typeof container.name !== 'string' || container.name === '') throw clientError('Container.name should not be null or empty.');
    if (typeof container.image !== 'string' || container.image === '') throw clientError('Container.image should not be null or empty.');
    const environment: Record<string, string> = {};
    if (container.environment !== undefined) {
      if (!Array.isArray(container.environment)) throw clientError(`Container ${container.name}: environment must be a list.`);
      for (const pair of container.environment as unknown[]) {
        const { name, value: v } = (pair ?? {}) as Record<string, unknown>;
        if (typeof name !== 'string' || typeof v !== 'string') {
          throw clientError(`Container ${container.name}: every environment entry needs a string name and value.`);
        }
        environment[name] = v;
      }
    }
    const stopTimeout = container.stopTimeout;
    if (stopTimeout !== undefined && !(Number.isInteger(stopTimeout) && (stopTimeout as number) >= 0)) {
      throw clientError(`Container ${container.name}: stopTimeout must be a whole number of seconds.`);
    }
    return { name: container.name, image: container.image, environment, ...(stopTimeout !== undefined ? { stopTimeoutSeconds: stopTimeout as number } : {}) };
  });
}

function parseTags(value: unknown): EcsTag[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw clientError('tags must be a list.');
  if (value.length > 50) throw clientError('Too many tags: at most 50 are allowed.');
  return value.map((raw: unknown) => {
    const { key, value: v } = (raw ?? {}) as Record<string, unknown>;
    if (typeof key !== 'string' || key === '' || (v !== undefined && typeof v !== 'string')) {
      throw clientError('Every tag needs a non-empty string key and a string value.');
    }
    return { key, value: (v as string | undefined) ?? '' };
  });
}

/** Deep copy of JSON data, so nothing registered can be changed through a caller's reference. */
function deepCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
