import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import express from 'express';

const require = createRequire(import.meta.url);

/** nhsuk-frontend's installed version; it names the compiled CSS and JS files, so their URLs change with it. */
export const NHSUK_FRONTEND_VERSION: string = (require('nhsuk-frontend/package.json') as { version: string }).version;

/** `node_modules/nhsuk-frontend/dist`: holds `nhsuk/template.njk`, `nhsuk/components/*`, compiled CSS/JS, assets. */
export const NHSUK_FRONTEND_DIST: string = join(dirname(require.resolve('nhsuk-frontend/package.json')), 'dist');

/** URLs of the compiled files, relative to wherever {@link createAssetsRouter} is mounted. */
export const ASSET_FILES = {
  css: `/css/nhsuk-frontend-${NHSUK_FRONTEND_VERSION}.min.css`,
  js: `/js/nhsuk-frontend-${NHSUK_FRONTEND_VERSION}.min.js`,
} as const;

const ONE_YEAR_S = 365 * 24 * 60 * 60;
const ONE_WEEK_S = 7 * 24 * 60 * 60;

/**
 * Serves nhsuk-frontend's compiled CSS and JS and its `assets/` folder (favicons, icons, `manifest.json`):
 *
 * - `GET {mount}/css/nhsuk-frontend-<version>.min.css` and `GET {mount}/js/nhsuk-frontend-<version>.min.js`:
 *   the version is in the name, so they are `Cache-Control: public, max-age=31536000, immutable`;
 * - `GET {mount}/images/*`, `GET {mount}/manifest.json`: unversioned names, `public, max-age=604800` (a week).
 *
 * {@link createAckPagesRouter} mounts this at `/a/assets`, so the app needs only its one `/a` mount. It is exported
 * so the app may also mount it at `/assets`, nhsuk-frontend's default `assetPath`: the compiled CSS refers to a few
 * icons as `/assets/images/...` (sortable tables, the search clear button), which the acknowledgement pages do not
 * use. Fonts (Frutiger) are not in the package: the CSS loads them from `https://assets.nhs.uk/fonts/` and falls back
 * to Arial.
 */
export function createAssetsRouter(): express.Router {
  const router = express.Router();
  const nhsuk = join(NHSUK_FRONTEND_DIST, 'nhsuk');

  const sendImmutable =
    (file: string, type: string): express.RequestHandler =>
    (_req, res, next) => {
      res.type(type);
      res.sendFile(file, { maxAge: ONE_YEAR_S * 1000, immutable: true, dotfiles: 'deny' }, (err) => {
        if (err) next(err);
      });
    };

  router.use((_req, res, next) => {
    res.set('X-Content-Type-Options', 'nosniff');
    next();
  });
  router.get(ASSET_FILES.css, sendImmutable(join(nhsuk, 'nhsuk-frontend.min.css'), 'text/css'));
  router.get(ASSET_FILES.js, sendImmutable(join(nhsuk, 'nhsuk-frontend.min.js'), 'text/javascript'));
  router.use(
    express.static(join(nhsuk, 'assets'), {
      maxAge: ONE_WEEK_S * 1000,
      index: false,
      redirect: false,
      fallthrough: true,
      dotfiles: 'deny',
    }),
  );
  return router;
}
