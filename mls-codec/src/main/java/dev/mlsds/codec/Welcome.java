package dev.mlsds.codec;

import java.util.List;

/**
 * {@code Welcome} (RFC 9420 §12.4.3.1). The Delivery Service can read the cipher suite and, in each
 * {@code EncryptedGroupSecrets}, the {@code new_member} KeyPackageRef it routes by; the group secrets
 * and GroupInfo are encrypted. Byte arrays are shared, not copied.
 */
public record Welcome(int cipherSuite, List<EncryptedGroupSecrets> secrets, byte[] encryptedGroupInfo, byte[] raw)
        implements MlsMessage {

    /** {@code EncryptedGroupSecrets}: the recipient's KeyPackageRef and the HPKE-sealed GroupSecrets. */
    public record EncryptedGroupSecrets(byte[] newMember, Commit.HpkeCiphertext encryptedGroupSecrets) {
        static EncryptedGroupSecrets read(MlsReader r) {
            byte[] newMember = r.opaque("new_member");
            return new EncryptedGroupSecrets(newMember, Commit.HpkeCiphertext.read(r));
        }

        void write(MlsWriter w) {
            w.opaque(newMember);
            encryptedGroupSecrets.write(w);
        }
    }

    static Welcome read(MlsReader r, byte[] raw) {
        int cipherSuite = r.u16("welcome.cipher_suite");
        List<EncryptedGroupSecrets> secrets = r.list("welcome.secrets", CodecLimits.WELCOME_SECRETS, EncryptedGroupSecrets::read);
        return new Welcome(cipherSuite, secrets, r.opaque("encrypted_group_info"), raw);
    }

    /** The KeyPackageRefs of the recipients, in order. */
    public List<byte[]> newMembers() {
        return secrets.stream().map(EncryptedGroupSecrets::newMember).toList();
    }

    @Override
    public WireFormat wireFormat() {
        return WireFormat.MLS_WELCOME;
    }

    @Override
    public byte[] encode() {
        MlsWriter w = MlsWriter.messageHeader(WireFormat.MLS_WELCOME).u16(cipherSuite);
        w.list(secrets, EncryptedGroupSecrets::write);
        return w.opaque(encryptedGroupInfo).toByteArray();
    }
}
