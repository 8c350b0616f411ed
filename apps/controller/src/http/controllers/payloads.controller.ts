import { Controller, Res } from '@nestjs/common';
import { API, type PayloadInfo } from '@vmfarm/protocol';
import type { Response } from 'express';
import type { Caller } from '../../auth/caller';
import { Who } from '../../auth/guard';
import { PayloadsService } from '../../payloads/payloads.service';
import { In, Route } from '../route';

@Controller()
export class PayloadsController {
  constructor(private readonly payloads: PayloadsService) {}

  @Route(API.createPayload)
  async create(
    @Who() caller: Caller,
    @In() input: In<typeof API.createPayload>,
    @Res({ passthrough: true }) res: Response,
  ): Promise<PayloadInfo> {
    const { created, payload } = await this.payloads.add(input.body, caller);
    res.status(created ? 201 : 200);
    return payload;
  }

  @Route(API.listPayloads)
  list(@Who() caller: Caller, @In() input: In<typeof API.listPayloads>): Promise<PayloadInfo[]> {
    return this.payloads.list(caller, input.query);
  }

  @Route(API.getPayload)
  get(@Who() caller: Caller, @In() input: In<typeof API.getPayload>): Promise<PayloadInfo> {
    return this.payloads.get(input.params.id, caller);
  }
}
