import { formatChecks, runChecks } from './index.ts';

// `npm run doctor`: what the stack needs on this machine, and how to get what is missing.
const checks = await runChecks();
console.log(formatChecks(checks));
process.exit(checks.every((c) => c.ok) ? 0 : 1);
