package dev.mlsds.server.limits;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ResponseMemoryTest {
  @Test
  void bytesReservedInARequestScopeAreHeldUntilItCloses() {
    ResponseMemory memory = new ResponseMemory(1024 * 1024);
    ResponseMemory.open();
    memory.reserve(300 * 1024);
    memory.reserve(100 * 1024 + 1); // rounded up to whole KiB
    assertThat(memory.availableBytes()).isEqualTo(1024 * 1024 - 401 * 1024);
    ResponseMemory.close();
    assertThat(memory.availableBytes()).isEqualTo(1024 * 1024);
  }

  @Test
  void aResponseLargerThanTheWholeBudgetTakesAllOfItAndStillGoesOut() {
    ResponseMemory memory = new ResponseMemory(1024 * 1024);
    ResponseMemory.open();
    memory.reserve(10L * 1024 * 1024);
    assertThat(memory.availableBytes()).isZero();
    ResponseMemory.close();
    assertThat(memory.availableBytes()).isEqualTo(1024 * 1024);
  }

  @Test
  void outsideARequestScopeNothingIsReserved() {
    ResponseMemory memory = new ResponseMemory(1024 * 1024);
    memory.reserve(512 * 1024);
    assertThat(memory.availableBytes()).isEqualTo(1024 * 1024);
  }

  @Test
  void zeroMeansAQuarterOfTheHeap() {
    assertThat(new ResponseMemory(0).maxBytes()).isCloseTo(Runtime.getRuntime().maxMemory() / 4, org.assertj.core.api.Assertions.within(1024L));
  }
}
