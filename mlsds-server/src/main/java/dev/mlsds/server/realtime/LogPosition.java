package dev.mlsds.server.realtime;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A place in one conversation's log. Message {@code seq} is at {@code (seq, 0)}; the conversation events
 * appended after it ({@link ConvoEventLog}) are at {@code (seq, 1)}, {@code (seq, 2)}, …. Positions are
 * allocated under the conversation's row lock, so their order is commit order.
 *
 * <p>Text form (the one-conversation stream's cursor): {@code "12"} for {@code (12, 0)}, {@code "12.1"}
 * for {@code (12, 1)}.
 */
record LogPosition(long seq, int idx) implements Comparable<LogPosition> {
  /** Before everything. */
  static final LogPosition START = new LogPosition(0, 0);

  private static final Pattern TEXT = Pattern.compile("^(0|[1-9][0-9]{0,17})(?:\\.([1-9][0-9]{0,8}))?$");

  LogPosition {
    if (seq < 0 || idx < 0) {
      throw new IllegalArgumentException("negative log position");
    }
  }

  /** Parses the text form; anything else is an {@link IllegalArgumentException}. */
  static LogPosition parse(String text) {
    Matcher m = text == null ? null : TEXT.matcher(text);
    if (m == null || !m.matches()) {
      throw new IllegalArgumentException("not a log position");
    }
    return new LogPosition(Long.parseLong(m.group(1)), m.group(2) == null ? 0 : Integer.parseInt(m.group(2)));
  }

  /**
   * The position a member added by the Commit at {@code joinedSeq} sees everything after: the events that
   * Commit's transaction appended (their own {@code membershipEvent} and {@code welcomeEvent}) but not the
   * Commit itself, which they process through the Welcome instead.
   */
  static LogPosition afterJoin(long joinedSeq) {
    return new LogPosition(joinedSeq, 0);
  }

  boolean isAfter(LogPosition other) {
    return compareTo(other) > 0;
  }

  static LogPosition max(LogPosition a, LogPosition b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  @Override
  public int compareTo(LogPosition o) {
    int c = Long.compare(seq, o.seq);
    return c != 0 ? c : Integer.compare(idx, o.idx);
  }

  @Override
  public String toString() {
    return idx == 0 ? Long.toString(seq) : seq + "." + idx;
  }
}
