package dev.mlsds.server.keypackages;

import dev.mlsds.server.Config;
import dev.mlsds.server.auth.Did;
import dev.mlsds.server.limits.RateLimits;
import dev.mlsds.server.limits.RateLimits.Limit;
import dev.mlsds.server.xrpc.XrpcCall;
import dev.mlsds.server.xrpc.XrpcRouter;

/** The KeyPackage methods of docs/api.md §3, one per NSID: parse, rate-limit, call the service, return its output. */
public final class KeyPackageHandlers {
  private final KeyPackageService service;
  private final RateLimits rateLimits;
  private final Config.Limits limits;

  public KeyPackageHandlers(KeyPackageService service, RateLimits rateLimits, Config.Limits limits) {
    this.service = service;
    this.rateLimits = rateLimits;
    this.limits = limits;
  }

  public void register(XrpcRouter router) {
    // A full batch is up to keyPackagesPerPublish KeyPackages of keyPackageMaxBytes each, in base64.
    long batchBody = limits.keyPackagesPerPublish() * (limits.keyPackageMaxBytes() * 4L / 3 + 256) + 4096;
    router.procedure(PublishKeyPackages.NSID, Math.max(batchBody, limits.requestMaxBytes()), this::publishKeyPackages)
        .procedure(PublishKeyPackage.NSID, this::publishKeyPackage)
        .query(GetKeyPackages.NSID, this::getKeyPackages)
        .query(GetKeyPackageStatus.NSID, this::getKeyPackageStatus)
        .procedure(SyncKeyPackages.NSID, this::syncKeyPackages);
  }

  // POST /xrpc/blue.catbird.mls.publishKeyPackages
  PublishKeyPackages.Output publishKeyPackages(XrpcCall call) {
    PublishKeyPackages.Input in = PublishKeyPackages.Input.parse(call.input(), limits.keyPackagesPerPublish());
    return service.publish(call.caller(), in.keyPackages());
  }

  // POST /xrpc/blue.catbird.mls.publishKeyPackage
  PublishKeyPackage.Output publishKeyPackage(XrpcCall call) {
    return service.publishOne(call.caller(), PublishKeyPackage.Input.parse(call.input()));
  }

  // GET /xrpc/blue.catbird.mls.getKeyPackages
  GetKeyPackages.Output getKeyPackages(XrpcCall call) {
    GetKeyPackages.Params params = GetKeyPackages.Params.parse(call.params(), limits.didsPerGetKeyPackages());
    rateLimits.consume(Limit.KEY_PACKAGE_CLAIMS_PER_CALLER, params.dids().size(), call.caller());
    for (Did target : params.dids()) {
      rateLimits.check(Limit.KEY_PACKAGE_CLAIMS_PER_TARGET, call.caller(), target);
    }
    return service.claim(call.caller(), params);
  }

  // GET /xrpc/blue.catbird.mls.getKeyPackageStatus
  GetKeyPackageStatus.Output getKeyPackageStatus(XrpcCall call) {
    return service.status(call.caller(), GetKeyPackageStatus.Params.parse(call.params()));
  }

  // POST /xrpc/blue.catbird.mls.syncKeyPackages
  SyncKeyPackages.Output syncKeyPackages(XrpcCall call) {
    return service.sync(call.caller(), SyncKeyPackages.Input.parse(call.input()));
  }
}
