import * as z from 'zod';

/** The two slots a service is released between. */
export const COLOURS = ['blue', 'green'] as const;

/** A slot: one ECS service, one virtual node (or target group). */
export type Colour = (typeof COLOURS)[number];

/** Zod schema for a colour. */
export const ColourSchema = z.enum(COLOURS);

/** The colour that is not `colour`. */
export function otherColour(colour: Colour): Colour {
  return colour === 'blue' ? 'green' : 'blue';
}

/** Traffic split between the live and the idle colour, integers summing to 100. */
export interface Weights {
  readonly live: number;
  readonly idle: number;
}
