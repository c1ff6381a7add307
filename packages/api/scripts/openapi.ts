import { writeOpenApi } from '../src/openapi.ts';

console.log(`wrote ${await writeOpenApi()}`);
