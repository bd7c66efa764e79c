package dev.mlsds.codec;

import java.util.List;

/** {@code Capabilities} of a LeafNode (RFC 9420 §7.2): lists of 16-bit code points, GREASE included. */
public record Capabilities(
        List<Integer> versions,
        List<Integer> cipherSuites,
        List<Integer> extensions,
        List<Integer> proposals,
        List<Integer> credentials) {

    public static Capabilities read(MlsReader r) {
        return new Capabilities(
                r.u16List("capabilities.versions", CodecLimits.CAPABILITY_ENTRIES),
                r.u16List("capabilities.cipher_suites", CodecLimits.CAPABILITY_ENTRIES),
                r.u16List("capabilities.extensions", CodecLimits.CAPABILITY_ENTRIES),
                r.u16List("capabilities.proposals", CodecLimits.CAPABILITY_ENTRIES),
                r.u16List("capabilities.credentials", CodecLimits.CAPABILITY_ENTRIES));
    }

    public void write(MlsWriter w) {
        w.u16List(versions).u16List(cipherSuites).u16List(extensions).u16List(proposals).u16List(credentials);
    }
}
