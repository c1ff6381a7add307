import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS_DIR, compileContracts, renderArtifacts } from '../src/build/compile.ts';

const started = performance.now();
const compilation = compileContracts();
mkdirSync(ARTIFACTS_DIR, { recursive: true });
for (const [file, content] of Object.entries(renderArtifacts(compilation))) {
  writeFileSync(join(ARTIFACTS_DIR, file), content);
  console.log(`wrote ${join(ARTIFACTS_DIR, file)}`);
}
console.log(`solc ${compilation.solcVersion} in ${Math.round(performance.now() - started)} ms`);
