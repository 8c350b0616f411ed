import { Controller, Req, Res, StreamableFile } from '@nestjs/common';
import { API, IMAGE_MEDIA_TYPES, type ImageResource } from '@vmfarm/protocol';
import type { Request, Response } from 'express';
import type { Caller } from '../../auth/caller';
import { Who } from '../../auth/guard';
import { ApiHttpError } from '../../errors';
import { ImagesService } from '../../images/images.service';
import { In, Route } from '../route';

@Controller()
export class ImagesController {
  constructor(private readonly images: ImagesService) {}

  /** The body is the image stream itself, read by the service within the size limit and quota. */
  @Route(API.uploadImage)
  async upload(
    @Who() caller: Caller,
    @In() input: In<typeof API.uploadImage>,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ImageResource> {
    const type = req.headers['content-type']?.split(';')[0].trim().toLowerCase();
    if (type && !(IMAGE_MEDIA_TYPES as readonly string[]).includes(type))
      throw new ApiHttpError(
        415,
        `unsupported content type ${type}: send the image bytes as ${IMAGE_MEDIA_TYPES[0]}`,
      );
    const length = req.headers['content-length'] ? Number(req.headers['content-length']) : undefined;
    const { created, image } = await this.images.upload(req, input.query, length, caller);
    res.status(created ? 201 : 200);
    return image;
  }

  @Route(API.listImages)
  list(@Who() caller: Caller, @In() input: In<typeof API.listImages>): Promise<ImageResource[]> {
    return this.images.list(caller, input.query);
  }

  @Route(API.getImage)
  get(@Who() caller: Caller, @In() input: In<typeof API.getImage>): Promise<ImageResource> {
    return this.images.get(input.params.sha256, caller);
  }

  /** Metadata only; the owner (or an admin) changes it, viewers and agents may not. */
  @Route(API.patchImage)
  patch(@Who() caller: Caller, @In() input: In<typeof API.patchImage>): Promise<ImageResource> {
    return this.images.patch(input.params.sha256, input.body, caller);
  }

  @Route(API.getImageContent)
  async content(
    @Who() caller: Caller,
    @In() input: In<typeof API.getImageContent>,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StreamableFile> {
    const { image, stream } = await this.images.content(input.params.sha256, caller);
    res.setHeader('ETag', `"${image.sha256}"`);
    return new StreamableFile(stream, { type: 'application/octet-stream', length: image.size });
  }
}
