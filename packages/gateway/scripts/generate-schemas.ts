import { writeSchemas } from '@ghostnet/events/schema-files';
import { gatewaySchemas } from '../src/schemas.ts';

for (const file of writeSchemas(gatewaySchemas)) console.log(`wrote ${file}`);
