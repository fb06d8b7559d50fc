import { forgeNames } from '../providers/index.ts';
import { tokens } from '../store/index.ts';

/** GET /api/openapi.json: OpenAPI 3.1 of the REST API (docs/api.md); its schemas are JSON Schema 2020-12. */
const id = { type: 'integer' };
const text = { type: 'string' };
const nullableText = { type: ['string', 'null'] };
const when = { type: ['string', 'null'], format: 'date-time' };
const status = { enum: ['queued', 'waiting', 'running', 'success', 'failure', 'canceled', 'skipped'] };
const page = (item: object) => ({
  type: 'object', required: ['items', 'next'], properties: { items: { type: 'array', items: item }, next: nullableText },
});
const error = { type: 'object', required: ['error'], properties: { error: text } };
/** A page of caches with what they hold together and the repository's cap. */
const withTotals = (p: ReturnType<typeof page>) => ({ ...p, required: [...p.required, 'totalBytes', 'maxBytes'], properties: { ...p.properties, totalBytes: { type: 'number' }, maxBytes: { type: 'number' } } });

const event = {
  type: 'object',
  required: ['forge', 'kind', 'action', 'repo', 'ref', 'branch', 'tag', 'sha', 'before', 'created', 'deleted', 'forced', 'message', 'pullRequest', 'sender', 'source', 'type'],
  properties: {
    forge: { enum: forgeNames() },
    kind: { enum: ['push', 'tag', 'pull_request', 'manual', 'schedule', 'webhook', 'ping'] },
    action: { type: ['string', 'null'] },
    repo: { type: 'object', required: ['name', 'cloneUrl'], properties: { name: text, cloneUrl: nullableText } },
    ref: nullableText, branch: nullableText, tag: nullableText, sha: nullableText, before: nullableText,
    created: { type: 'boolean' }, deleted: { type: 'boolean' }, forced: { type: 'boolean' },
    message: nullableText, pullRequest: { type: ['object', 'null'] }, sender: nullableText, source: nullableText, type: nullableText,
  },
};

const duration = { type: ['integer', 'null'], description: 'milliseconds' };
const step = { type: 'object', required: ['name', 'startedAt', 'finishedAt', 'exitCode', 'status'], properties: { name: text, startedAt: when, finishedAt: when, exitCode: { type: ['integer', 'null'] }, status: text } };
const steps = { type: ['array', 'null'], items: step };
const stage = {
  type: 'object',
  required: ['name', 'status', 'needs', 'attempt', 'startedAt', 'finishedAt', 'reason', 'attempts'],
  properties: {
    name: text, status, needs: { type: 'array', items: text }, attempt: id, startedAt: when, finishedAt: when, durationMs: duration, reason: nullableText,
    waitingFor: nullableText, approvedBy: nullableText, environment: nullableText,
    matrix: { type: ['object', 'null'], properties: { stage: text, values: { type: 'object', additionalProperties: text } } },
    steps,
    attempts: { type: 'array', items: { type: 'object', required: ['attempt', 'status'], properties: { attempt: id, status, reason: nullableText, startedAt: when, finishedAt: when, steps } } },
  },
};

const run = {
  type: 'object',
  required: ['id', 'pipeline', 'repo', 'sha', 'event', 'status', 'attempt', 'stages'],
  properties: {
    id, pipeline: text, repo: text, sha: text, event, status, attempt: id, reason: nullableText, problems: { type: 'array', items: text },
    startedAt: when, finishedAt: when, durationMs: duration, message: nullableText, triggeredBy: nullableText, stages: { type: 'array', items: stage },
  },
};

const runItem = {
  type: 'object', required: ['id', 'pipeline', 'repo', 'sha', 'status'],
  properties: {
    id, pipeline: text, repo: text, sha: text, status, attempt: id, event: text, branch: nullableText, tag: nullableText, pullRequest: { type: ['integer', 'null'] },
    message: nullableText, triggeredBy: nullableText, createdAt: when, startedAt: when, finishedAt: when, durationMs: duration,
  },
};

const delivery = {
  type: 'object',
  required: ['id', 'forge', 'repo', 'receivedAt', 'status', 'reason', 'headers', 'events', 'runs', 'explain'],
  properties: {
    id: text, forge: text, repo: nullableText, receivedAt: { type: 'string' }, status: { enum: ['accepted', 'duplicate', 'ignored'] }, reason: nullableText,
    headers: { type: 'object', additionalProperties: text }, events: { type: 'array', items: event }, runs: { type: 'array', items: id }, explain: { type: 'array' },
  },
};

