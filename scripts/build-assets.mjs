/* global process, URL */
/**
 * `npm run build`, after `tsc -p tsconfig.build.json` has compiled src/, workflows/ and activities/ into dist/:
 * 1. copies what tsc does not and the compiled code reads relative to itself: migrations/ (drizzle-kit's SQL and
 *    journal, read by src/db/client.ts), the page templates (src/http/pages/templates, read by view.ts) and the
 *    portal's templates and static files (src/portal/templates, src/portal/static);
 * 2. bundles the workflows once (bundleWorkflowCode, from the compiled dist/workflows/index.js) into
 *    dist/workflow-bundle.js, which the compiled worker loads with `workflowBundle: { codePath }` instead of running
 *    webpack at every start (src/temporal/worker.ts).
 */
import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));

if (!existsSync(root('dist/src/temporal/worker.js'))) {
  process.stderr.write('build-assets: dist/ has no compiled worker; run tsc -p tsconfig.build.json first\n');
  process.exit(1);
}

cpSync(root('migrations'), root('dist/migrations'), { recursive: true });
cpSync(root('src/http/pages/templates'), root('dist/src/http/pages/templates'), { recursive: true });
// the portal's templates (with the admin/ and operator/ folders) and its static files (CSS, the live-refresh script)
cpSync(root('src/portal/templates'), root('dist/src/portal/templates'), { recursive: true });
cpSync(root('src/portal/static'), root('dist/src/portal/static'), { recursive: true });

const { bundleWorkflows, prebuiltBundlePath } = await import(root('dist/src/temporal/worker.js'));
const { code } = await bundleWorkflows();
writeFileSync(prebuiltBundlePath, code);
process.stdout.write(`build-assets: migrations and templates copied; ${prebuiltBundlePath} (${code.length} bytes)\n`);
