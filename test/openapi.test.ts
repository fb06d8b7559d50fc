import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToken, setEnvironment } from '../scheduler/index.ts';
import { startBench, type Bench } from './helpers/engine.ts';

describe('/api/openapi.json against the real API', () => {
  let b: Bench;
  let doc: any;
  let token: string;
  const ajv = new Ajv2020({ strict: false, allErrors: true });

  beforeAll(async () => {
    b = await startBench('acme/openapi', { workers: 2 });
    token = (await addToken(b.forgeline.runtime.db.pool, 'checker', 'admin', 'test')).token;
    doc = (await b.api('/openapi.json')).body;
  });
  afterAll(() => b?.stop());

  /** The documented schema of a path's answer, by matching the path against the templates. */
  function schemaFor(method: string, path: string, status: number): object {
    const entry = Object.entries(doc.paths as Record<string, any>).find(([template]) =>
      new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path.split('?')[0]!));
    if (!entry) throw new Error(`${method} ${path} is not in the document`);
    const schema = entry[1][method.toLowerCase()]?.responses?.[status]?.content?.['application/json']?.schema;
    if (!schema) throw new Error(`${method} ${entry[0]} documents no ${status} JSON answer`);
    return schema;
  }

  async function check(method: string, path: string, body?: unknown) {
    const res = await b.api(path, { method, token, body });
    const validate = ajv.compile(schemaFor(method, `/api${path}`, res.status));
    expect(validate(res.body), `${method} ${path}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    return res;
  }

  it('is OpenAPI 3.1 and describes every answer the API gives', async () => {
    expect(doc.openapi).toBe('3.1.0');
    await setEnvironment(b.forgeline.runtime.db.pool, { repo: b.name, name: 'staging', branches: null, approval: false, approvers: null }, 'test');
    const { runs: [id], delivery } = await b.push({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  deploy:\n    environment: staging\n    steps: [{ run: "true" }]\n' });
    await b.finished(id!);
    const repo = encodeURIComponent(b.name);
    await check('GET', '/repos');
    await check('GET', `/repos/${repo}/environments`);
    await check('GET', `/repos/${repo}/environments/staging/deployments`);
    await check('GET', `/repos/${repo}/sources`);
    await check('GET', '/deliveries?limit=5');
    await check('GET', `/deliveries/${delivery.id}`);
    await check('GET', '/runs?limit=5');
    await check('GET', `/runs/${id}`);
    await check('POST', `/runs/${id}/rerun`);
    await b.finished(id!);
    await check('POST', `/runs/${id}/stages/deploy/rerun`);
    await b.finished(id!);
    await check('POST', `/runs/${id}/cancel`);
    await check('POST', `/deliveries/${delivery.id}/replay`);
    await check('POST', `/repos/${repo}/rotate-secret`);
    await check('POST', `/repos/${repo}/rotate-secret?retireOld=true`);
    await check('POST', `/repos/${repo}/sources`, { name: 'tickets', auth: 'bearer' });
    expect((await b.api(`/repos/${repo}/sources/tickets`, { method: 'DELETE', token })).status).toBe(204);
    expect((await b.api(`/repos/${repo}/sources/tickets`, { method: 'DELETE', token })).status).toBe(404);
    expect((await b.api('/runs/999999', { token })).status).toBe(404);
    await check('GET', '/runs/999999');
  });

  it('describes the admin endpoints the CLI uses, and answers 400, 404 and 409 where the caller is at fault', async () => {
    const repo = encodeURIComponent(b.name);
    expect((await check('PUT', `/repos/${repo}/environments/qa`, { branches: ['main'], approval: 'required', approvers: ['checker'] })).body).toMatchObject({ name: 'qa', approval: true });
    expect((await check('PUT', `/repos/${repo}/environments/qa`, { approval: 'maybe' })).status).toBe(400);
    await check('PUT', `/repos/${repo}/secrets/DEPLOY_KEY`, { value: 'v', environment: 'qa' });
    expect((await check('GET', `/repos/${repo}/secrets`)).body.items).toEqual([expect.objectContaining({ environment: 'qa', name: 'DEPLOY_KEY' })]);
    expect((await check('PUT', `/repos/${repo}/secrets/DEPLOY_KEY`, { value: 42 })).status).toBe(400);
    expect((await b.api(`/repos/${repo}/environments/qa`, { method: 'DELETE', token })).status).toBe(204);
    // The environment's secrets go with it.
    expect((await check('GET', `/repos/${repo}/secrets`)).body.items).toEqual([]);
    expect((await check('GET', '/token')).body).toEqual({ name: 'checker', role: 'admin' });
    expect((await check('POST', '/tokens', { name: 'robot', role: 'write' })).status).toBe(201);
    expect((await check('POST', '/tokens', { name: 'robot', role: 'read' })).body).toEqual({ error: 'a token named robot already exists: revoke it first, or choose another name' });
    expect((await check('GET', '/tokens')).body.items.map((t: { name: string }) => t.name)).toContain('robot');
    expect((await b.api('/tokens/robot', { method: 'DELETE', token })).status).toBe(204);
    expect((await b.api('/tokens/robot', { method: 'DELETE', token })).status).toBe(404);
    expect((await check('POST', '/repos', { forge: 'github', name: ['acme', 'x'] })).body).toEqual({ error: '"name" must be a string' });
    expect((await check('POST', '/repos', { forge: 'github', name: b.name })).status).toBe(409);
    for (const id of ['99999999999999999999', 'abc', '-1']) expect((await b.api(`/runs/${id}/cancel`, { method: 'POST', token })).status, id).toBe(404);
    await check('POST', '/repos', { forge: 'github', name: 'acme/removable', cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9' });
    await check('DELETE', '/repos/acme%2Fremovable');
  });
});
