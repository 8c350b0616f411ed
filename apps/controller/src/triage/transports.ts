import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createTransport, type Transporter } from 'nodemailer';
import { EgressRefusedError, internalHostProblem, publicOnlyLookup } from './egress';

/** How long a webhook receiver has to answer. */
const WEBHOOK_TIMEOUT_MS = 10_000;

export class WebhookTimeoutError extends Error {
  override name = 'WebhookTimeoutError';
  constructor() {
    super(`no answer within ${WEBHOOK_TIMEOUT_MS / 1000} s`);
  }
}

/**
 * An HTTP POST of a notification; resolves with the status, rejects when no answer came. Redirects
 * are not followed: one could send the signed body somewhere the hook's owner never named. Unless
 * `internal` is allowed (an admin's hook), the receiver must be a public address, checked on the
 * address the connection uses.
 */
export function postWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: { allowInternal: boolean },
): Promise<number> {
  const target = new URL(url);
  const problem = options.allowInternal ? undefined : internalHostProblem(target);
  if (problem) return Promise.reject(new EgressRefusedError(target.hostname, problem));
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'vmfarm-webhook',
          ...headers,
        },
        lookup: options.allowInternal ? undefined : publicOnlyLookup,
        timeout: WEBHOOK_TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new WebhookTimeoutError()));
    req.on('error', reject);
    req.end(body);
  });
}

export interface Mail {
  to: readonly string[];
  subject: string;
  text: string;
}

/** E-mail through the farm's SMTP server (nodemailer speaks SMTP; `smtp://` or `smtps://` URL). */
export class SmtpMailer {
  private transport?: Transporter;

  constructor(
    private readonly url: string,
    private readonly from: string,
  ) {}

  async send(mail: Mail): Promise<void> {
    this.transport ??= createTransport(this.url);
    await this.transport.sendMail({
      from: this.from,
      to: [...mail.to],
      subject: mail.subject,
      text: mail.text,
    });
  }

  close(): void {
    this.transport?.close();
  }
}
