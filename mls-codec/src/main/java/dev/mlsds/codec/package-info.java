/**
 * The strict RFC 9420 codec of the Delivery Service: it reads, from the bytes alone, everything the
 * server may act on (group ids, epochs, senders, content types, Commit proposals, Welcome recipients,
 * KeyPackageRefs) and validates KeyPackages.
 *
 * <p>Where to start:
 * <ul>
 *   <li>{@link dev.mlsds.codec.MlsMessage#decode} for any MLSMessage, giving a {@link dev.mlsds.codec.PublicMessage},
 *       {@link dev.mlsds.codec.PrivateMessage}, {@link dev.mlsds.codec.Welcome}, {@link dev.mlsds.codec.GroupInfo}
 *       or {@link dev.mlsds.codec.KeyPackage};</li>
 *   <li>{@link dev.mlsds.codec.KeyPackageValidator#validate} for uploads, framed or bare;</li>
 *   <li>{@link dev.mlsds.codec.Signatures#verifyWithLabel} for other MLS signatures;</li>
 *   <li>{@link dev.mlsds.codec.Inspector#run} behind {@code mlsds inspect}.</li>
 * </ul>
 *
 * <p>Decoders throw only {@link dev.mlsds.codec.MlsDecodeException}; validation failures are
 * {@link dev.mlsds.codec.InvalidKeyPackageException} with a rule code. Decoded records share their
 * byte arrays with the caller: treat them as read-only. Runtime dependencies: the JDK and Bouncy
 * Castle's provider jar (lightweight API only).
 */
package dev.mlsds.codec;
