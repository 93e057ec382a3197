import { get } from 'node:http';

/**
 * Container health check: exits 0 when `GET http://127.0.0.1:$PORT/healthcheck` answers 200
 * within two seconds, else 1. The runtime image has no curl or shell, so Docker's HEALTHCHECK
 * and an ECS container health check run this with node instead.
 */
const port = Number(process.env.PORT || 8080);
const request = get({ host: '127.0.0.1', port, path: '/healthcheck', timeout: 2000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
request.on('timeout', () => request.destroy(new Error('timed out')));
request.on('error', () => process.exit(1));
