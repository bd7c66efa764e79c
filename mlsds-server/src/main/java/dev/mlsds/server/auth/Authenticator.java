package dev.mlsds.server.auth;

/**
 * Turns a request's {@code Authorization} header into the caller's DID for the method being called, or
 * throws an {@link dev.mlsds.server.xrpc.XrpcException} with a 401 name (AuthenticationRequired,
 * InvalidToken, ExpiredToken, BadTokenAudience, BadTokenMethod, TokenReplayed) or 503 Unavailable when
 * identity resolution is down. The XRPC router calls it for every method before any handler runs; no
 * handler ever sees a token.
 */
@FunctionalInterface
public interface Authenticator {
  Did authenticate(String authorizationHeader, String nsid);

  /**
   * The router's form: {@code verified} runs once the token is verified and before anything is written
   * for it (the rate limit goes there, so a refused caller costs no database write, review L7);
   * {@code readOnly} says the method is a query, which may go on without a replay record when the
   * replay store cannot be written (review M2); {@code sourceAddress} is the client's address, for limits
   * on unauthenticated work (review M3).
   */
  default Did authenticate(String authorizationHeader, String nsid, boolean readOnly, String sourceAddress,
      java.util.function.Consumer<Did> verified) {
    Did caller = authenticate(authorizationHeader, nsid);
    verified.accept(caller);
    return caller;
  }
}
