import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSchema, type SchemaEntries } from './jsonSchema.ts';

/**
 * Reading and writing schemas/ (Node only; kept out of the package's main entry, which browsers bundle).
 * schemas/ at the repo root is generated from the zod sources, never edited by hand.
 */
export const SCHEMAS_DIR = fileURLToPath(new URL('../../../../schemas/', import.meta.url));

/** Files whose checked-in content differs from what the zod sources render (empty = in sync). */
export function staleSchemas(entries: SchemaEntries, dir = SCHEMAS_DIR): string[] {
  return Object.entries(entries)
    .filter(([id, schema]) => {
      let current = '';
      try {
        current = readFileSync(join(dir, `${id}.schema.json`), 'utf8');
      } catch {
        return true;
      }
      return current !== renderSchema(id, schema);
    })
    .map(([id]) => `${id}.schema.json`);
}

export function writeSchemas(entries: SchemaEntries, dir = SCHEMAS_DIR): string[] {
  return Object.entries(entries).map(([id, schema]) => {
    const file = join(dir, `${id}.schema.json`);
    writeFileSync(file, renderSchema(id, schema));
    return file;
  });
}
