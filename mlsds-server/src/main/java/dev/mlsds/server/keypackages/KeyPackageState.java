package dev.mlsds.server.keypackages;

import java.util.Locale;

/**
 * The one KeyPackage state machine (docs/api.md §3): {@code available → reserved → used → consumed}.
 *
 * <ul>
 *   <li>{@link #AVAILABLE}: can be handed out by getKeyPackages.</li>
 *   <li>{@link #RESERVED}: handed to one adder for a lease; a lapsed lease counts as available again.</li>
 *   <li>{@link #USED}: named by an accepted Welcome (addMembers/createConvo).</li>
 *   <li>{@link #CONSUMED}: that Welcome was fetched by the KeyPackage's own device.</li>
 * </ul>
 *
 * A last-resort KeyPackage never leaves {@link #AVAILABLE}: it is not reserved, used or consumed.
 */
public enum KeyPackageState {
  AVAILABLE, RESERVED, USED, CONSUMED;

  /** The value in the {@code key_packages.state} column. */
  public String column() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static KeyPackageState fromColumn(String s) {
    return valueOf(s.toUpperCase(Locale.ROOT));
  }
}
