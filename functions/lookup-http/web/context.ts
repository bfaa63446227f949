/** What the console's views share: the signed client, the current query and a few app actions. */
import type { ApiClient, JsonObject } from './api.ts';
import type { TimeWindow, ViewState } from './query.ts';

/** One search: the state it was made from and the instants it covers (fixed when it was made). */
export interface Query {
  state: ViewState;
  window: TimeWindow;
  /** When the window was computed (server time, epoch ms): a preset older than a minute is recomputed when shown. */
  madeAt: number;
}

export interface ConsoleContext {
  api(): ApiClient;
  /** Says something in the live status region (and shows it briefly). */
  announce(message: string): void;
  /** Forgets the key and returns to the sign-in form. */
  signOut(): void;
  /** The "View event" dialog. */
  openEvent(event: JsonObject): void;
  /** Searches again with part of the state changed (wider range, no filter). */
  search(change: Partial<ViewState>): void;
}
