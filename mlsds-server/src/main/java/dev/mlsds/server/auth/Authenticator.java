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
}
