/**
 * Host prefixes of the AWS API models, resolved for the local endpoint. Some operations are sent
 * to a prefixed host: Step Functions' StartSyncExecution has the model's `hostPrefix: "sync-"`
 * (in AWS, `sync-states.<region>.amazonaws.com`), and SDK v3 prepends it to a custom endpoint
 * too, so a handler's call to `http://127.0.0.1:PORT` goes to `sync-127.0.0.1:PORT`, a name no
 * resolver knows. The local world plays that DNS: in this process, `sync-<endpoint host>`
 * resolves to the endpoint's host. Nothing else is resolved differently.
 */
import dns from 'node:dns';

/** The host prefixes the release handlers' calls use (StartSyncExecution). */
export const HOST_PREFIXES = ['sync-'] as const;

/**
 * Makes `<prefix><host>` resolve to `host` in this process (Node's `net` looks names up through
 * `dns.lookup` at connect time). Returns a function that undoes it.
 */
export function resolveHostPrefixes(host: string): () => void {
  const original = dns.lookup;
  const prefixed = new Set(HOST_PREFIXES.map((prefix) => `${prefix}${host}`));
  const lookup = function (this: unknown, hostname: string, ...rest: unknown[]) {
    return (original as (...args: unknown[]) => unknown).call(this, prefixed.has(hostname) ? host : hostname, ...rest);
  } as typeof dns.lookup;
  dns.lookup = lookup;
  return () => {
    if (dns.lookup === lookup) dns.lookup = original;
  };
}

/** The host without a model host prefix, when it has one (`sync-127.0.0.1` → `127.0.0.1`). */
export function withoutHostPrefix(hostname: string): string {
  const prefix = HOST_PREFIXES.find((p) => hostname.startsWith(p));
  return prefix ? hostname.slice(prefix.length) : hostname;
}