const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const ok = (schema: object, description = 'OK') => ({ 200: { description, ...json(schema) }, 401: { description: 'a token is required', ...json(error) }, 404: { description: 'not found', ...json(error) } });
const repoParam = { name: 'id', in: 'path', required: true, description: 'a repository\'s id, or its full name URL-encoded', schema: text };
const runParam = { name: 'id', in: 'path', required: true, schema: id };
const stageParam = { name: 'name', in: 'path', required: true, schema: text };
const nameParam = { name: 'name', in: 'path', required: true, schema: text };
const removed = { 204: { description: 'removed' }, 401: { description: 'a token is required', ...json(error) }, 404: { description: 'not found', ...json(error) } };
const refusals = { 400: { description: 'bad input', ...json(error) }, 409: { description: 'conflict: the name is taken', ...json(error) } };
const environment = { type: 'object', required: ['name', 'branches', 'tags', 'approval', 'approvers'], properties: { name: text, branches: { type: ['array', 'null'], items: text }, tags: { type: ['array', 'null'], items: text }, approval: { type: 'boolean' }, approvers: { type: ['array', 'null'], items: text } } };
const tokenItem = { type: 'object', required: ['name', 'role'], properties: { name: text, role: { enum: tokens.ROLES }, createdAt: when, revokedAt: when } };
const pageParams = [{ name: 'limit', in: 'query', schema: { type: 'integer', maximum: 200 } }, { name: 'cursor', in: 'query', schema: text }];

