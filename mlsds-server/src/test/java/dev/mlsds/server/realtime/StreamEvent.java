package dev.mlsds.server.realtime;

import com.fasterxml.jackson.databind.JsonNode;

/** One event as a test client received it: its type, its id (null for live-only events) and its data. */
record StreamEvent(String type, String id, JsonNode data) {
  String convoId() {
    return type.equals("messageEvent") ? data.get("message").get("convoId").asText() : data.path("convoId").asText(null);
  }

  /** The position in its conversation: the message's seq, or the one-conversation cursor form. */
  long seq() {
    return data.get("message").get("seq").asLong();
  }
}
