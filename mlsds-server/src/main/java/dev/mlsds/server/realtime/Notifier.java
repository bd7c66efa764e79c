package dev.mlsds.server.realtime;

import dev.mlsds.server.auth.Did;

/**
 * Wakes live subscribers after a transaction has committed. It carries no data that matters for
 * correctness: the database log is the source of truth and subscribers read from it, so a lost or
 * duplicated notification only delays or repeats a read. Implementations: in-process for SQLite,
 * PostgreSQL LISTEN/NOTIFY across nodes.
 */
public interface Notifier {
  /** Something was appended to the conversation's log (message, commit or conversation event). */
  void convoChanged(String convoId);

  /**
   * {@code did} was added to or left (or was removed from) the conversation: its all-conversations streams
   * start or stop carrying it. {@link ConvoEventLog} sends this after the commit of every
   * {@code membershipEvent} it appends.
   */
  void membershipChanged(String convoId, Did did);

  /**
   * A live-only, user-level event (e.g. {@code keyPackagesLowEvent}) for every open stream of {@code did}.
   * {@code payloadJson} is the event's data object.
   */
  void userEvent(Did did, String type, String payloadJson);

  Notifier NONE = new Notifier() {
    @Override
    public void convoChanged(String convoId) {}

    @Override
    public void membershipChanged(String convoId, Did did) {}

    @Override
    public void userEvent(Did did, String type, String payloadJson) {}
  };
}
