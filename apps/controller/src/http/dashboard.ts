import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** From dist/src/http/ of this app to the dashboard's Vite build in the monorepo. */
const MONOREPO_DASHBOARD = path.resolve(__dirname, '../../../../dashboard/dist');

/** Where the built dashboard lives: VMFARM_DASHBOARD_DIR, else apps/dashboard/dist of this checkout. */
export function dashboardDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.VMFARM_DASHBOARD_DIR || MONOREPO_DASHBOARD);
}

// The bundle is same-origin only; React and the chart library set styles through the DOM, not inline tags.
const CSP =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

const notBuilt = (dir: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vmfarm: dashboard not built</title></head>
<body style="font-family: sans-serif; max-width: 44rem; margin: 3rem auto">
<h1>vmfarm: the dashboard is not built</h1>
<p>The controller serves the dashboard from <code>${escapeHtml(dir)}</code>, which has no <code>index.html</code>.</p>
<p>Build it with <code>npm run build -w @vmfarm/dashboard</code> (<code>npm run farm</code> and <code>npm test</code> do),
or point <code>VMFARM_DASHBOARD_DIR</code> at a built copy. The REST API works without it: <a href="/api/openapi.json">/api/openapi.json</a>.</p>
</body></html>
`;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const isApi = (p: string) => p === '/api' || p.startsWith('/api/');

/**
 * The dashboard's static files, and index.html for every other GET outside /api (client-side routes
 * such as /matrices/ID). Unauthenticated: the files hold no data; the API checks every request.
 * Whether it is built is checked per request, so building it does not need a controller restart.
 */
export function dashboardRouter(dir: string): Router {
  const router = express.Router();
  const index = path.join(dir, 'index.html');
  const files = express.static(dir, {
    index: false,
    fallthrough: true,
    setHeaders: (res, file) => {
      res.setHeader('X-Content-Type-Options', 'nosniff');
      if (file.endsWith('.html')) res.setHeader('Content-Security-Policy', CSP);
      // Vite names assets by content hash: they never change under one name.
      if (file.startsWith(path.join(dir, 'assets') + path.sep))
        res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    },
  });
  router.use((req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || isApi(req.path)) return next();
    files(req, res, () => {
      // A missing asset is a 404, not the app: the browser asked for a file.
      if (req.path.startsWith('/assets/')) return next();
      res.setHeader('Content-Security-Policy', CSP);
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Cache-Control', 'no-cache');
      if (!fs.existsSync(index)) {
        res.status(503).type('html').send(notBuilt(dir));
        return;
      }
      res.sendFile(index);
    });
  });
  return router;
}
