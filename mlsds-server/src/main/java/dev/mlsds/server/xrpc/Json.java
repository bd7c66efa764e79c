package dev.mlsds.server.xrpc;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;

/**
 * The one JSON mapper. Output conventions of docs/api.md §1: every {@code byte[]} is written as atproto bytes
 * {@code {"$bytes": "<base64, standard alphabet, = padded>"}}, every {@link Instant} as an RFC 3339 UTC
 * string with millisecond precision, and null fields are omitted.
 *
 * <p>Padded, unlike the atproto data model's advice: the 2025 Catbird clients decode {@code $bytes} with
 * Foundation's {@code Data(base64Encoded:)}, which refuses unpadded input (2 values in 3), and the original
 * server wrote padding. Fields the 2025 lexicon types as {@code string} carrying binary are written with
 * {@link #base64url} instead (docs/lexicons.md).
 */
public final class Json {
  private static final DateTimeFormatter RFC3339_MILLIS =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  public static final ObjectMapper MAPPER = create();

  private Json() {}

  private static ObjectMapper create() {
    SimpleModule module = new SimpleModule("mlsds");
    module.addSerializer(byte[].class, new StdSerializer<>(byte[].class) {
      @Override
      public void serialize(byte[] value, JsonGenerator gen, SerializerProvider provider) throws IOException {
        gen.writeStartObject();
        gen.writeStringField("$bytes", Base64.getEncoder().encodeToString(value));
        gen.writeEndObject();
      }
    });
    module.addSerializer(Instant.class, new StdSerializer<>(Instant.class) {
      @Override
      public void serialize(Instant value, JsonGenerator gen, SerializerProvider provider) throws IOException {
        gen.writeString(formatTime(value));
      }
    });
    JsonMapper mapper = JsonMapper.builder()
        .addModule(module)
        .serializationInclusion(JsonInclude.Include.NON_NULL)
        .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .build();
    mapper.getFactory().setStreamReadConstraints(
        StreamReadConstraints.builder().maxNestingDepth(64).maxStringLength(16 * 1024 * 1024).build());
    return mapper;
  }

  /**
   * Base64url without padding: the form the 2025 lexicon names for binary carried in a {@code string}
   * ({@code keyPackageRef.keyPackage}, {@code getWelcome.welcome}) and the form the original server wrote.
   */
  public static String base64url(byte[] value) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(value);
  }

  public static String formatTime(Instant t) {
    return RFC3339_MILLIS.format(t);
  }

  public static String write(Object value) {
    try {
      return MAPPER.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }
}
