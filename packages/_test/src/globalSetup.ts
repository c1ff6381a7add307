import { checkNats, checkPostgres, formatChecks } from '@ghostnet/doctor';

/** Fail the whole run up front, with the fix, instead of every test timing out on its own. */
export default async function globalSetup() {
  const checks = [
    await checkPostgres(process.env.TEST_DATABASE_URL),
    await checkNats(process.env.TEST_NATS_URL),
  ];
  if (checks.some((c) => !c.ok)) {
    throw new Error(`test prerequisites missing:\n${formatChecks(checks)}`);
  }
}
