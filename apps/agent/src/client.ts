import {
  agentRegisteredSchema,
  agentViewSchema,
  type AgentView,
  attemptAckSchema,
  attemptStartedSchema,
  type AgentRegistered,
  type AgentRegistration,
  type AttemptAck,
  type AttemptResult,
  type AttemptStarted,
} from '@vmfarm/protocol';

/** An HTTP answer that is not 2xx; `status` 0 when the controller could not be reached. */
export class ControllerError extends Error {
  override name = 'ControllerError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Parser<T> {
  parse(value: unknown): T;
}

const ignore: Parser<void> = { parse: () => undefined };

/** The ApiError message of an answer, else its text. */
function messageOf(text: string): string {
  try {
    return (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    return text;
  }
}

/** 401 and 403 say the token is wrong or lacks the agent role: one line that says so. */
function refusal(status: number, message: string): string | undefined {
  return status === 401 || status === 403 ? `the controller refused the token: ${message}` : undefined;
}

/** The controller's REST API as the agent uses it, with the agent's token. */
export class ControllerClient {
  private readonly auth: Record<string, string>;

  constructor(
    readonly baseUrl: string,
    token: string,
  ) {
    this.auth = { authorization: `Bearer ${token}` };
  }

  async request<T>(method: string, path: string, body: unknown, schema: Parser<T>): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: body === undefined ? this.auth : { ...this.auth, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ControllerError(0, cause?.code ?? cause?.message ?? (err as Error).message);
    }
    const text = await res.text();
    if (!res.ok) {
      const message = messageOf(text);
      throw new ControllerError(
        res.status,
        refusal(res.status, message) ?? `${method} ${path}: ${res.status} ${message}`,
      );
    }
    return schema.parse(JSON.parse(text));
  }

  register(reg: AgentRegistration): Promise<AgentRegistered> {
    return this.request('POST', '/api/agents', reg, agentRegisteredSchema);
  }

  /** Every agent the controller knows, with its probed capabilities. */
  agents(): Promise<AgentView[]> {
    return this.request('GET', '/api/agents', undefined, agentViewSchema.array());
  }

  async heartbeat(agentId: string): Promise<void> {
    await this.request('POST', `/api/agents/${encodeURIComponent(agentId)}/heartbeat`, {}, ignore);
  }

  startAttempt(runId: string, attempt: number, agentId: string): Promise<AttemptStarted> {
    return this.request(
      'POST',
      `/api/runs/${encodeURIComponent(runId)}/attempts/${attempt}/start`,
      { agentId },
      attemptStartedSchema,
    );
  }

  postResult(runId: string, attempt: number, result: AttemptResult): Promise<AttemptAck> {
    return this.request(
      'POST',
      `/api/runs/${encodeURIComponent(runId)}/attempts/${attempt}/result`,
      result,
      attemptAckSchema,
    );
  }

  /** The image bytes; the caller streams and verifies them. */
  async imageContent(sha256: string): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(new URL(`/api/images/${sha256}/content`, this.baseUrl), { headers: this.auth });
    } catch (err) {
      throw new ControllerError(
        0,
        (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message,
      );
    }
    if (!res.ok || !res.body) {
      const text = await res.text();
      throw new ControllerError(
        res.status,
        `image ${sha256}: ${refusal(res.status, messageOf(text)) ?? `${res.status} ${text}`}`,
      );
    }
    return res;
  }
}
