import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  agentRegistrationSchema,
  attemptResultSchema,
  attemptStartSchema,
  type AgentRegistered,
  type AgentView,
  type AttemptAck,
  type AttemptStarted,
} from '@vmfarm/protocol';
import { AgentsService } from '../../agents/agents.service';
import { Allow } from '../../auth/guard';
import { AGENTS, READERS } from '../../auth/policy';
import { RunsService } from '../../runs/runs.service';
import { attemptParams, idParams } from '../schemas';
import { validate } from '../validate';

/** What agents call: registration, heartbeats, and the start and result of each attempt. */
@Controller('api')
export class AgentsController {
  constructor(
    private readonly agents: AgentsService,
    private readonly runs: RunsService,
  ) {}

  @Post('agents')
  @Allow(AGENTS)
  register(@Body() body: unknown): Promise<AgentRegistered> {
    return this.agents.register(validate({ body: [agentRegistrationSchema, body] }).body);
  }

  /** Agents read it too: a host that cannot run a job checks whether another agent could. */
  @Get('agents')
  @Allow([...READERS, 'agent'])
  list(): Promise<AgentView[]> {
    return this.agents.list();
  }

  @Post('agents/:id/heartbeat')
  @Allow(AGENTS)
  @HttpCode(200)
  async heartbeat(@Param() params: unknown): Promise<{ ok: true }> {
    await this.agents.heartbeat(validate({ params: [idParams, params] }).params.id);
    return { ok: true };
  }

  @Post('runs/:id/attempts/:n/start')
  @Allow(AGENTS)
  @HttpCode(200)
  start(@Param() params: unknown, @Body() body: unknown): Promise<AttemptStarted> {
    const input = validate({ params: [attemptParams, params], body: [attemptStartSchema, body] });
    return this.runs.startAttempt(input.params.id, input.params.n, input.body.agentId);
  }

  @Post('runs/:id/attempts/:n/result')
  @Allow(AGENTS)
  @HttpCode(200)
  result(@Param() params: unknown, @Body() body: unknown): Promise<AttemptAck> {
    const input = validate({ params: [attemptParams, params], body: [attemptResultSchema, body] });
    return this.runs.recordResult(input.params.id, input.params.n, input.body);
  }
}
