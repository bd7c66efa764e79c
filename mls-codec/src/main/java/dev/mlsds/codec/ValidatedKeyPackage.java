package dev.mlsds.codec;

import java.util.HexFormat;

/**
 * A KeyPackage that passed every rule of {@link KeyPackageValidator}, with what a Delivery Service
 * stores about it. {@code ref} is the KeyPackageRef; {@code notBefore}/{@code notAfter} are unsigned
 * seconds (see {@link Lifetime}). Byte arrays are shared, not copied.
 */
public record ValidatedKeyPackage(
        KeyPackage keyPackage,
        CipherSuite cipherSuite,
        byte[] ref,
        String identity,
        boolean lastResort,
        long notBefore,
        long notAfter) {

    /** The KeyPackageRef as lowercase hex, the API's {@code keyPackageRef}. */
    public String refHex() {
        return HexFormat.of().formatHex(ref);
    }

    /** See {@link KeyPackage#deviceId()}. */
    public String deviceId() {
        return keyPackage.deviceId();
    }
}
