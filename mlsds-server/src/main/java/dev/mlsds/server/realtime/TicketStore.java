package dev.mlsds.server.realtime;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.storage.Database;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Single-use tickets that open a WebSocket stream for clients that cannot set an Authorization header on
 * the upgrade request.
 *
 * <p>Contract: a ticket is redeemed at most once, on any node — the redeemer is whoever deletes its row;
 * it is refused after its lifetime; only its SHA-256 is stored.
 */
final class TicketStore {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final String INSERT = """
      INSERT INTO stream_tickets (ticket_hash, did, expires_at) VALUES (:hash, :did, :expires)""";
  private static final String FIND = "SELECT did, expires_at FROM stream_tickets WHERE ticket_hash = :hash";
  private static final String DELETE = "DELETE FROM stream_tickets WHERE ticket_hash = :hash";
  private static final String PURGE = "DELETE FROM stream_tickets WHERE expires_at < :now";

  private final Database db;
  private final Clock clock;
  private final Duration lifetime;

  TicketStore(Database db, Clock clock, Duration lifetime) {
    this.db = db;
    this.clock = clock;
    this.lifetime = lifetime;
  }

  /** A new ticket. */
  record Issued(String ticket, Instant expiresAt) {}

  Issued issue(Did did) {
    byte[] raw = new byte[32];
    RANDOM.nextBytes(raw);
    String ticket = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    long expires = clock.millis() + lifetime.toMillis();
    db.inTransaction(h -> h.createUpdate(INSERT).bind("hash", hash(ticket)).bind("did", did.value())
        .bind("expires", expires).execute());
    return new Issued(ticket, Instant.ofEpochMilli(expires));
  }

  /**
   * The DID a ticket was issued to, consuming the ticket: 401 {@code InvalidToken} if it is unknown or was
   * already used, 401 {@code ExpiredToken} if its lifetime is over.
   */
  Did redeem(String ticket) {
    if (ticket.length() > 128) {
      throw new XrpcException(XrpcError.InvalidToken, "unknown or already used ticket");
    }
    String hash = hash(ticket);
    record Row(String did, long expiresAt) {}
    Row row = db.withHandle(h -> h.createQuery(FIND).bind("hash", hash)
        .map((rs, ctx) -> new Row(rs.getString("did"), rs.getLong("expires_at"))).findFirst().orElse(null));
    if (row == null || db.inTransaction(h -> h.createUpdate(DELETE).bind("hash", hash).execute()) != 1) {
      throw new XrpcException(XrpcError.InvalidToken, "unknown or already used ticket");
    }
    if (row.expiresAt() < clock.millis()) {
      throw new XrpcException(XrpcError.ExpiredToken, "ticket expired; get a new one with getSubscriptionTicket");
    }
    return new Did(row.did());
  }

  /** Deletes expired tickets; returns how many. */
  int purge() {
    return db.inTransaction(h -> h.createUpdate(PURGE).bind("now", clock.millis()).execute());
  }

  private static String hash(String ticket) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(ticket.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
