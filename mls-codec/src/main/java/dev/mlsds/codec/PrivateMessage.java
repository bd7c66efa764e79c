package dev.mlsds.codec;

/**
 * {@code PrivateMessage} (RFC 9420 §6.3). The Delivery Service sees only this header: group id,
 * epoch, content type and authenticated data; the sender and content are encrypted.
 * Byte arrays are shared, not copied.
 */
public record PrivateMessage(
        byte[] groupId,
        long epoch,
        ContentType contentType,
        byte[] authenticatedData,
        byte[] encryptedSenderData,
        byte[] ciphertext,
        byte[] raw) implements MlsMessage {

    static PrivateMessage read(MlsReader r, byte[] raw) {
        byte[] groupId = r.opaque("group_id");
        long epoch = r.u64("epoch");
        ContentType contentType = ContentType.read(r);
        byte[] authenticatedData = r.opaque("authenticated_data");
        byte[] encryptedSenderData = r.opaque("encrypted_sender_data");
        byte[] ciphertext = r.opaque("ciphertext");
        return new PrivateMessage(groupId, epoch, contentType, authenticatedData, encryptedSenderData, ciphertext, raw);
    }

    @Override
    public WireFormat wireFormat() {
        return WireFormat.MLS_PRIVATE_MESSAGE;
    }

    @Override
    public byte[] encode() {
        return MlsWriter.messageHeader(WireFormat.MLS_PRIVATE_MESSAGE)
                .opaque(groupId).u64(epoch).u8(contentType.value()).opaque(authenticatedData)
                .opaque(encryptedSenderData).opaque(ciphertext).toByteArray();
    }
}
