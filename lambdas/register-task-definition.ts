import {
  DescribeTaskDefinitionCommand,
  type DescribeTaskDefinitionCommandOutput,
  ECSClient,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import * as z from 'zod';
import { meshIdentityRewrite } from './shared/config';
import { ResourceNotFoundError, StateConflictError } from './shared/errors';
import { createLogger, withReleaseKeys } from './shared/logger';
import { ColourAssignmentSchema, PlannedReleaseSchema } from './shared/release';
import { withThrottlingRetry } from './shared/retry';
import { cloneTaskDefinition, RELEASE_TAG_KEYS, tagValue, templateFamilyOf } from './shared/task-definition';
import { parseOrThrow } from './shared/validation';

/**
 * Register step: registers the revision the idle colour will run, a clone of its source with the
 * release's image and the idle colour's identity (colour variable, mesh virtual node). The source
 * is the newest revision of the idle colour's template family (`templateFamilyOf`), which the CDK
 * app owns, so a change to the task definition made there reaches production with the next
 * release; a service without a template clones the live revision. Idempotent per release, so a
 * Lambda retry or a redriven execution does not pile up revisions.
 */

const ecs = new ECSClient({});
const logger = createLogger('register-task-definition');

/** Input of the Register step. */
export const RegisterTaskDefinitionInputSchema = z.object({
  release: PlannedReleaseSchema,
  colours: ColourAssignmentSchema,
});

/** Output of the Register step, consumed by Deploy as `taskDefinition`. */
export interface RegisteredTaskDefinition {
  readonly taskDefinitionArn: string;
  readonly revision: number;
  /** True when this release had already registered the revision (a re-run), so nothing was registered now. */
  readonly reused: boolean;
}

/**
 * Registers (or finds, on a re-run) this release's task definition revision.
 *
 * @throws ValidationError for invalid input, or when the source revision has no container named
 *   `config.containerName`.
 * @throws ResourceNotFoundError when the idle colour has no template and the live task definition
 *   cannot be described.
 */
export async function handler(event: unknown): Promise<RegisteredTaskDefinition> {
  const { release, colours } = parseOrThrow(RegisterTaskDefinitionInputSchema, event, 'Register input');
  const { config } = release;
  return withReleaseKeys(logger, { releaseId: release.id, service: release.service }, async () => {
    // A bare family name describes its latest ACTIVE revision; null when the family has none yet.
    const latest = await describe(config.taskDefinitionFamily);
    const latestReleaseId = tagValue(latest?.tags, RELEASE_TAG_KEYS.releaseId);
    const latestArn = latest?.taskDefinition?.taskDefinitionArn;
    if (latest && latestArn && latestReleaseId === release.id) {
      const revision = latest.taskDefinition?.revision ?? revisionOf(latestArn);
      logger.info('Reusing the revision this release already registered', {
        family: config.taskDefinitionFamily,
        taskDefinitionArn: latestArn,
        latestReleaseId,
      });
      return { taskDefinitionArn: latestArn, revision, reused: true };
    }
    logger.info('Registering a new revision: the latest one in the family is not this release\'s', {
      family: config.taskDefinitionFamily,
      latestTaskDefinitionArn: latestArn ?? null,
      latestReleaseId: latestReleaseId ?? null,
    });

    // The source of every setting but the image: the idle colour's template when the app keeps
    // one (a bare family describes its newest ACTIVE revision), else what the live colour runs.
    const templateFamily = templateFamilyOf(config.taskDefinitionFamily, colours.idle);
    const template = await describe(templateFamily);
    const source = template?.taskDefinition ? template : await describe(colours.liveTaskDefinitionArn);
    if (!source?.taskDefinition) {
      throw new ResourceNotFoundError(
        `Live task definition ${colours.liveTaskDefinitionArn} of service ${release.service} does not exist, and there is no ` +
          `template family ${templateFamily} to clone instead. Check the release state document: it should name the revision ` +
          'the live colour runs.',
      );
    }
    const sourceArn = source.taskDefinition.taskDefinitionArn ?? colours.liveTaskDefinitionArn;
    logger.info(template?.taskDefinition ? 'Cloning the template revision of the idle colour' : 'No template family: cloning the live revision', {
      templateFamily,
      sourceTaskDefinitionArn: sourceArn,
    });
    const meshIdentity = meshIdentityRewrite(config.traffic, colours);
    const input = cloneTaskDefinition(source.taskDefinition, source.tags, {
      family: config.taskDefinitionFamily,
      containerName: config.containerName,
      image: release.image,
      colourEnvironmentVariable: config.colourEnvironmentVariable,
      colour: colours.idle,
      meshIdentity,
      releaseId: release.id,
      version: release.version,
    });
    const out = await withThrottlingRetry(`RegisterTaskDefinition ${config.taskDefinitionFamily}`, () =>
      ecs.send(new RegisterTaskDefinitionCommand(input)),
    );
    const registered = out.taskDefinition;
    if (!registered?.taskDefinitionArn) {
      throw new StateConflictError(
        `ECS accepted RegisterTaskDefinition for ${config.taskDefinitionFamily} but returned no task definition.`,
      );
    }
    const revision = registered.revision ?? revisionOf(registered.taskDefinitionArn);
    logger.info('Registered task definition for the idle colour', {
      taskDefinitionArn: registered.taskDefinitionArn,
      sourceTaskDefinitionArn: sourceArn,
      containerName: config.containerName,
      image: release.image,
      colour: colours.idle,
      colourEnvironmentVariable: config.colourEnvironmentVariable ?? null,
      virtualNode: meshIdentity ?? null,
    });
    return { taskDefinitionArn: registered.taskDefinitionArn, revision, reused: false };
  });
}

/**
 * DescribeTaskDefinition with tags. ECS answers a family or revision that does not exist with a
 * plain ClientException; that one case is `null`, anything else is thrown.
 */
async function describe(taskDefinition: string): Promise<DescribeTaskDefinitionCommandOutput | null> {
  try {
    return await withThrottlingRetry(`DescribeTaskDefinition ${taskDefinition}`, () =>
      ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition, include: ['TAGS'] })),
    );
  } catch (error) {
    if (isTaskDefinitionNotFound(error)) return null;
    throw error;
  }
}

/**
 * ECS has no dedicated "not found" error for task definitions: it throws ClientException with
 * "Unable to describe task definition." (the wording seen in practice) or a message saying the
 * resource was not found. Other ClientExceptions (bad ARN format, access) must surface.
 */
function isTaskDefinitionNotFound(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.name === 'ClientException' &&
    /unable to describe task definition|not found|does not exist/i.test(error.message)
  );
}

/** Revision number from `arn:...:task-definition/family:7`, for the rare response without `revision`. */
function revisionOf(taskDefinitionArn: string): number {
  const match = taskDefinitionArn.match(/:(\d+)$/);
  return match ? Number(match[1]) : 0;
}
