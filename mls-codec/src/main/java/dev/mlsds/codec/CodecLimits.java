package dev.mlsds.codec;

/**
 * Counted limits on every vector of structs the codec decodes, so that what a decode allocates is
 * bounded by a small constant times the size of its input however the input is shaped (an empty
 * {@code ProposalOrRef} reference is 2 bytes on the wire but an object, an array and a list slot on
 * the heap). A vector over its limit is malformed, reported like any other {@link MlsDecodeException}.
 *
 * <p>Two kinds of bound apply together:
 * <ul>
 *   <li>a per-vector cap on the element count, sized well above what real clients produce (OpenMLS,
 *       ts-mls and Bouncy Castle send a handful of extensions and capability entries);</li>
 *   <li>an element budget per decode, {@value #BUDGET_BASE} plus one element per
 *       {@value #BYTES_PER_ELEMENT} bytes of input, shared by nested vectors, so nesting two capped
 *       vectors (path nodes × secrets) cannot multiply the caps.</li>
 * </ul>
 */
public final class CodecLimits {
    /** Extensions in any extension list (KeyPackage, LeafNode, GroupContext, GroupInfo, proposals). */
    public static final int EXTENSIONS = 32;
    /** Entries in each {@code Capabilities} list (versions, cipher suites, extensions, proposals, credentials). */
    public static final int CAPABILITY_ENTRIES = 64;
    /** Certificates in an X.509 credential chain. */
    public static final int CERTIFICATES = 16;
    /** Proposals (inline or by reference) in one Commit. */
    public static final int PROPOSALS = 10_000;
    /** {@code EncryptedGroupSecrets} (recipients) in one Welcome. */
    public static final int WELCOME_SECRETS = 10_000;
    /** Nodes of an UpdatePath: the tree depth, at most 32 for 2^32 leaves. */
    public static final int PATH_NODES = 32;
    /** Encrypted path secrets per UpdatePath node (the size of the node's resolution). */
    public static final int PATH_SECRETS = 10_000;
    /** Nodes of a ratchet tree. */
    public static final int TREE_NODES = 1 << 16;
    /** Unmerged leaves of one parent node. */
    public static final int UNMERGED_LEAVES = 10_000;
    /** Pre-shared key ids in GroupSecrets. */
    public static final int PSKS = 64;

    /** Elements any decode may create regardless of its size. */
    public static final int BUDGET_BASE = 4096;
    /** Input bytes that pay for one more element beyond {@link #BUDGET_BASE}. */
    public static final int BYTES_PER_ELEMENT = 16;

    private CodecLimits() {}

    /** The element budget of a decode over {@code inputLength} bytes. */
    static int budgetFor(int inputLength) {
        return BUDGET_BASE + inputLength / BYTES_PER_ELEMENT;
    }
}
