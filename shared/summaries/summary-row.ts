/**
 * Summary rows (docs/design.md §3.8): what classify queues for each kept event, and what
 * summarize-cron folds into 2-hour, UTC-aligned windows. Pure.
 */
import type { ClassifiedEvent } from '../classify/classify.ts';
import { resourceNamesOf, resourceTypesOf } from '../classify/classify.ts';

export const SUMMARY_WINDOW_MS = 2 * 60 * 60 * 1000;

export function windowStartOf(eventTimeMs: number): number {
  return Math.floor(eventTimeMs / SUMMARY_WINDOW_MS) * SUMMARY_WINDOW_MS;
}

/** The who/what/which/where of an event: events with equal dimensions count together. */
export interface SummaryDimensions {
  userName: string;
  identityType: string;
  accountId: string;
  accessKeyId: string;
  serviceName: string;
  eventName: string;
  apiVersion: string;
  eventRW: string;
  resourceType: string;
  resourceName: string;
  acsRegion: string;
  sourceIpAddress: string;
}

export interface SummaryRow {
  eventId: string;
  accountId: string;
  windowStartMs: number;
  eventTimeMs: number;
  dimensions: SummaryDimensions;
}

export function summaryRowOf(event: ClassifiedEvent & { eventId: string }, accountId: string, eventTimeMs: number): SummaryRow {
  const identity = event.userIdentity;
  return {
    eventId: event.eventId,
    accountId,
    windowStartMs: windowStartOf(eventTimeMs),
    eventTimeMs,
    dimensions: {
      userName: identity.userName ?? '',
      identityType: identity.type ?? '',
      accountId,
      accessKeyId: identity.accessKeyId ?? '',
      serviceName: event.serviceName ?? '',
      eventName: event.eventName,
      apiVersion: event.apiVersion ?? '',
      eventRW: event.eventRW,
      resourceType: resourceTypesOf(event)[0] ?? '',
      resourceName: resourceNamesOf(event)[0] ?? '',
      acsRegion: event.acsRegion ?? '',
      sourceIpAddress: event.sourceIpAddress ?? '',
    },
  };
}
