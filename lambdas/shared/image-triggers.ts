import { AlreadyReleasedError } from './errors';
import type { ReleaseState } from './documents';

/**
 * The `requestedBy` of releases an image push starts without a person asking: the direct ECR
 * trigger and the CodePipeline. A person's request (`ecs-release start`, the API) may re-release
 * the live image on purpose, for example to roll out a task definition template change.
 */
export const IMAGE_TRIGGERS: readonly string[] = ['ecr-push', 'codepipeline'];

/** The `sha256:...` digest an image reference pins, or `null` for a tag reference. */
export function digestOf(image: string): string | null {
  return image.match(/@(sha256:[a-f0-9]{64})$/)?.[1] ?? null;
}

/**
 * Refuses an image trigger's release of the digest that is already live: a CI job that pushes
 * `:<sha>` and `:latest` of one build starts one release, not two (the second one would replace
 * the live tasks with identical ones and run every bake again).
 *
 * @throws AlreadyReleasedError when `requestedBy` is an image trigger and the live colour runs `image`'s digest.
 */
export function assertNotAlreadyLive(request: { image: string; requestedBy?: string | null }, state: ReleaseState | null): void {
  if (!request.requestedBy || !IMAGE_TRIGGERS.includes(request.requestedBy) || !state) return;
  const digest = digestOf(request.image);
  const liveImage = state.colours[state.live]?.image ?? null;
  if (!digest || !liveImage || digestOf(liveImage) !== digest) return;
  throw new AlreadyReleasedError(
    `${digest} is already live on ${state.live} (${liveImage}); an image trigger (${request.requestedBy}) releases a digest once. ` +
      `To release it again on purpose, start the release yourself: ecs-release start --service ${state.service} --image ${request.image}`,
  );
}
