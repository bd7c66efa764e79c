package dev.mlsds.codec;

import java.util.List;

/**
 * {@code GroupSecrets} (RFC 9420 §12.4.3.1), the plaintext inside a Welcome's
 * {@code encrypted_group_secrets}. A Delivery Service never sees it; the codec decodes it so the
 * interop vectors can be checked in full. {@code pathSecret} is null when absent.
 */
public record GroupSecrets(byte[] joinerSecret, byte[] pathSecret, List<PreSharedKeyId> psks) {

    public static GroupSecrets decode(byte[] bytes) {
        MlsReader r = new MlsReader(bytes.clone());
        byte[] joinerSecret = r.opaque("joiner_secret");
        byte[] pathSecret = r.optional("path_secret") ? r.opaque("path_secret") : null;
        GroupSecrets secrets = new GroupSecrets(joinerSecret, pathSecret, r.list("psks", CodecLimits.PSKS, PreSharedKeyId::read));
        r.expectEnd("GroupSecrets");
        return secrets;
    }

    public byte[] encode() {
        MlsWriter w = new MlsWriter().opaque(joinerSecret).optional(pathSecret != null);
        if (pathSecret != null) {
            w.opaque(pathSecret);
        }
        return w.list(psks, PreSharedKeyId::write).toByteArray();
    }
}
