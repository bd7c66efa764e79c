package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

/** {@code deserialization.json}: each variable-length vector header decodes to its length and re-encodes identically. */
class DeserializationVectorTest {
    @Test
    void varintHeadersDecodeToTheirLengths() {
        JsonNode vectors = Vectors.load("deserialization.json");
        assertThat(vectors).hasSize(14);
        for (JsonNode v : vectors) {
            byte[] header = Vectors.hex(v.get("vlbytes_header"));
            MlsReader r = new MlsReader(header);
            assertThat(r.varint("header")).as(v.toString()).isEqualTo(v.get("length").asInt());
            r.expectEnd("header");
            assertThat(new MlsWriter().varint(v.get("length").asInt()).toByteArray()).isEqualTo(header);
        }
    }
}
