package dev.mlsds.server.xrpc;

import dev.mlsds.server.auth.Did;

/**
 * Replay of procedures that carry an {@code idempotencyKey} (docs/api.md §1): a repeat by the same caller with
 * the same key and method returns the first result (status and body) and runs nothing.
 */
public interface Idempotency {
  /** A finished call as it went on the wire. */
  record Result(int status, String body) {}

  /** A call to run at most once per (caller, nsid, key). */
  @FunctionalInterface
  interface Call {
    Result run() throws Exception;
  }

  Result run(Did caller, String nsid, String key, Call call) throws Exception;

  Idempotency NONE = (caller, nsid, key, call) -> call.run();
}
