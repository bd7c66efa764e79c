package dev.mlsds.server.xrpc;

/** Every error name of docs/api.md §1 with its HTTP status. The enum constant's name is the wire name. */
public enum XrpcError {
  InvalidRequest(400),
  InvalidKeyPackage(400),
  InvalidMlsMessage(400),
  WrongGroup(400),
  KeyPackageNotFound(400),
  WelcomeMismatch(400),
  InvalidCipherSuite(400),
  TooManyMembers(400),
  AuthenticationRequired(401),
  InvalidToken(401),
  ExpiredToken(401),
  BadTokenAudience(401),
  BadTokenMethod(401),
  TokenReplayed(401),
  NotMember(403),
  NotAdmin(403),
  Forbidden(403),
  QuotaExceeded(403),
  ConvoNotFound(404),
  WelcomeNotFound(404),
  GroupInfoNotFound(404),
  MethodNotImplemented(404),
  NotFound(404),
  StaleEpoch(409),
  FutureEpoch(409),
  ConvoExists(409),
  GroupReset(409),
  KeyPackageLimitReached(409),
  IdempotencyConflict(409),
  WelcomeConsumed(410),
  PayloadTooLarge(413),
  RateLimitExceeded(429),
  InternalError(500),
  Unavailable(503);

  private final int status;

  XrpcError(int status) {
    this.status = status;
  }

  public int status() {
    return status;
  }
}
