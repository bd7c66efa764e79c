package dev.mlsds.server.keypackages;

import static dev.mlsds.server.testing.TestUser.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.server.Server;
import dev.mlsds.server.testing.Http;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two server nodes on one PostgreSQL database: 50 concurrent getKeyPackages (25 per node, from 50
 * different adders) against a user with 10 KeyPackages never hand one out twice, and the database agrees
 * with what the responses said.
 */
class PostgresKeyPackageTwoNodeClaimIT {
  TestDatabases.Postgres pg;
  Server nodeA;
  Server nodeB;

  @BeforeEach
  void start() {
    pg = TestDatabases.postgres();
    nodeA = TestServers.start(pg.url());
    nodeB = TestServers.start(pg.url());
  }

  @AfterEach
  void stop() {
    nodeA.stop();
    nodeB.stop();
    pg.close();
  }

  @Test
  void fiftyConcurrentClaimsAcrossTwoNodesNeverHandOutAKeyPackageTwice() throws Exception {
    TestUser target = TestUser.on(nodeA);
    TestUser.Device phone = target.device();
    List<String> published = new ArrayList<>();
    List<Map<String, Object>> uploads = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      byte[] kp = phone.keyPackage();
      published.add(TestUser.ref(kp));
      uploads.add(Map.of("keyPackage", bytes(kp)));
    }
    Http.Response r = target.post("publishKeyPackages", Map.of("keyPackages", uploads));
    assertThat(r.status()).as(r.body()).isEqualTo(200);

    int callers = 50;
    List<TestUser> adders = new ArrayList<>();
    for (int i = 0; i < callers; i++) {
      adders.add(TestUser.on(i % 2 == 0 ? nodeA : nodeB));
    }
    Map<String, String> handedTo = new ConcurrentHashMap<>();
    AtomicInteger duplicates = new AtomicInteger();
    AtomicInteger missing = new AtomicInteger();
    Map<Integer, AtomicInteger> perNode = Map.of(0, new AtomicInteger(), 1, new AtomicInteger());
    CountDownLatch go = new CountDownLatch(1);
    try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> done = new ArrayList<>();
      for (int i = 0; i < callers; i++) {
        TestUser adder = adders.get(i);
        int node = i % 2;
        done.add(pool.submit(() -> {
          go.await();
          Http.Response resp = adder.get("getKeyPackages", "dids", target.did().value());
          assertThat(resp.status()).as(resp.body()).isEqualTo(200);
          JsonNode body = resp.json();
          for (JsonNode k : body.get("keyPackages")) {
            assertThat(k.get("lastResort").asBoolean()).isFalse();
            if (handedTo.putIfAbsent(k.get("keyPackageRef").asText(), adder.did().value()) != null) {
              duplicates.incrementAndGet();
            }
            perNode.get(node).incrementAndGet();
          }
          missing.addAndGet(body.get("missing").size());
          return null;
        }));
      }
      go.countDown();
      for (Future<?> f : done) {
        f.get();
      }
    }

    assertThat(duplicates).hasValue(0);
    assertThat(handedTo.keySet()).containsExactlyInAnyOrderElementsOf(published);
    assertThat(missing).hasValue(callers - published.size());
    Map<String, String> reservedBy = new HashMap<>();
    nodeA.database().withHandle(h -> h.createQuery("SELECT ref, state, reserved_by FROM key_packages").mapToMap().list())
        .forEach(row -> {
          assertThat(row.get("state")).isEqualTo("reserved");
          reservedBy.put((String) row.get("ref"), (String) row.get("reserved_by"));
        });
    assertThat(reservedBy).isEqualTo(handedTo);
    System.out.printf("two-node claims: node A handed out %d, node B %d%n", perNode.get(0).get(), perNode.get(1).get());
  }
}
