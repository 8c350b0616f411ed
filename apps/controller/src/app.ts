import 'reflect-metadata';
import {
  Inject,
  Injectable,
  Logger,
  type DynamicModule,
  type LoggerService,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { API, type RouteTable } from '@vmfarm/protocol';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { AgentsService } from './agents/agents.service';
import { AuthService } from './auth/auth.service';
import { AuthGuard } from './auth/guard';
import type { ControllerConfig } from './config';
import { ApiExceptionFilter } from './http/api-exception.filter';
import { RouteInterceptor } from './http/route.interceptor';
import { dashboardDir, dashboardRouter } from './http/dashboard';
import { AgentsController } from './http/controllers/agents.controller';
import { AuthController } from './http/controllers/auth.controller';
import { ImagesController } from './http/controllers/images.controller';
import { MatricesController } from './http/controllers/matrices.controller';
import { SystemController } from './http/controllers/system.controller';
import { TargetsController } from './http/controllers/targets.controller';
import { HistoryController } from './http/controllers/history.controller';
import { SchedulesController } from './http/controllers/schedules.controller';
import { TriageController } from './http/controllers/triage.controller';
import { PayloadsController } from './http/controllers/payloads.controller';
import { PayloadsService } from './payloads/payloads.service';
import { PayloadsRepository } from './store/payloads.repository';
import { RedisEventBus, type EventBus } from './events/event-bus';
import { EventsService } from './events/events.service';
import { HistoryService } from './history/history.service';
import { BullScheduler, type Scheduler } from './schedules/scheduler';
import { SchedulesService } from './schedules/schedules.service';
import { HistoryRepository } from './store/history.repository';
import { SchedulesRepository } from './store/schedules.repository';
import { ImageStore } from './images/image-store';
import { ImagesService } from './images/images.service';
import { MatricesService } from './matrices/matrices.service';
import { BullRunQueue, type RunQueue } from './queue/run-queue';
import { ArtifactStore } from './runs/artifact-store';
import { PlacementService } from './runs/placement.service';
import { ReconcileService } from './runs/reconcile.service';
import { RunsService } from './runs/runs.service';
import { AgentsRepository } from './store/agents.repository';
import { databaseTarget, openDatabase, type Db } from './store/database';
import { ImagesRepository } from './store/images.repository';
import { MatricesRepository } from './store/matrices.repository';
import { RunsRepository } from './store/runs.repository';
import { TargetsRepository } from './store/targets.repository';
import { SessionsRepository } from './store/sessions.repository';
import { TokensRepository } from './store/tokens.repository';
import { DB } from './store/tokens';
import { registryCatalog, SUITE_CATALOG, type SuiteCatalog } from './suites';
import { TargetsService } from './targets/targets.service';
import { HooksRepository } from './store/hooks.repository';
import { KnownIssuesRepository } from './store/known-issues.repository';
import { PoliciesRepository } from './store/policies.repository';
import { RetentionRepository } from './store/retention.repository';
import { SettlementsRepository } from './store/settlements.repository';
import { RunCompletion } from './triage/completion';
import { HooksService } from './triage/hooks.service';
import { JanitorService } from './triage/janitor.service';
import { KcidbService } from './triage/kcidb.service';
import { KnownIssuesService } from './triage/known-issues.service';
import { NotificationsService } from './triage/notifications.service';
import { PoliciesService } from './triage/policies.service';
import { ScopeAccess } from './triage/scopes';
import { TriageService } from './triage/triage.service';
import { ARTIFACT_STORE, CONFIG, EVENT_BUS, IMAGE_STORE, ROUTE_TABLE, RUN_QUEUE, SCHEDULER } from './tokens';

/** Replaceable adapters for in-process tests. */
export interface AppOverrides {
  suites?: SuiteCatalog;
  runQueue?: RunQueue;
  scheduler?: Scheduler;
  eventBus?: EventBus;
  /** Routes added to API, served by `controllers` (a test shows a new route reaching everything). */
  routes?: RouteTable;
  controllers?: (new (...args: never[]) => unknown)[];
}

/** Closes what the app opened outside Nest's own lifecycle: Redis connections, then the database. */
@Injectable()
class Resources implements OnApplicationShutdown {
  constructor(
    @Inject(RUN_QUEUE) private readonly queue: RunQueue,
    @Inject(DB) private readonly db: Db,
  ) {}
  async onApplicationShutdown(): Promise<void> {
    await this.queue.close();
    await this.db.destroy();
  }
}

const NEST_CHATTER = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/** Nest's log lines go to stderr: stdout carries only the "listening" line the CLI waits for. */
class StderrLogger implements LoggerService {
  private write(level: string, message: unknown, context?: unknown) {
    const ctx = typeof context === 'string' ? ` ${context}:` : '';
    process.stderr.write(`vmfarm controller ${level}${ctx} ${String(message)}\n`);
  }
  log(message: unknown, ...rest: unknown[]) {
    // Nest's start-up chatter (modules, route mapping) says nothing an operator needs.
    if (!NEST_CHATTER.has(String(rest.at(-1)))) this.write('info', message, rest.at(-1));
  }
  error(message: unknown, ...rest: unknown[]) {
    this.write('error', message, rest.at(-1));
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.write('warn', message, rest.at(-1));
  }
}

export function appModule(config: ControllerConfig, db: Db, overrides: AppOverrides = {}): DynamicModule {
  class VmfarmModule {}
  return {
    module: VmfarmModule,
    controllers: [
      ImagesController,
      TargetsController,
      MatricesController,
      AgentsController,
      SystemController,
      AuthController,
      SchedulesController,
      HistoryController,
      TriageController,
      PayloadsController,
      ...(overrides.controllers ?? []),
    ],
    providers: [
      { provide: CONFIG, useValue: config },
      { provide: ROUTE_TABLE, useValue: { ...API, ...overrides.routes } },
      { provide: DB, useValue: db },
      { provide: IMAGE_STORE, useValue: new ImageStore(config.dataDir) },
      { provide: ARTIFACT_STORE, useValue: new ArtifactStore(config.dataDir) },
      {
        provide: RUN_QUEUE,
        useValue: overrides.runQueue ?? new BullRunQueue(config.redisUrl, config.queuePrefix),
      },
      { provide: SUITE_CATALOG, useValue: overrides.suites ?? registryCatalog() },
      {
        provide: SCHEDULER,
        useValue: overrides.scheduler ?? new BullScheduler(config.redisUrl, config.queuePrefix),
      },
      {
        provide: EVENT_BUS,
        useValue: overrides.eventBus ?? new RedisEventBus(config.redisUrl, config.queuePrefix),
      },
      ImagesRepository,
      TargetsRepository,
      MatricesRepository,
      RunsRepository,
      AgentsRepository,
      ImagesService,
      TargetsService,
      MatricesService,
      RunsService,
      AgentsService,
      ReconcileService,
      PlacementService,
      SchedulesRepository,
      HistoryRepository,
      EventsService,
      SchedulesService,
      HistoryService,
      Resources,
      TokensRepository,
      SessionsRepository,
      AuthService,
      // Triage: known issues, retry before regression, notifications, retention, KCIDB export.
      RunCompletion,
      KnownIssuesRepository,
      SettlementsRepository,
      PoliciesRepository,
      HooksRepository,
      RetentionRepository,
      ScopeAccess,
      KnownIssuesService,
      NotificationsService,
      TriageService,
      PoliciesService,
      HooksService,
      JanitorService,
      KcidbService,
      PayloadsRepository,
      PayloadsService,
      { provide: APP_GUARD, useClass: AuthGuard },
      { provide: APP_INTERCEPTOR, useClass: RouteInterceptor },
    ],
  };
}

type RouterStack = { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };

/** `method path` of every route Express serves. */
export function servedRoutes(app: NestExpressApplication): string[] {
  const router = (app.getHttpAdapter().getInstance() as { router: RouterStack }).router;
  return router.stack
    .filter((l) => l.route)
    .flatMap((l) =>
      Object.keys(l.route!.methods)
        .filter((m) => m !== '_all')
        .map((m) => `${m} ${l.route!.path}`),
    )
    .sort();
}

/** Every route served is in the table and every table route is served: a gap stops the start. */
function checkServedTable(app: NestExpressApplication, table: RouteTable): void {
  const served = new Set(servedRoutes(app));
  const declared = new Set(Object.values(table).map((r) => `${r.method} ${r.path}`));
  const missing = [...declared].filter((r) => !served.has(r));
  const extra = [...served].filter((r) => !declared.has(r));
  if (missing.length || extra.length)
    throw new Error(
      `the routes served differ from the route table: ${[
        ...missing.map((r) => `not served: ${r}`),
        ...extra.map((r) => `not in the table: ${r}`),
      ].join('; ')}`,
    );
}

/** The controller app, initialised (migrated, reconciled) but not listening. */
export async function createApp(
  config: ControllerConfig,
  overrides: AppOverrides = {},
): Promise<NestExpressApplication> {
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // Only its owner reaches the farm's data, whatever an older version or a shell left on the directory.
  try {
    fs.chmodSync(config.dataDir, 0o700);
  } catch (err) {
    new Logger('Data').warn(`cannot make ${config.dataDir} private (0700): ${(err as Error).message}`);
  }
  const db = await openDatabase(databaseTarget(config.databaseUrl, config.dataDir));
  let app: NestExpressApplication;
  try {
    app = await NestFactory.create<NestExpressApplication>(appModule(config, db, overrides), {
      bodyParser: false,
      logger: new StderrLogger(),
      abortOnError: false,
    });
  } catch (err) {
    await db.destroy();
    throw err;
  }
  app.disable('x-powered-by');
  app.use(dashboardRouter(dashboardDir()));
  app.useGlobalFilters(new ApiExceptionFilter());
  await app.init();
  try {
    checkServedTable(app, app.get<RouteTable>(ROUTE_TABLE));
  } catch (err) {
    await app.close();
    throw err;
  }
  return app;
}

export interface RunningController {
  app: NestExpressApplication;
  url: string;
  close(): Promise<void>;
}

/** createApp, then listen and print the one line the CLI waits for. */
export async function bootstrap(
  config: ControllerConfig,
  overrides: AppOverrides = {},
): Promise<RunningController> {
  const app = await createApp(config, overrides);
  await app.listen(config.port, config.host);
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://${config.host}:${port}`;
  process.stdout.write(`vmfarm controller listening on ${url}\n`);
  return { app, url, close: () => app.close() };
}
