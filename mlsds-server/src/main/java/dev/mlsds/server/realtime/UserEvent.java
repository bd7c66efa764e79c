package dev.mlsds.server.realtime;

/**
 * A live-only event for one user's streams (e.g. {@code keyPackagesLowEvent}); it has no position, so a
 * stream that is not open when it happens does not get it (the state it reports can be read back, e.g.
 * with getKeyPackageStatus).
 */
record UserEvent(String type, String json) implements Outbound {
  @Override
  public int weight() {
    return json.length();
  }
}
