import { Controller } from '@nestjs/common';
import {
  API,
  type AgentRegistered,
  type AgentView,
  type AttemptAck,
  type AttemptStarted,
  type HeartbeatAnswer,
} from '@vmfarm/protocol';
import { AgentsService } from '../../agents/agents.service';
import type { Caller } from '../../auth/caller';
import { Who } from '../../auth/guard';
import { RunsService } from '../../runs/runs.service';
import { In, Route } from '../route';

/** What agents call: registration, heartbeats, and the start and result of each attempt. */
@Controller()
export class AgentsController {
  constructor(
    private readonly agents: AgentsService,
    private readonly runs: RunsService,
  ) {}

  @Route(API.registerAgent)
  register(@Who() caller: Caller, @In() input: In<typeof API.registerAgent>): Promise<AgentRegistered> {
    return this.agents.register(input.body, caller);
  }

  @Route(API.listAgents)
  list(@In() input: In<typeof API.listAgents>): Promise<AgentView[]> {
    return this.agents.list(input.query);
  }

  @Route(API.heartbeat)
  heartbeat(@Who() caller: Caller, @In() input: In<typeof API.heartbeat>): Promise<HeartbeatAnswer> {
    return this.agents.heartbeat(input.params.id, caller);
  }

  @Route(API.startAttempt)
  async start(@Who() caller: Caller, @In() input: In<typeof API.startAttempt>): Promise<AttemptStarted> {
    await this.agents.actingAs(input.body.agentId, caller);
    return this.runs.startAttempt(input.params.id, input.params.n, input.body.agentId);
  }

  @Route(API.postAttemptResult)
  async result(@Who() caller: Caller, @In() input: In<typeof API.postAttemptResult>): Promise<AttemptAck> {
    await this.agents.actingAs(input.body.agentId, caller);
    return this.runs.recordResult(input.params.id, input.params.n, input.body);
  }
}
