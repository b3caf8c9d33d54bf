import { OperationalError } from '../errors.ts'

/**
 * Prune cannot read the tree of a point that was whole, so it cannot tell which blocks that
 * point keeps: it removes nothing. Damaged data, not a refusal: asking again will not help,
 * repairing (or forgetting the point) will.
 */
export class UnreadablePointsError extends OperationalError {
  override name = 'UnreadablePointsError'
  override readonly kind = 'damaged'
}
