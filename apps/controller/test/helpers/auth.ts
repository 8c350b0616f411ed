import request from 'supertest';
import { newToken } from '../../src/auth/secrets';

/** The admin token test controllers are started with (config.adminToken, as VMFARM_ADMIN_TOKEN). */
export const ADMIN_TOKEN = newToken();

/** supertest against `target`, every request carrying `Authorization: Bearer <token>`. */
export function authed(target: Parameters<typeof request>[0], token: string) {
  const http = request(target);
  const bearer = `Bearer ${token}`;
  return {
    get: (url: string) => http.get(url).set('authorization', bearer),
    put: (url: string) => http.put(url).set('authorization', bearer),
    post: (url: string) => http.post(url).set('authorization', bearer),
    patch: (url: string) => http.patch(url).set('authorization', bearer),
    delete: (url: string) => http.delete(url).set('authorization', bearer),
  };
}

/** Registers an agent with the caller's token, as a real agent does first; results are taken from it only. */
export async function registerAgent(api: ReturnType<typeof authed>, name = 'test agent'): Promise<string> {
  const res = await api
    .post('/api/agents')
    .send({ name, host: 'test', version: '0', capabilities: { targetKinds: ['static'] } })
    .expect(201);
  return res.body.id as string;
}
