package dev.mlsds.e2e;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What a {@link Device} asks of the MLS implementation behind it: the ops of the agent protocol
 * (e2e/agent/README.md), with the same arguments (name, value pairs) and the same JSON results. Implemented by the
 * Node ts-mls agent ({@link MlsAgent}) and by the in-process Bouncy Castle client ({@link BcMlsAgent}), so every
 * client step of the suite (commit bundles, Welcome join, the delivery loop) runs unchanged on either.
 */
interface MlsOps extends AutoCloseable {
  /** Runs {@code op}; a failed op fails the test ({@link MlsAgent.AgentError}). */
  JsonNode call(String op, Object... args);

  /** Runs {@code op} and returns its error text, failing the test if the op unexpectedly succeeded. */
  String callExpectingError(String op, Object... args);

  /** Ends the client (a process is killed; in-process state is just dropped). */
  @Override
  default void close() {}
}
