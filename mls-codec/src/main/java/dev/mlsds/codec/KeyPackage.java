package dev.mlsds.codec;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * A decoded {@code KeyPackage} (RFC 9420 §10) together with the exact bytes it came from.
 *
 * <p>{@code raw} is what was decoded: the whole {@code MLSMessage} when {@code framed} (the 4-byte
 * {@code version || wire_format} header, then the KeyPackage), the bare KeyPackage otherwise. The
 * KeyPackageRef and the {@code KeyPackageTBS} signature are computed over slices of it, never over a
 * re-serialisation. {@link #encode()} re-encodes from the fields in the same framing, which the
 * tests compare with {@code raw} to prove the codec byte-exact.
 *
 * <p>Decoding checks structure only; {@link KeyPackageValidator} applies the policy (version,
 * suite, signatures, lifetime, identity). Byte arrays are shared, not copied: do not modify them.
 */
public record KeyPackage(
        int version,
        int cipherSuite,
        byte[] initKey,
        LeafNode leafNode,
        List<Extension> extensions,
        byte[] signature,
        byte[] raw,
        boolean framed) implements MlsMessage {

    /** The only protocol version, {@code mls10}. */
    public static final int MLS10 = 1;

    private static final int HEADER_LENGTH = 4;

    /**
     * Decodes a KeyPackage sent either as an {@code MLSMessage} with {@code wire_format = mls_key_package}
     * or bare, as API clients may send it.
     *
     * <p>The two forms cannot always be told apart by their first bytes: both start with
     * {@code 0x0001}, and the bare form's next field ({@code cipher_suite}) may be 5, which is also
     * {@code mls_key_package}. So for a {@code 0001 0005} prefix both readings are tried strictly
     * (exact consumption) and the MLSMessage reading wins if both parse; any other prefix can only be
     * a bare KeyPackage. If neither parses, see {@link #pickError} for which error is reported.
     */
    public static KeyPackage decode(byte[] bytes) {
        if (!isFramedKeyPackageHeader(bytes)) {
            return decodeBare(bytes);
        }
        MlsDecodeException framedError;
        try {
            return decodeFramed(bytes);
        } catch (MlsDecodeException e) {
            framedError = e;
        }
        try {
            return decodeBare(bytes);
        } catch (MlsDecodeException bareError) {
            throw pickError(bytes, framedError, bareError);
        }
    }

    private static boolean isFramedKeyPackageHeader(byte[] b) {
        return b.length >= HEADER_LENGTH && b[0] == 0 && b[1] == MLS10 && b[2] == 0
                && b[3] == WireFormat.MLS_KEY_PACKAGE.value();
    }

    /**
     * When bytes parse neither as an MLSMessage nor as a bare KeyPackage, the error to report: the
     * bare reading's if the first four bytes are no MLSMessage header (version 1, a known wire
     * format), or are {@code 0001 0005} not followed by the inner KeyPackage version {@code 0001}
     * (then the {@code 0005} was a bare KeyPackage's cipher suite); otherwise the MLSMessage reading's.
     * Comparing how far each reading got does not work: a misreading wanders further than a real
     * message truncated just after a length header.
     */
    static MlsDecodeException pickError(byte[] b, MlsDecodeException messageError, MlsDecodeException bareError) {
        boolean header = b.length >= HEADER_LENGTH && b[0] == 0 && b[1] == MLS10 && b[2] == 0
                && b[3] >= WireFormat.MLS_PUBLIC_MESSAGE.value() && b[3] <= WireFormat.MLS_KEY_PACKAGE.value();
        if (!header) {
            return bareError;
        }
        if (isFramedKeyPackageHeader(b)) {
            boolean innerVersion1 = b.length >= HEADER_LENGTH + 2 && b[4] == 0 && b[5] == MLS10;
            return innerVersion1 ? messageError : bareError;
        }
        return messageError;
    }

    /** Decodes a bare KeyPackage struct that must use every byte. */
    public static KeyPackage decodeBare(byte[] bytes) {
        byte[] own = bytes.clone();
        MlsReader r = new MlsReader(own);
        KeyPackage kp = read(r, own, false);
        r.expectEnd("KeyPackage");
        return kp;
    }

    private static KeyPackage decodeFramed(byte[] bytes) {
        MlsMessage message = MlsMessage.decode(bytes);
        if (message instanceof KeyPackage kp) {
            return kp;
        }
        throw new MlsDecodeException("wire_format: expected mls_key_package, got " + message.wireFormat().rfcName(), 2);
    }

    /** Reads a bare KeyPackage struct from {@code r}, as it appears inside an Add proposal. */
    public static KeyPackage read(MlsReader r) {
        int start = r.position();
        KeyPackage parsed = read(r, null, false);
        return new KeyPackage(parsed.version, parsed.cipherSuite, parsed.initKey, parsed.leafNode,
                parsed.extensions, parsed.signature, r.bytesFrom(start), false);
    }

    /** Reads the struct; {@code whole} (if non-null) becomes {@code raw}, being the complete input. */
    static KeyPackage read(MlsReader r, byte[] whole, boolean framed) {
        int version = r.u16("key_package.version");
        int cipherSuite = r.u16("key_package.cipher_suite");
        byte[] initKey = r.opaque("key_package.init_key");
        LeafNode leafNode = LeafNode.read(r);
        List<Extension> extensions = Extension.readList(r, "key_package.extensions");
        byte[] signature = r.opaque("key_package.signature");
        return new KeyPackage(version, cipherSuite, initKey, leafNode, extensions, signature, whole, framed);
    }

    @Override
    public WireFormat wireFormat() {
        return WireFormat.MLS_KEY_PACKAGE;
    }

    /** Re-encodes from the fields, framed as an MLSMessage iff this was decoded framed. */
    @Override
    public byte[] encode() {
        MlsWriter w = new MlsWriter();
        if (framed) {
            w.u16(MLS10).u16(WireFormat.MLS_KEY_PACKAGE.value());
        }
        write(w);
        return w.toByteArray();
    }

    /** Re-encodes from the fields as a bare KeyPackage. */
    public byte[] encodeBare() {
        MlsWriter w = new MlsWriter();
        write(w);
        return w.toByteArray();
    }

    public void write(MlsWriter w) {
        w.u16(version).u16(cipherSuite).opaque(initKey);
        leafNode.write(w);
        Extension.writeList(w, extensions);
        w.opaque(signature);
    }

    /** Offset in {@link #raw} where the KeyPackage struct starts: 4 if framed, else 0. */
    public int bodyOffset() {
        return framed ? HEADER_LENGTH : 0;
    }

    /** The bare KeyPackage bytes as received (a copy), i.e. what the KeyPackageRef hashes. */
    public byte[] bareBytes() {
        return framed ? Arrays.copyOfRange(raw, HEADER_LENGTH, raw.length) : raw.clone();
    }

    /** Length of {@code KeyPackageTBS}: the struct bytes before the signature vector. */
    public int tbsLength() {
        return raw.length - bodyOffset() - MlsWriter.varintSize(signature.length) - signature.length;
    }

    /** The cipher suite if this codec knows it. */
    public Optional<CipherSuite> suite() {
        return CipherSuite.byId(cipherSuite);
    }

    /**
     * The KeyPackageRef (RFC 9420 §5.2): RefHash("MLS 1.0 KeyPackage Reference", bare KeyPackage)
     * with the hash of the KeyPackage's own suite.
     *
     * @throws IllegalStateException if the cipher suite is not one of {@link CipherSuite}
     */
    public byte[] ref() {
        CipherSuite suite = suite().orElseThrow(
                () -> new IllegalStateException("unknown cipher suite 0x" + HexFormat.of().toHexDigits((short) cipherSuite)));
        return suite.keyPackageRef(raw, bodyOffset(), raw.length - bodyOffset());
    }

    /** Whether the KeyPackage carries the {@code last_resort} extension (0x000A) in its own extensions. */
    public boolean isLastResort() {
        return Extension.contains(extensions, Extension.LAST_RESORT);
    }

    /** The basic credential's identity as UTF-8, or null if the credential is not {@code basic}. */
    public String identityString() {
        return leafNode.credential() instanceof Credential.Basic basic ? basic.identityString() : null;
    }

    /**
     * The API's device id: lowercase hex of the first 16 bytes of SHA-256 over the LeafNode's
     * {@code signature_key} (docs/api.md §1), independent of the cipher suite.
     */
    public String deviceId() {
        var digest = CipherSuite.Hash.SHA256.newDigest();
        byte[] key = leafNode.signatureKey();
        digest.update(key, 0, key.length);
        byte[] out = new byte[32];
        digest.doFinal(out, 0);
        return HexFormat.of().formatHex(out, 0, 16);
    }
}
