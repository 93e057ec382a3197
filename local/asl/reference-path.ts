/**
 * ASL reference paths (`$.release.config.pollSeconds`, `$$.Execution.Id`, `$.steps[0]`): the
 * subset of JSONPath the language allows where one value is selected (`SecondsPath`,
 * `TimestampPath`, `TimeoutSecondsPath`...). Only what the local Wait states need to evaluate
 * themselves; anything else is refused when the definition loads, not in the middle of a run.
 */

/** A parsed reference path: where it starts and the keys it walks. */
export interface ReferencePath {
  /** `input` for `$...`, `context` for `$$...`. */
  readonly root: 'input' | 'context';
  readonly segments: readonly (string | number)[];
}

/** Thrown for a path that is not a reference path. */
export class ReferencePathError extends Error {
  override readonly name = 'ReferencePathError';
}

const SEGMENT = /^(?:\.([^.[\]'"]+)|\['([^']*)'\]|\["([^"]*)"\]|\[(\d+)\])/;

/**
 * Parses a reference path.
 *
 * @example
 * parseReferencePath('$.release.steps[0]'); // { root: 'input', segments: ['release', 'steps', 0] }
 */
export function parseReferencePath(path: string): ReferencePath {
  let root: ReferencePath['root'];
  let rest: string;
  if (path.startsWith('$$')) {
    root = 'context';
    rest = path.slice(2);
  } else if (path.startsWith('$')) {
    root = 'input';
    rest = path.slice(1);
  } else {
    throw new ReferencePathError(`'${path}' is not a reference path: it must start with '$' or '$$'`);
  }
  const segments: (string | number)[] = [];
  while (rest.length > 0) {
    const match = SEGMENT.exec(rest);
    if (!match) {
      throw new ReferencePathError(`'${path}' is not a reference path (only .key, ['key'] and [index] are allowed) near '${rest}'`);
    }
    const [whole, dotted, single, double, index] = match;
    segments.push(index !== undefined ? Number(index) : (dotted ?? single ?? double)!);
    rest = rest.slice(whole.length);
  }
  return { root, segments };
}

/** The value `path` selects, or `undefined` when a key on the way is missing. */
export function evaluateReferencePath(path: ReferencePath, input: unknown, context: unknown): unknown {
  let value: unknown = path.root === 'input' ? input : context;
  for (const segment of path.segments) {
    if (value === null || typeof value !== 'object') return undefined;
    if (typeof segment === 'number' && !Array.isArray(value)) return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}
