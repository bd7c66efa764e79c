package dev.mlsds.server.limits;

import dev.mlsds.server.auth.Did;

/**
 * Per-caller request limits. The XRPC router calls {@link #check} for every authenticated call before
 * the handler runs, so no route can skip it; a refusal is an
 * {@link dev.mlsds.server.xrpc.XrpcException} {@code RateLimitExceeded} with a Retry-After.
 */
@FunctionalInterface
public interface RateLimiter {
  void check(Did caller, String nsid);

  /** After a procedure's body of {@code bytes} was read, before it is parsed or stored. */
  default void checkBytes(Did caller, long bytes) {}

  RateLimiter UNLIMITED = (caller, nsid) -> {};
}
