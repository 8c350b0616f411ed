import { Body, Controller, Get, Param, Patch, Put, Query, Req, Res, StreamableFile } from '@nestjs/common';
import { imagePatchSchema, imageUploadQuerySchema, type ImageResource } from '@vmfarm/protocol';
import type { Request, Response } from 'express';
import type { Caller } from '../../auth/caller';
import { Allow, Who } from '../../auth/guard';
import { READERS, WRITERS } from '../../auth/policy';
import { ApiHttpError } from '../../errors';
import { ImagesService } from '../../images/images.service';
import { IMAGE_MEDIA_TYPES, shaParams } from '../schemas';
import { validate } from '../validate';

@Controller('api/images')
export class ImagesController {
  constructor(private readonly images: ImagesService) {}

  @Put()
  @Allow(WRITERS)
  async upload(
    @Who() caller: Caller,
    @Query() query: unknown,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ImageResource> {
    const parsed = validate({ query: [imageUploadQuerySchema, query] });
    const type = req.headers['content-type']?.split(';')[0].trim().toLowerCase();
    if (type && !IMAGE_MEDIA_TYPES.includes(type))
      throw new ApiHttpError(
        415,
        `unsupported content type ${type}: send the image bytes as ${IMAGE_MEDIA_TYPES[0]}`,
      );
    const length = req.headers['content-length'] ? Number(req.headers['content-length']) : undefined;
    const { created, image } = await this.images.upload(req, parsed.query, length, caller);
    res.status(created ? 201 : 200);
    return image;
  }

  @Get()
  @Allow(READERS)
  list(@Who() caller: Caller): Promise<ImageResource[]> {
    return this.images.list(caller);
  }

  @Get(':sha256')
  @Allow(READERS)
  get(@Who() caller: Caller, @Param() params: unknown): Promise<ImageResource> {
    return this.images.get(validate({ params: [shaParams, params] }).params.sha256, caller);
  }

  /** Metadata only; the owner (or an admin) changes it, viewers and agents may not. */
  @Patch(':sha256')
  @Allow(WRITERS)
  patch(@Who() caller: Caller, @Param() params: unknown, @Body() body: unknown): Promise<ImageResource> {
    const input = validate({ params: [shaParams, params], body: [imagePatchSchema, body] });
    return this.images.patch(input.params.sha256, input.body, caller);
  }

  /** Agents download what they run; readers what they may see. */
  @Get(':sha256/content')
  @Allow([...READERS, 'agent'])
  async content(
    @Who() caller: Caller,
    @Param() params: unknown,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StreamableFile> {
    const { image, stream } = await this.images.content(
      validate({ params: [shaParams, params] }).params.sha256,
      caller,
    );
    res.setHeader('ETag', `"${image.sha256}"`);
    return new StreamableFile(stream, { type: 'application/octet-stream', length: image.size });
  }
}
