package dev.mlsds.server.xrpc;

import dev.mlsds.server.auth.Did;

/**
 * One authenticated XRPC call as a handler sees it: the method, the caller (the token's {@code iss}, never
 * anything the client wrote in the body), and the typed parameters or body.
 */
public record XrpcCall(String nsid, Did caller, XrpcParams params, XrpcInput input, String requestId) {}
