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
  /** Searches again with part of the state changed (wider range, no filter; another tab: shown). */
  search(change: Partial<ViewState>): void;
  /** The console's URL showing one event (the current search kept for going back; never the key). */
  eventLink(eventId: string): string;
  /** Copies text to the clipboard; false when the browser refuses. */
  copy(value: string): Promise<boolean>;
  /** Leaves the one-event view for the list of the search in the URL. */
  backToList(): void;
}

/** A tab that loads its data the first time it is shown (Trails, AccessKeys, Compliance, Alerts). */
export interface LazyView {
  load(): void;
  readonly loaded: boolean;
  /** Forgets what it showed (sign-out). */
  clear(): void;
}
