package dev.mlsds.server.realtime;

/**
 * How an event goes on the wire, per transport. Every event object names itself with {@code $type} (or,
 * in DAG-CBOR frames, the header's {@code t}), as the lexicons' unions do: the 2025 Catbird client reads
 * only the SSE {@code data:} lines and dispatches on {@code $type}, and skips types it does not know.
 */
enum Framing {
  /** Server-Sent Events: {@code id:}, {@code event:}, {@code data:} with {@code $type} = streamConvoEvents#name. */
  SSE {
    @Override
    Object encode(String type, String id, String json) {
      return SseSink.frame(type, id, Outbound.withField("$type", STREAM_NS + type, json));
    }
  },
  /** WebSocket, opted in with {@code encoding=json}: a text frame, {@code $type} = subscribeConvoEvents#name. */
  WS_JSON {
    @Override
    Object encode(String type, String id, String json) {
      return Outbound.withField("$type", SUBSCRIBE_NS + type, json);
    }
  },
  /** WebSocket, the default: a binary frame, DAG-CBOR header {@code {op: 1, t: "#name"}} and DAG-CBOR body. */
  WS_CBOR {
    @Override
    Object encode(String type, String id, String json) {
      return DagCbor.event(type, json);
    }
  };

  static final String STREAM_NS = RealtimeHandlers.STREAM + "#";
  static final String SUBSCRIBE_NS = RealtimeHandlers.SUBSCRIBE + "#";

  /**
   * The frame of one event: {@code json} is its object without {@code $type} (with its cursor, if it has
   * one), {@code id} its cursor or null. SSE: {@code byte[]}; WS_JSON: {@code String}; WS_CBOR: {@code byte[]}.
   */
  abstract Object encode(String type, String id, String json);
}
