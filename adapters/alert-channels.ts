/**
 * Alert channels' secrets at rest (docs/design.md §3.12): the webhook URL and the DingTalk signing
 * secret are sealed with the deployment's secret box, bound to the channel's record, and opened
 * only to send.
 */
import { secretContext, type SecretBox } from '../shared/crypto/secret-box.ts';
import type { AlertChannel, OpenChannel } from '../shared/alerts/model.ts';

/** The associated data a channel's secret is sealed under: account, channel and which secret. */
export function alertChannelContext(accountId: string, channelId: string, what: 'url' | 'secret'): string {
  return secretContext(`alert-channel-${what}`, `${accountId}/${channelId}`);
}

export function sealAlertChannelSecret(box: SecretBox, accountId: string, channelId: string, what: 'url' | 'secret', plaintext: string): string {
  return box.seal(plaintext, alertChannelContext(accountId, channelId, what));
}

export function openAlertChannel(box: SecretBox, channel: AlertChannel): OpenChannel {
  return {
    id: channel.id,
    name: channel.name,
    type: channel.type,
    url: box.openText(channel.sealedUrl, alertChannelContext(channel.accountId, channel.id, 'url')),
    ...(channel.sealedSecret !== undefined ? { secret: box.openText(channel.sealedSecret, alertChannelContext(channel.accountId, channel.id, 'secret')) } : {}),
  };
}
