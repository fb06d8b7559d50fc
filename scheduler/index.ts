export { startBoss, QUEUES } from './queues.ts';
export { startWorkers, type WorkerOptions } from './workers.ts';
export { receiveHook, type HookAnswer, type HookRequest } from './ingest.ts';
export { registerRepo, type RepoRegistration, type Registered } from './register-repo.ts';
export { runView, deliveryView, stageLog } from './views.ts';
export { PUBLIC_FORGE_HOSTS, type UrlPolicy } from './allowed-urls.ts';
export type { SchedulerDeps } from './deps.ts';
