import { createTransport, type Transporter } from 'nodemailer';

/** How long a webhook receiver has to answer. */
const WEBHOOK_TIMEOUT_MS = 10_000;

/** An HTTP POST of a notification; resolves with the status, rejects when no answer came. */
export async function postWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'vmfarm-webhook', ...headers },
    body,
    // A redirect could send the signed body somewhere the hook's owner never named.
    redirect: 'manual',
    signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
  });
  await res.arrayBuffer().catch(() => undefined);
  return res.status;
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
