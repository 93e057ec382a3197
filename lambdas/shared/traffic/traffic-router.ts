import type { Colour, Weights } from '../colours';

/** Which side of a release a colour is on. */
export type TrafficRole = keyof Weights;

/**
 * What {@link TrafficRouter.checkTargets} found. `checked: false` means the backend has no
 * target health of its own to read (App Mesh); the reason says what stands in for it.
 */
export type TargetsCheck =
  | {
      readonly checked: true;
      readonly role: TrafficRole;
      readonly colour: Colour;
      /** What was checked, e.g. the colour's target group ARN. */
      readonly target: string;
      readonly healthy: number;
      readonly total: number;
      /** Targets per state (`healthy`, `initial`, `unhealthy`, `draining`, ...). */
      readonly states: Readonly<Record<string, number>>;
    }
  | {
      readonly checked: false;
      readonly role: TrafficRole;
      readonly colour: Colour;
      readonly reason: string;
    };

/**
 * The seam between the release engine and a traffic layer. The engine only ever asks for the
 * current split and sets a new one; rollback is `setWeights({ live: 100, idle: 0 })`.
 * Implementations must make `setWeights` idempotent (setting the current split is a no-op),
 * must preserve everything about the route except the weights, and must retry throttling.
 *
 * The two checks are separate from `setWeights` on purpose: a rollback must be able to restore
 * 100/0 whatever the health of either colour, so only the forward path (Preflight, ShiftTraffic)
 * calls them.
 *
 * @example
 * const router = createTrafficRouter(config.traffic, { live: 'blue', idle: 'green' });
 * await router.checkTargets('idle'); // throws NoHealthyTargetsError if green could not serve
 * await router.setWeights({ live: 90, idle: 10 });
 * const { live, idle } = await router.getWeights(); // { live: 90, idle: 10 }
 */
export interface TrafficRouter {
  /** The current split between the live and the idle colour. Throws `RouteDriftError` if the route sends traffic elsewhere. */
  getWeights(): Promise<Weights>;
  /** Sets the split. `live + idle` must be 100; both integers 0..100. Returns whether anything changed. */
  setWeights(weights: Weights): Promise<{ changed: boolean }>;
  /**
   * Checks that the colour in `role` has at least one target able to serve, where the backend
   * can tell. Throws `NoHealthyTargetsError` when it has none; sends nothing that changes traffic.
   */
  checkTargets(role: TrafficRole): Promise<TargetsCheck>;
  /**
   * Checks that the routes which send test traffic to one colour (e.g. a header rule) still send
   * each colour's test traffic to that colour only. Throws `RouteDriftError` otherwise. Returns
   * the routes checked; none when the backend or the configuration has no test routes.
   */
  checkTestRoutes(): Promise<readonly string[]>;
  /** A human-readable name of the route, for logs and errors. */
  describe(): string;
}
