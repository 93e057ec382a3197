/** Marker/PageSize paging as the Describe* operations of ELBv2 do it. */

import { isIntegerIn, validation } from './errors';

/** PageSize's documented range is 1 to 400. */
const MAX_PAGE_SIZE = 400;

/** Pages a list: `Marker` is the opaque token of the next item's index, `PageSize` 1 to 400. */
export function paginate<T>(items: readonly T[], marker: string | undefined, pageSize: number | undefined): { items: T[]; next?: string } {
  if (pageSize !== undefined && !isIntegerIn(pageSize, 1, MAX_PAGE_SIZE)) {
    throw validation(`Page size must be from 1 to ${MAX_PAGE_SIZE}; got ${pageSize}`);
  }
  let start = 0;
  if (marker !== undefined) {
    const decoded = /^\d+$/.test(Buffer.from(marker, 'base64').toString('utf8')) ? Number(Buffer.from(marker, 'base64').toString('utf8')) : NaN;
    if (!Number.isInteger(decoded) || decoded < 0 || decoded > items.length) throw validation(`Invalid marker '${marker}'`);
    start = decoded;
  }
  const size = pageSize ?? MAX_PAGE_SIZE;
  const end = Math.min(items.length, start + size);
  return { items: items.slice(start, end), ...(end < items.length ? { next: Buffer.from(String(end)).toString('base64') } : {}) };
}
