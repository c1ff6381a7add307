import { eventSchemas } from './entries.ts';
import { writeSchemas } from './files.ts';

for (const file of writeSchemas(eventSchemas)) console.log(`wrote ${file}`);
