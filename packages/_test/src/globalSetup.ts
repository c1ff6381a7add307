import { checkNats, checkPostgres, formatChecks } from '@ghostnet/doctor';
import { APP_BUNDLES_ENV, appBundlesDir, buildAppBundles, removeAppBundles } from './appBundles.ts';
import { TEST_ADMIN_URL } from './database.ts';
import { TEST_NATS_URL } from './jetstream.ts';

/**
 * Fail the whole run up front, with the fix, instead of every test timing out on its own. Then bundle the apps
 * that tests start as processes (rebuilt every run, so a bundle is never older than the sources).
 */
export default async function globalSetup() {
  const checks = [
    // The URLs the tests connect with (with TEST_* unset, not DATABASE_URL / NATS_URL: those are the apps').
    await checkPostgres(TEST_ADMIN_URL),
    await checkNats(TEST_NATS_URL),
  ];
  if (checks.some((c) => !c.ok)) {
    throw new Error(`test prerequisites missing:\n${formatChecks(checks)}`);
  }
  const dir = appBundlesDir();
  await buildAppBundles(dir);
  // Test workers are forked after this and inherit the environment.
  process.env[APP_BUNDLES_ENV] = dir;
  return () => removeAppBundles(dir);
}
