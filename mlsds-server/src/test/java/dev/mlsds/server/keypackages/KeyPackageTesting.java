package dev.mlsds.server.keypackages;

import dev.mlsds.server.Config;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.realtime.Notifier;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Small test doubles for KeyPackage tests: a settable clock, a recording notifier and limit tweaks. */
final class KeyPackageTesting {
  private KeyPackageTesting() {}

  /** Every notification, in order. */
  static final class RecordingNotifier implements Notifier {
    record UserEvent(Did did, String type, String json) {}

    final List<UserEvent> userEvents = new CopyOnWriteArrayList<>();
    final List<String> convosChanged = new CopyOnWriteArrayList<>();

    @Override
    public void convoChanged(String convoId) {
      convosChanged.add(convoId);
    }

    // Not annotated: this method is being added to Notifier; the class compiles with and without it.
    public void membershipChanged(String convoId, Did did) {}

    @Override
    public void userEvent(Did did, String type, String payloadJson) {
      userEvents.add(new UserEvent(did, type, payloadJson));
    }
  }

  /** The defaults with the per-device limit, low threshold and claim rates replaced. */
  static Config.Limits limits(int perDevice, int lowThreshold, int claimsPerCaller, int claimsPerTarget) {
    Config.Limits d = Config.Limits.defaults();
    return new Config.Limits(d.keyPackageMaxBytes(), d.keyPackagesPerPublish(), perDevice, d.keyPackageMaxLifetime(),
        d.reservationLease(), d.didsPerGetKeyPackages(), d.membersPerConvo(), d.messageMaxBytes(), d.requestMaxBytes(),
        d.applicationEpochWindow(), d.welcomeGrace(), d.tokenMaxLifetime(), lowThreshold, d.rateLimitPerMinute(),
        claimsPerCaller, claimsPerTarget);
  }
}
