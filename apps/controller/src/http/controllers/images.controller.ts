import { Body, Controller, Get, Param, Patch, Put, Query, Req, Res, StreamableFile } from '@nestjs/common';
import { imagePatchSchema, imageUploadQuerySchema, type ImageResource } from '@vmfarm/protocol';
import type { Request, Response } from 'express';
import { ApiHttpError } from '../../errors';
import { ImagesService } from '../../images/images.service';
import { IMAGE_MEDIA_TYPES, shaParams } from '../schemas';
import { validate } from '../validate';

@Controller('api/images')
export class ImagesController {
  constructor(private readonly images: ImagesService) {}

  @Put()
  async upload(
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
    const { created, image } = await this.images.upload(req, parsed.query, length);
    res.status(created ? 201 : 200);
    return image;
  }

  @Get()
  list(): Promise<ImageResource[]> {
    return this.images.list();
  }

  @Get(':sha256')
  get(@Param() params: unknown): Promise<ImageResource> {
    return this.images.get(validate({ params: [shaParams, params] }).params.sha256);
  }

  @Patch(':sha256')
  patch(@Param() params: unknown, @Body() body: unknown): Promise<ImageResource> {
    const input = validate({ params: [shaParams, params], body: [imagePatchSchema, body] });
    return this.images.patch(input.params.sha256, input.body);
  }

  @Get(':sha256/content')
  async content(
    @Param() params: unknown,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StreamableFile> {
    const { image, stream } = await this.images.content(
      validate({ params: [shaParams, params] }).params.sha256,
    );
    res.setHeader('ETag', `"${image.sha256}"`);
    return new StreamableFile(stream, { type: 'application/octet-stream', length: image.size });
  }
}
