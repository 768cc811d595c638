/** Names shown for the model's values, apart from the schemas so a renderer can use them without zod. */

/** Task priority 0–3 by name. */
export const PRIORITY_LABELS = ['low', 'normal', 'high', 'urgent'] as const;
