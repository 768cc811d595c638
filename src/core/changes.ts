/**
 * The one change feed. Services fire a CoreChange after every committed mutation; the trees, the status
 * bar and the API's WebSocket all subscribe to it. Changes caught up from another window arrive as
 * `{ entity: 'all', op: 'reload' }` because a journal line carries SQL, not domain events.
 */
import { Emitter } from './events';

export type Entity = 'provider' | 'agent' | 'task' | 'update' | 'message' | 'run';

export type CoreChange =
  | { entity: Entity; op: 'created' | 'updated' | 'deleted'; id: string; taskId?: string; origin: 'local' }
  | { entity: 'all'; op: 'reload'; origin: 'external' };

export class ChangeBus extends Emitter<CoreChange> {}
