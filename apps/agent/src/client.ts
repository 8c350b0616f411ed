import {
  API,
  ApiRequestError,
  createClient,
  type AgentRegistered,
  type AgentRegistration,
  type AgentView,
  type ApiClient,
  type AttemptAck,
  type AttemptResult,
  type AttemptStarted,
} from '@vmfarm/protocol';

/** A call the controller refused or did not answer; `status` 0 when it could not be reached. */
export class ControllerError extends Error {
  override name = 'ControllerError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The shared client's error in the agent's words: 401 and 403 say the token is the problem. */
function controllerError(err: unknown): unknown {
  if (!(err instanceof ApiRequestError)) return err;
  if (err.status === 401 || err.status === 403)
    return new ControllerError(err.status, `the controller refused the token: ${err.message}`);
  return new ControllerError(
    err.status,
    err.status === 0 ? err.message : `${err.route}: ${err.status} ${err.message}`,
  );
}

const mapped = <T>(call: Promise<T>): Promise<T> =>
  call.catch((err: unknown) => {
    throw controllerError(err);
  });

const PAGE = 100;

/** The controller's REST API as the agent uses it, with the agent's token (the typed client of the route table). */
export class ControllerClient {
  private readonly api: ApiClient<typeof API>;

  constructor(
    readonly baseUrl: string,
    token: string,
  ) {
    this.api = createClient(API, { baseUrl: baseUrl.replace(/\/+$/, ''), token, timeoutMs: 60_000 });
  }

  register(reg: AgentRegistration): Promise<AgentRegistered> {
    return mapped(this.api.registerAgent({ body: reg }));
  }

  /** Every agent the controller knows, with its probed capabilities. */
  async agents(): Promise<AgentView[]> {
    const all: AgentView[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await mapped(this.api.listAgents({ query: { limit: PAGE, offset } }));
      all.push(...page);
      if (page.length < PAGE) return all;
    }
  }

  /** Resolves with the runs this agent holds that were cancelled: stop them. */
  async heartbeat(agentId: string): Promise<string[]> {
    return (await mapped(this.api.heartbeat({ params: { id: agentId } }))).cancel;
  }

  startAttempt(runId: string, attempt: number, agentId: string): Promise<AttemptStarted> {
    return mapped(this.api.startAttempt({ params: { id: runId, n: attempt }, body: { agentId } }));
  }

  postResult(runId: string, attempt: number, result: AttemptResult): Promise<AttemptAck> {
    return mapped(this.api.postAttemptResult({ params: { id: runId, n: attempt }, body: result }));
  }

  /** The image bytes; the caller streams and verifies them. */
  async imageContent(sha256: string): Promise<Response> {
    // No time limit: an image takes as long as its size needs.
    return mapped(this.api.getImageContent({ params: { sha256 } }, { timeoutMs: 0 })).catch(
      (err: unknown) => {
        if (err instanceof ControllerError)
          throw new ControllerError(err.status, `image ${sha256}: ${err.message}`);
        throw err;
      },
    );
  }
}
