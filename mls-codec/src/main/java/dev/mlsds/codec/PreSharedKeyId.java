package dev.mlsds.codec;

/**
 * {@code PreSharedKeyID} (RFC 9420 §8.4): an external PSK by id, or a resumption PSK of a group
 * epoch. Byte arrays are shared, not copied: do not modify them.
 */
public sealed interface PreSharedKeyId permits PreSharedKeyId.External, PreSharedKeyId.Resumption {
    byte[] nonce();

    void write(MlsWriter w);

    record External(byte[] pskId, byte[] nonce) implements PreSharedKeyId {
        @Override
        public void write(MlsWriter w) {
            w.u8(1).opaque(pskId).opaque(nonce);
        }
    }

    /** {@code usage}: 1 application, 2 reinit, 3 branch. */
    record Resumption(int usage, byte[] pskGroupId, long pskEpoch, byte[] nonce) implements PreSharedKeyId {
        @Override
        public void write(MlsWriter w) {
            w.u8(2).u8(usage).opaque(pskGroupId).u64(pskEpoch).opaque(nonce);
        }
    }

    static PreSharedKeyId read(MlsReader r) {
        int at = r.position();
        int type = r.u8("psktype");
        switch (type) {
            case 1 -> {
                byte[] id = r.opaque("psk_id");
                return new External(id, r.opaque("psk_nonce"));
            }
            case 2 -> {
                int usageAt = r.position();
                int usage = r.u8("resumption_usage");
                if (usage < 1 || usage > 3) {
                    throw new MlsDecodeException("resumption_usage: unknown value " + usage, usageAt);
                }
                byte[] groupId = r.opaque("psk_group_id");
                long epoch = r.u64("psk_epoch");
                return new Resumption(usage, groupId, epoch, r.opaque("psk_nonce"));
            }
            default -> throw new MlsDecodeException("psktype: unknown value " + type, at);
        }
    }
}
