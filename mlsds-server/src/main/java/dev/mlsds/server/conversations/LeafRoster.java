package dev.mlsds.server.conversations;

import dev.mlsds.server.auth.Did;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The leaves of a group's ratchet tree as the server knows them: leaf index → the DID the leaf's credential
 * names (and its signature key once seen). Derived only from what the server accepted: the creator is leaf 0
 * of a new group (RFC 9420 §11), and every PublicMessage commit's Removes, Adds, Updates, UpdatePath and
 * external join are applied with the RFC's placement rules (§12.1.1: an Add takes the leftmost blank leaf or
 * extends the tree to the right, doubling it; §12.1.3: a Remove blanks the leaf and the tree is truncated
 * while its right half is blank). Not thread-safe; one per transaction.
 */
public final class LeafRoster {
  /** One occupied leaf. {@code signatureKey} is null until a commit or KeyPackage showed it. */
  public record Leaf(Did did, byte[] signatureKey) {}

  private final TreeMap<Long, Leaf> leaves;
  private long width;

  private LeafRoster(Map<Long, Leaf> leaves) {
    this.leaves = new TreeMap<>(leaves);
    this.width = 1;
    long last = this.leaves.isEmpty() ? 0 : this.leaves.lastKey();
    while (width <= last) {
      width *= 2;
    }
  }

  /** A new group: its creator at leaf 0. */
  public static LeafRoster creator(Did creator) {
    return new LeafRoster(Map.of(0L, new Leaf(creator, null)));
  }

  /** The roster as stored (index → leaf). */
  public static LeafRoster of(Map<Long, Leaf> leaves) {
    return new LeafRoster(leaves);
  }

  public LeafRoster copy() {
    LeafRoster c = new LeafRoster(leaves);
    c.width = width;
    return c;
  }

  public Optional<Leaf> at(long index) {
    return Optional.ofNullable(leaves.get(index));
  }

  /** The leaf indices whose credential names {@code did}, ascending. */
  public List<Long> leavesOf(Did did) {
    List<Long> out = new ArrayList<>();
    leaves.forEach((i, l) -> {
      if (l.did().equals(did)) {
        out.add(i);
      }
    });
    return out;
  }

  public Map<Long, Leaf> leaves() {
    return java.util.Collections.unmodifiableMap(leaves);
  }

  public void replace(long index, Leaf leaf) {
    if (!leaves.containsKey(index)) {
      throw new IllegalStateException("leaf " + index + " is blank");
    }
    leaves.put(index, leaf);
  }

  /** Blanks {@code index} (which must be occupied) and truncates the tree. */
  public void remove(long index) {
    if (leaves.remove(index) == null) {
      throw new IllegalStateException("leaf " + index + " is blank");
    }
    while (width > 1 && leaves.ceilingKey(width / 2) == null) {
      width /= 2;
    }
  }

  /** Places {@code leaf} at the leftmost blank leaf, or extends the tree; returns its index. */
  public long add(Leaf leaf) {
    long index = 0;
    while (index < width && leaves.containsKey(index)) {
      index++;
    }
    if (index == width) {
      width *= 2;
    }
    leaves.put(index, leaf);
    return index;
  }

  public long width() {
    return width;
  }
}
