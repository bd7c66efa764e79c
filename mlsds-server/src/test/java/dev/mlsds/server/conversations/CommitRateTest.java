package dev.mlsds.server.conversations;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mlsds.server.auth.Did;
import dev.mlsds.server.testing.MutableClock;
import dev.mlsds.server.xrpc.XrpcError;
import dev.mlsds.server.xrpc.XrpcException;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class CommitRateTest {
  final Did bob = new Did("did:plc:bob");
  final Did carol = new Did("did:plc:carol");

  @Test
  void aMemberGetsAtMostTheLimitPerMinutePerConversation() {
    MutableClock clock = new MutableClock(Instant.parse("2026-12-01T10:00:00Z"));
    CommitRate rate = new CommitRate(3, clock);
    for (int i = 0; i < 3; i++) {
      rate.check("c1", bob);
      rate.accepted("c1", bob);
    }
    assertThatThrownBy(() -> rate.check("c1", bob)).isInstanceOfSatisfying(XrpcException.class,
        e -> assertThat(e.error()).isEqualTo(XrpcError.RateLimitExceeded));
    rate.check("c1", carol); // another member
    rate.check("c2", bob); // another conversation
    clock.advance(Duration.ofMinutes(1));
    rate.check("c1", bob);
  }

  @Test
  void zeroIsUnlimited() {
    CommitRate rate = new CommitRate(0, new MutableClock(Instant.EPOCH));
    for (int i = 0; i < 1000; i++) {
      rate.check("c1", bob);
      rate.accepted("c1", bob);
    }
  }
}
