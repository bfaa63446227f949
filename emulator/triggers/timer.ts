/**
 * Timer triggers: six-field UTC cron (optionally `CRON_TZ=<zone> …`) or `@every <duration>`.
 * Each firing invokes the function asynchronously with FC's timer event; the request id is
 * derived from the trigger and the fire time, so a firing is one invocation however it arrives.
 */
import type { FunctionSpec, TimerTrigger } from '../config.ts';
import type { Logger } from '../logger.ts';
import { parseSchedule, type Schedule } from './cron.ts';

export interface FcTimerEvent {
  triggerTime: string;
  triggerName: string;
  payload: string;
}

export function buildTimerEvent(trigger: TimerTrigger, at: Date): FcTimerEvent {
  return {
    triggerTime: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    triggerName: trigger.triggerName,
    payload: trigger.triggerConfig.payload ?? '',
  };
}

export function timerRequestId(fn: FunctionSpec, trigger: TimerTrigger, at: Date): string {
  return `timer-${fn.functionName}-${trigger.triggerName}-${at.getTime()}`;
}

export type FireTimer = (fn: FunctionSpec, trigger: TimerTrigger, at: Date) => Promise<void>;

/** Keeps one timeout per enabled timer trigger, re-armed after each firing. */
export class TimerScheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private running = false;

  constructor(
    private readonly entries: { fn: FunctionSpec; trigger: TimerTrigger }[],
    private readonly fire: FireTimer,
    private readonly logger: Logger,
  ) {
    // Parse every schedule up front so a bad expression fails the start, not a later tick.
    for (const { trigger } of entries) parseSchedule(trigger.triggerConfig.cronExpression);
  }

  start(now: Date = new Date()): void {
    this.running = true;
    for (const { fn, trigger } of this.entries) {
      if (!trigger.triggerConfig.enable) continue;
      this.arm(fn, trigger, parseSchedule(trigger.triggerConfig.cronExpression, now), now);
    }
  }

  private arm(fn: FunctionSpec, trigger: TimerTrigger, schedule: Schedule, after: Date): void {
    if (!this.running) return;
    const at = schedule.next(after);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.fire(fn, trigger, at).catch((error: unknown) =>
        this.logger.error(`timer ${fn.functionName}/${trigger.triggerName}: ${String(error)}`),
      );
      this.arm(fn, trigger, schedule, at);
    }, Math.max(0, at.getTime() - Date.now()));
    timer.unref();
    this.timers.add(timer);
  }

  stop(): void {
    this.running = false;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
