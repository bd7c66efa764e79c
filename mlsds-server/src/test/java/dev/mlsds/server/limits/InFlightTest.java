package dev.mlsds.server.limits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class InFlightTest {
  private static final Did ALICE = new Did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa");
  private static final Did BOB = new Did("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb");

  @Test
  @DisplayName("M4: a caller's requests in flight are capped (429 with Retry-After), other callers unaffected, idle callers not kept")
  void perCallerCap() {
    InFlight limit = new InFlight(2);
    InFlight.Permit a1 = limit.acquire(ALICE);
    InFlight.Permit a2 = limit.acquire(ALICE);
    assertThatThrownBy(() -> limit.acquire(ALICE)).isInstanceOfSatisfying(XrpcException.class, e -> {
      assertThat(e.error()).isEqualTo(XrpcError.RateLimitExceeded);
      assertThat(e.retryAfterSeconds()).isEqualTo(1);
    });
    limit.acquire(BOB).close();
    a1.close();
    limit.acquire(ALICE).close();
    a2.close();
    assertThat(limit.trackedCallers()).isZero();
  }
}
