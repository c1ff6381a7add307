import { z } from 'zod';

export type SchemaEntries = Record<string, z.ZodType>;

export function renderSchema(id: string, schema: z.ZodType): string {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', unrepresentable: 'throw', io: 'output' });
  return `${JSON.stringify({ $id: `https://ghostnet.local/schemas/${id}.schema.json`, title: id, ...json }, null, 2)}\n`;
}
