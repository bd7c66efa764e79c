package dev.mlsds.codec;

/**
 * A handshake message or GroupInfo that does not fit the {@link PublicGroupState}: a signature that does
 * not verify ({@link Kind#SIGNATURE}), or content inconsistent with the tree, such as a path that does not
 * chain or a proposal on a blank leaf ({@link Kind#INVALID}).
 */
public final class PublicTreeException extends RuntimeException {
    /** Why the message was refused. */
    public enum Kind {
        SIGNATURE,
        INVALID
    }

    private final Kind kind;

    public PublicTreeException(Kind kind, String message) {
        super(message, null, false, false);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    static PublicTreeException invalid(String message) {
        return new PublicTreeException(Kind.INVALID, message);
    }

    static PublicTreeException signature(String message) {
        return new PublicTreeException(Kind.SIGNATURE, message);
    }
}
