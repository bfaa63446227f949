/**
 * Alert rules and notification channels (docs/design.md §3.12): what is stored, and the limits.
 * Pure.
 */
import { z } from 'zod';
import { ALERT_FIELDS, type AlertField, type Condition } from './conditions.ts';

/** Most rules an account keeps. */
export const ALERT_MAX_RULES = 50;
/** Most channels an account keeps, and a rule notifies. */
export const ALERT_MAX_CHANNELS = 20;
export const ALERT_MAX_RULE_CHANNELS = 5;
/** Longest rule or channel name. */
export const ALERT_NAME_MAX_CHARS = 64;
/** A threshold counts at most this many events, over a window of at most this many minutes. */
export const ALERT_MAX_THRESHOLD = 1000;
export const ALERT_MAX_WINDOW_MINUTES = 60;
/** Default window of a rule whose threshold is 1 (the window does not matter then). */
export const ALERT_DEFAULT_WINDOW_MINUTES = 10;

/**
 * How late an event may arrive and still be alerted on: a matched event whose eventTime is more
 * than this before its match (the drain) is not alerted (a backfill of old history notifies
 * nobody); one within it is, and counts in its own windows by eventTime.
 */
export const ALERT_LATENESS_MS = 30 * 60_000;
/** An eventTime further than this in the future is counted at the match time. */
export const ALERT_FUTURE_SKEW_MS = 5 * 60_000;
/** At most one notification per rule and group in this period (as ActionTrail: once an hour). */
export const ALERT_DEDUP_MS = 60 * 60_000;

export const RuleIdSchema = z.string().regex(/^ar-[0-9a-f]{16}$/, { error: 'must be a rule id (ar-…)' });
export const ChannelIdSchema = z.string().regex(/^ac-[0-9a-f]{16}$/, { error: 'must be a channel id (ac-…)' });

export const CHANNEL_TYPES = ['webhook', 'dingtalk', 'slack'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

export interface AlertRule {
  id: string;
  accountId: string;
  name: string;
  enabled: boolean;
  /** The built-in template it was made from, if any (its condition is stored expanded). */
  template?: string | undefined;
  /** The template parameters it was made with (shown back, never secret). */
  templateParameters?: Record<string, unknown> | undefined;
  condition: Condition;
  /** Notify when at least `threshold` matching events of one group fall within `windowMinutes`. */
  threshold: number;
  windowMinutes: number;
  /** Group matching events by this field (thresholds and de-duplication are per group). */
  groupBy?: AlertField | undefined;
  channelIds: string[];
  createdAtMs: number;
  updatedAtMs: number;
}

/** A channel as stored: URL and secret sealed (shared/crypto/secret-box.ts), a masked host to show. */
export interface AlertChannel {
  id: string;
  accountId: string;
  name: string;
  type: ChannelType;
  /** `scheme://host[:port]` of the URL, path and query left out: all an answer ever shows. */
  maskedUrl: string;
  sealedUrl: string;
  sealedSecret?: string | undefined;
  createdAtMs: number;
  updatedAtMs: number;
}

/** A channel opened for sending: URL and secret in the clear, in memory only. */
export interface OpenChannel {
  id: string;
  name: string;
  type: ChannelType;
  url: string;
  secret?: string | undefined;
}

const storedCondition = z.custom<Condition>((v) => typeof v === 'object' && v !== null);
export const StoredRuleSchema: z.ZodType<AlertRule> = z.object({
  id: z.string(),
  accountId: z.string(),
  name: z.string(),
  enabled: z.boolean(),
  template: z.string().optional(),
  templateParameters: z.record(z.string(), z.unknown()).optional(),
  condition: storedCondition,
  threshold: z.number().int().min(1),
  windowMinutes: z.number().int().min(1),
  groupBy: z.enum(ALERT_FIELDS).optional(),
  channelIds: z.array(z.string()),
  createdAtMs: z.number(),
  updatedAtMs: z.number(),
}) as z.ZodType<AlertRule>;

export const StoredChannelSchema: z.ZodType<AlertChannel> = z.object({
  id: z.string(),
  accountId: z.string(),
  name: z.string(),
  type: z.enum(CHANNEL_TYPES),
  maskedUrl: z.string(),
  sealedUrl: z.string(),
  sealedSecret: z.string().optional(),
  createdAtMs: z.number(),
  updatedAtMs: z.number(),
}) as z.ZodType<AlertChannel>;

/** A compact description of a matched event, kept with the match for the notification. */
export interface MatchedEvent {
  eventId: string;
  eventTimeMs: number;
  eventName: string;
  eventType: string;
  userName: string;
  identityType: string;
  sourceIpAddress: string;
  errorCode: string;
  acsRegion: string;
}

/** One match of a rule, as the match store keeps it. */
export interface AlertMatch {
  ruleId: string;
  group: string;
  event: MatchedEvent;
}

/** `no-channel`: the rule fired but names no channel (nothing was sent). */
export type DeliveryOutcome = 'sent' | 'retrying' | 'gave-up' | 'suppressed' | 'no-channel';

/** One line of a rule's delivery log (DescribeAlertHistory). */
export interface DeliveryLogEntry {
  timeMs: number;
  outcome: DeliveryOutcome;
  notificationId: string;
  group: string;
  events: number;
  channelId?: string | undefined;
  channelName?: string | undefined;
  attempt?: number | undefined;
  status?: number | undefined;
  error?: string | undefined;
}
