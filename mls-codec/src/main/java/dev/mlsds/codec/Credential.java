package dev.mlsds.codec;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * {@code Credential} (RFC 9420 §5.3): a {@link Basic} identity or an {@link X509} chain. Other
 * credential types have no length-delimited encoding that a parser could skip, so they are
 * rejected as malformed. Byte arrays are shared, not copied: do not modify them.
 */
public sealed interface Credential permits Credential.Basic, Credential.X509 {
    int BASIC = 0x0001;
    int X509_TYPE = 0x0002;

    /** The {@code CredentialType} code point. */
    int type();

    void write(MlsWriter w);

    /** {@code basic}: an application-defined identity, for this service a DID in UTF-8. */
    record Basic(byte[] identity) implements Credential {
        @Override
        public int type() {
            return BASIC;
        }

        /** The identity decoded as UTF-8 (malformed sequences become U+FFFD). */
        public String identityString() {
            return new String(identity, StandardCharsets.UTF_8);
        }

        @Override
        public void write(MlsWriter w) {
            w.u16(BASIC).opaque(identity);
        }
    }

    /** {@code x509}: DER certificates, end-entity first. */
    record X509(List<byte[]> certificates) implements Credential {
        @Override
        public int type() {
            return X509_TYPE;
        }

        @Override
        public void write(MlsWriter w) {
            w.u16(X509_TYPE).list(certificates, (cert, out) -> out.opaque(cert));
        }
    }

    static Credential read(MlsReader r) {
        int at = r.position();
        int type = r.u16("credential_type");
        return switch (type) {
            case BASIC -> new Basic(r.opaque("identity"));
            case X509_TYPE -> new X509(r.list("certificates", CodecLimits.CERTIFICATES, c -> c.opaque("cert_data")));
            default -> throw new MlsDecodeException("credential_type: unsupported value " + type, at);
        };
    }
}
