package dev.mlsds.server.xrpc;

/** One XRPC method. Returns the output record, serialized as the JSON response body with status 200. */
@FunctionalInterface
public interface XrpcHandler {
  Object handle(XrpcCall call) throws Exception;
}
