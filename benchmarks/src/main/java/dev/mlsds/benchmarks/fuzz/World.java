package dev.mlsds.benchmarks.fuzz;

import dev.mlsds.codec.CipherSuite;
import dev.mlsds.codec.KeyPackage;
import dev.mlsds.codec.testing.SigningKey;
import dev.mlsds.codec.testing.TestKeyPackages;
import dev.mlsds.server.auth.DevIdentity;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/** The real users, devices and conversations the fuzzer's requests are about (members with valid tokens). */
final class World {
  static final CipherSuite SUITE = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  static final String NS = "blue.catbird.mls.";

  /** A did:key user with one device (its MLS signature key) and the KeyPackage refs it published. */
  static final class User {
    final DevIdentity identity;
    final SigningKey device;
    final String deviceId;
    final List<String> refs = new CopyOnWriteArrayList<>();

    User(DevIdentity identity, SigningKey device) {
      this.identity = identity;
      this.device = device;
      this.deviceId = KeyPackage.decode(keyPackage(false)).deviceId();
    }

    String did() {
      return identity.did().value();
    }

    /** A fresh, valid, framed KeyPackage of this user's device. */
    byte[] keyPackage(boolean lastResort) {
      Instant now = Instant.now();
      return TestKeyPackages.builder(SUITE, did()).signingKey(device)
          .lifetime(now.minusSeconds(60), now.plus(Duration.ofDays(30))).lastResort(lastResort).framed(true).build();
    }
  }

  /** A conversation: its group id, creator, members (as far as the fuzzer knows) and last seen epoch. */
  static final class Convo {
    final byte[] groupId;
    final String id;
    final int creator;
    final Set<Integer> members = ConcurrentHashMap.newKeySet();
    final AtomicLong epoch = new AtomicLong();
    final AtomicLong latestSeq = new AtomicLong();

    Convo(byte[] groupId, int creator) {
      this.groupId = groupId;
      this.id = HexFormat.of().formatHex(groupId);
      this.creator = creator;
      members.add(creator);
    }
  }

  final String audience;
  final List<User> users;
  final List<Convo> convos = new CopyOnWriteArrayList<>();

  World(String audience, List<User> users) {
    this.audience = audience;
    this.users = users;
  }

  private final java.util.Map<Integer, java.util.Deque<byte[]>> claimed = new ConcurrentHashMap<>();

  /** Remembers a KeyPackage that getKeyPackages handed to {@code caller} (real input for its next addMembers). */
  void claimed(int caller, byte[] keyPackage) {
    java.util.Deque<byte[]> q = claimed.computeIfAbsent(caller, k -> new java.util.concurrent.ConcurrentLinkedDeque<>());
    q.addFirst(keyPackage);
    while (q.size() > 16) {
      q.pollLast();
    }
  }

  /** A KeyPackage the caller claimed, or null. */
  byte[] claimedBy(int caller) {
    java.util.Deque<byte[]> q = claimed.get(caller);
    return q == null ? null : q.pollFirst();
  }

  Convo convo(String id) {
    for (Convo c : convos) {
      if (c.id.equals(id)) {
        return c;
      }
    }
    return null;
  }
}