export const openApiDocument = {
  openapi: '3.1.0',
  info: { title: 'Forgeline API', version: '1', description: 'Runs, deliveries, environments and actions of a Forgeline server. Tokens go in `Authorization: Bearer …`; `x-forgeline-role` is the least role an operation needs (read < write < approve < admin).' },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: { Event: event, Run: run, Stage: stage, Delivery: delivery, Error: error },
  },
  security: [{ bearer: [] }],
  paths: {
    '/api/repos': {
      get: { 'x-forgeline-role': 'read', summary: 'Registered repositories', responses: ok(page({ type: 'object', required: ['id', 'forge', 'name'], properties: { id: text, forge: text, name: text, hookUrl: text } })) },
      post: {
        'x-forgeline-role': 'admin', summary: 'Register a repository (admin)',
        requestBody: json({ type: 'object', required: ['forge', 'name'], properties: {
          forge: { enum: forgeNames() }, name: text, cloneUrl: text, apiUrl: text, token: text, secret: text,
          forkPrs: { enum: ['approve', 'run', 'ignore'] }, register: { type: 'boolean' }, allowCidrs: { type: 'array', items: text },
          githubApp: { type: 'object', required: ['appId', 'privateKey'], properties: { appId: text, privateKey: text } },
        } }),
        responses: { 201: { description: 'registered', ...json({ type: 'object', required: ['id', 'hookUrl', 'secret'], properties: { id: text, hookUrl: text, secret: text } }) }, ...refusals, 502: { description: 'the forge refused the webhook (--register)', ...json(error) }, 503: { description: 'the database is unreachable: nothing was stored', ...json(error) } },
      },
    },
    '/api/repos/{id}': {
      patch: {
        'x-forgeline-role': 'admin', parameters: [repoParam], summary: 'Change a repository\'s settings: publicBadges lets anyone read its badges (admin)',
        requestBody: json({ type: 'object', properties: { publicBadges: { type: 'boolean' } } }),
        responses: { ...ok({ type: 'object', required: ['id', 'name', 'publicBadges'], properties: { id: text, name: text, publicBadges: { type: 'boolean' } } }), 400: { description: 'bad input', ...json(error) } },
      },
      delete: { 'x-forgeline-role': 'admin', parameters: [repoParam], summary: 'Unregister a repository: its hook stops answering (admin)', responses: ok({ type: 'object', required: ['id', 'name'], properties: { id: text, name: text } }) },
    },
    '/api/repos/{id}/environments/{name}': {
      put: {
        'x-forgeline-role': 'admin', parameters: [repoParam, nameParam], summary: 'Set an environment\'s protection (admin)',
        requestBody: json({ type: 'object', properties: { branches: { type: ['array', 'null'], items: text }, tags: { type: ['array', 'null'], items: text }, approval: { enum: ['required', 'none'] }, approvers: { type: ['array', 'null'], items: text } } }),
        responses: { ...ok({ ...environment, required: [...environment.required, 'repo'], properties: { ...environment.properties, repo: text, repoId: text } }), 400: { description: 'bad input', ...json(error) } },
      },
      delete: { 'x-forgeline-role': 'admin', parameters: [repoParam, nameParam], summary: 'Remove an environment\'s protection and its secrets; its deployments stay (admin)', responses: removed },
    },
    '/api/repos/{id}/secrets': {
      get: { 'x-forgeline-role': 'admin', parameters: [repoParam], summary: 'Secret names, never values (admin)', responses: ok(page({ type: 'object', required: ['environment', 'name'], properties: { environment: nullableText, name: text, updatedAt: when } })) },
    },
    '/api/repos/{id}/secrets/{name}': {
      put: {
        'x-forgeline-role': 'admin', parameters: [repoParam, nameParam], summary: 'Set a repository secret, or an environment\'s (admin); encrypted at rest, never shown again',
        requestBody: json({ type: 'object', required: ['value'], properties: { value: text, environment: text } }),
        responses: { ...ok({ type: 'object', required: ['repo', 'environment', 'name'], properties: { repo: text, environment: nullableText, name: text } }), 400: { description: 'bad input', ...json(error) } },
      },
      delete: { 'x-forgeline-role': 'admin', parameters: [repoParam, nameParam, { name: 'environment', in: 'query', schema: text }], summary: 'Remove a secret (admin)', responses: removed },
    },
    '/api/repos/{id}/sources/{name}/rotate-secret': {
      post: { 'x-forgeline-role': 'admin', parameters: [repoParam, nameParam], summary: 'A new secret for a source; the old one stays valid until retired (admin)', requestBody: json({ type: 'object', properties: { retireOld: { type: 'boolean' } } }), responses: ok({ type: 'object', required: ['id'], properties: { id: text, secret: text, retired: { type: 'integer' } } }) },
    },
    '/api/token': {
      get: { 'x-forgeline-role': 'read', summary: 'The token the request carries: its name and role', responses: ok({ type: 'object', required: ['name', 'role'], properties: { name: text, role: tokenItem.properties.role } }) },
    },
    '/api/tokens': {
      get: { 'x-forgeline-role': 'admin', summary: 'API tokens (admin); secrets are never shown again', responses: ok(page(tokenItem)) },
      post: { 'x-forgeline-role': 'admin', summary: 'Create a token (admin); its secret is in this answer only', requestBody: json({ type: 'object', required: ['name', 'role'], properties: { name: text, role: tokenItem.properties.role } }), responses: { 201: { description: 'created', ...json({ type: 'object', required: ['name', 'role', 'token'], properties: { name: text, role: text, token: text } }) }, ...refusals } },
    },
    '/api/tokens/{name}': {
      delete: { 'x-forgeline-role': 'admin', parameters: [nameParam], summary: 'Revoke a token (admin)', responses: removed },
    },
    '/api/repos/{id}/environments': { get: { 'x-forgeline-role': 'read', parameters: [repoParam], summary: 'What is deployed where', responses: ok(page({ type: 'object', required: ['name'], properties: { name: text, deployed: { type: ['object', 'null'] } } })) } },
    '/api/repos/{id}/environments/{name}/deployments': {
      get: { 'x-forgeline-role': 'read', parameters: [repoParam, stageParam, ...pageParams], summary: 'Deployment history, newest first', responses: ok(page({ type: 'object', required: ['runId', 'sha', 'status'], properties: { runId: id, stage: text, sha: text, status: text, approvedBy: nullableText } })) },
    },
    '/api/repos/{id}/rotate-secret': {
      post: { 'x-forgeline-role': 'admin', parameters: [repoParam, { name: 'retireOld', in: 'query', schema: { enum: ['true', 'false'] } }], summary: 'A new webhook secret; the old one stays valid until retired (admin)', requestBody: json({ type: 'object', properties: { retireOld: { type: 'boolean' }, secret: text } }), responses: ok({ type: 'object', required: ['id'], properties: { id: text, secret: text, retired: { type: 'integer' } } }) },
    },
    '/api/repos/{id}/caches': {
      get: {
        'x-forgeline-role': 'read', parameters: [repoParam], summary: 'The repository\'s caches, most recently used first, with their total and the cap (FORGELINE_CACHE_MAX_BYTES)',
        responses: ok(withTotals(page({ type: 'object', required: ['branch', 'key', 'bytes', 'files'], properties: { branch: text, key: text, bytes: { type: 'number' }, files: { type: 'integer' }, runId: { type: ['integer', 'null'] }, createdAt: when, lastUsedAt: when } }))),
      },
      delete: {
        'x-forgeline-role': 'write', parameters: [repoParam, { name: 'key', in: 'query', schema: text }, { name: 'branch', in: 'query', schema: text }], summary: 'Delete caches: all, those of a key, of a branch, or both',
        responses: ok({ type: 'object', required: ['deleted'], properties: { deleted: { type: 'integer' } } }),
      },
    },
    '/api/repos/{id}/sources': {
      get: { 'x-forgeline-role': 'read', parameters: [repoParam], summary: 'Generic webhook sources', responses: ok(page({ type: 'object', required: ['name', 'auth'], properties: { name: text, auth: text } })) },
      post: { 'x-forgeline-role': 'admin', parameters: [repoParam], summary: 'Add a generic webhook source (admin)', requestBody: json({ type: 'object', required: ['name', 'auth'], properties: { name: text, auth: { enum: ['hmac', 'standard-webhooks', 'bearer'] }, secret: text, signatureHeader: text, typeFrom: text, idFrom: text, allowCidrs: { type: 'array', items: text } } }), responses: { 201: { description: 'added', ...json({ type: 'object', required: ['id', 'name', 'repo', 'hookUrl'], properties: { id: text, name: text, repo: text, hookUrl: text, secret: nullableText } }) } } },
    },
    '/api/repos/{id}/sources/{name}': {
      delete: { 'x-forgeline-role': 'admin', parameters: [repoParam, { name: 'name', in: 'path', required: true, schema: text }], summary: 'Remove a generic webhook source (admin)', responses: { 204: { description: 'removed' }, 404: { description: 'not found', ...json(error) } } },
    },
    '/api/deliveries': { get: { 'x-forgeline-role': 'read', parameters: [{ name: 'repo', in: 'query', schema: text }, ...pageParams], summary: 'Deliveries, newest first', responses: ok(page({ type: 'object', required: ['id', 'status'], properties: { id: text, status: text } })) } },
    '/api/deliveries/{id}': { get: { 'x-forgeline-role': 'read', parameters: [{ name: 'id', in: 'path', required: true, schema: text }], summary: 'One delivery', responses: ok(delivery) } },
    '/api/deliveries/{id}/replay': { post: { parameters: [{ name: 'id', in: 'path', required: true, schema: text }], 'x-forgeline-role': 'write', summary: 'Process a stored delivery again (write)', responses: { 201: { description: 'replayed', ...json({ type: 'object', required: ['delivery', 'runs'], properties: { delivery: text, runs: { type: 'array', items: id } } }) } } } },
    '/api/runs': { get: { 'x-forgeline-role': 'read', parameters: [{ name: 'repo', in: 'query', schema: text }, { name: 'sha', in: 'query', schema: text }, { name: 'ref', in: 'query', schema: text }, { name: 'status', in: 'query', schema: text }, ...pageParams], summary: 'Runs, newest first', responses: ok(page(runItem)) } },
    '/api/runs/{id}': { get: { 'x-forgeline-role': 'read', parameters: [runParam], summary: 'One run with its stages', responses: ok(run) } },
    '/api/runs/{id}/stages/{name}/log': { get: { 'x-forgeline-role': 'read', parameters: [runParam, stageParam, { name: 'attempt', in: 'query', schema: { type: 'integer', minimum: 1 } }], summary: 'A stage\'s log (its current attempt, or ?attempt=N); Accept: text/event-stream follows it live', responses: { 200: { description: 'the log', content: { 'text/plain': { schema: text }, 'text/event-stream': { schema: text } } } } } },
    '/api/runs/{id}/cancel': { post: { parameters: [runParam], 'x-forgeline-role': 'write', summary: 'Cancel (write)', responses: ok({ type: 'object', required: ['id', 'canceled'], properties: { id, canceled: { type: 'array', items: text } } }) } },
    '/api/runs/{id}/rerun': { post: { parameters: [runParam, { name: 'failed', in: 'query', schema: { enum: ['true', 'false'] } }], 'x-forgeline-role': 'write', summary: 'Rerun the whole run, or with ?failed=true its failed and canceled stages and those that need them (write)', responses: ok({ type: 'object', required: ['id', 'attempt', 'stages'], properties: { id, attempt: id, stages: { type: 'array', items: text } } }) } },
    '/api/runs/{id}/stages/{name}/rerun': { post: { parameters: [runParam, stageParam], 'x-forgeline-role': 'write', summary: 'Rerun a stage and its dependents (write)', responses: ok({ type: 'object', required: ['id', 'attempt', 'stages'] }) } },
    '/api/runs/{id}/stages/{name}/approve': { post: { parameters: [runParam, stageParam], 'x-forgeline-role': 'approve', summary: 'Approve a waiting stage (approve)', responses: ok({ type: 'object', required: ['run', 'stage', 'approved'], properties: { run: id, stage: text, approved: { enum: ['run', 'stage'] } } }) } },
    '/api/trigger': { post: { 'x-forgeline-role': 'write', summary: 'A manual event (write)', requestBody: json({ type: 'object', required: ['repo', 'ref'], properties: { repo: text, ref: text, pipeline: text, inputs: { type: 'object' } } }), responses: { 201: { description: 'triggered', ...json({ type: 'object', required: ['delivery', 'runs'] }) } } } },
  },
};
