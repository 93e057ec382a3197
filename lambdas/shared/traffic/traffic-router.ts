import type { Weights } from '../colours';

/**
 * The seam between the release engine and a traffic layer. The engine only ever asks for the
 * current split and sets a new one; rollback is `setWeights({ live: 100, idle: 0 })`.
 * Implementations must make `setWeights` idempotent (setting the current split is a no-op),
 * must preserve everything about the route except the weights, and must retry throttling.
 *
 * @example
 * const router = createTrafficRouter(config.traffic, { live: 'blue', idle: 'green' });
 * await router.setWeights({ live: 90, idle: 10 });
 * const { live, idle } = await router.getWeights(); // { live: 90, idle: 10 }
 */
export interface TrafficRouter {
  /** The current split between the live and the idle colour. Throws `RouteDriftError` if the route sends traffic elsewhere. */
  getWeights(): Promise<Weights>;
  /** Sets the split. `live + idle` must be 100; both integers 0..100. Returns whether anything changed. */
  setWeights(weights: Weights): Promise<{ changed: boolean }>;
  /** A human-readable name of the route, for logs and errors. */
  describe(): string;
}
