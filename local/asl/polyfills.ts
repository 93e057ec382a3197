/**
 * aws-local-stepfunctions 3 calls `Promise.withResolvers` (Node 22+). On Node 20 every Task would
 * throw a TypeError that a `States.ALL` catch swallows silently, so this must load before the
 * runner does: import it first wherever the runner is imported.
 */
type WithResolvers = <T>() => { promise: Promise<T>; resolve: (value: T) => void; reject: (reason?: unknown) => void };
const promiseCtor = Promise as unknown as { withResolvers?: WithResolvers };
if (typeof promiseCtor.withResolvers !== 'function') {
  promiseCtor.withResolvers = <T>() => {
    let resolve!: (value: T) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
export {};
