package dev.mlsds.codec;

import java.util.List;

/**
 * {@code Proposal} (RFC 9420 §12.1) for the seven RFC proposal types. A proposal body has no length
 * prefix, so a type this codec does not know cannot be skipped and is rejected as malformed.
 * Byte arrays are shared, not copied: do not modify them.
 */
public sealed interface Proposal {
    int ADD = 1;
    int UPDATE = 2;
    int REMOVE = 3;
    int PSK = 4;
    int REINIT = 5;
    int EXTERNAL_INIT = 6;
    int GROUP_CONTEXT_EXTENSIONS = 7;

    /** The {@code ProposalType} code point. */
    int type();

    /** Writes the proposal body only, without the type (the RFC's {@code Add}, {@code Remove}, ... structs). */
    void writeBody(MlsWriter w);

    default void write(MlsWriter w) {
        w.u16(type());
        writeBody(w);
    }

    /** The RFC name of a proposal type, e.g. {@code add}; {@code "0x000a"} style for others. */
    static String typeName(int type) {
        return switch (type) {
            case ADD -> "add";
            case UPDATE -> "update";
            case REMOVE -> "remove";
            case PSK -> "psk";
            case REINIT -> "reinit";
            case EXTERNAL_INIT -> "external_init";
            case GROUP_CONTEXT_EXTENSIONS -> "group_context_extensions";
            default -> String.format("0x%04x", type);
        };
    }

    record Add(KeyPackage keyPackage) implements Proposal {
        @Override
        public int type() {
            return ADD;
        }

        @Override
        public void writeBody(MlsWriter w) {
            keyPackage.write(w);
        }
    }

    record Update(LeafNode leafNode) implements Proposal {
        @Override
        public int type() {
            return UPDATE;
        }

        @Override
        public void writeBody(MlsWriter w) {
            leafNode.write(w);
        }
    }

    /** {@code removed} is the leaf index of the member to remove. */
    record Remove(long removed) implements Proposal {
        @Override
        public int type() {
            return REMOVE;
        }

        @Override
        public void writeBody(MlsWriter w) {
            w.u32(removed);
        }
    }

    record PreSharedKey(PreSharedKeyId psk) implements Proposal {
        @Override
        public int type() {
            return PSK;
        }

        @Override
        public void writeBody(MlsWriter w) {
            psk.write(w);
        }
    }

    record ReInit(byte[] groupId, int version, int cipherSuite, List<Extension> extensions) implements Proposal {
        @Override
        public int type() {
            return REINIT;
        }

        @Override
        public void writeBody(MlsWriter w) {
            w.opaque(groupId).u16(version).u16(cipherSuite);
            Extension.writeList(w, extensions);
        }
    }

    record ExternalInit(byte[] kemOutput) implements Proposal {
        @Override
        public int type() {
            return EXTERNAL_INIT;
        }

        @Override
        public void writeBody(MlsWriter w) {
            w.opaque(kemOutput);
        }
    }

    record GroupContextExtensions(List<Extension> extensions) implements Proposal {
        @Override
        public int type() {
            return GROUP_CONTEXT_EXTENSIONS;
        }

        @Override
        public void writeBody(MlsWriter w) {
            Extension.writeList(w, extensions);
        }
    }

    /**
     * Decodes a proposal body of a known type that must use every byte, e.g. the RFC's {@code Add}
     * struct (a bare KeyPackage) for {@link #ADD}.
     */
    static Proposal decodeBody(int type, byte[] bytes) {
        MlsReader r = new MlsReader(bytes.clone());
        Proposal proposal = readBody(r, type, 0);
        r.expectEnd(typeName(type) + " proposal");
        return proposal;
    }

    static Proposal read(MlsReader r) {
        int at = r.position();
        int type = r.u16("proposal_type");
        return readBody(r, type, at);
    }

    /** Reads the body of a proposal of the given type (the type having been read, or known from context). */
    static Proposal readBody(MlsReader r, int type, int typeOffset) {
        return switch (type) {
            case ADD -> new Add(KeyPackage.read(r));
            case UPDATE -> new Update(LeafNode.read(r));
            case REMOVE -> new Remove(r.u32("removed"));
            case PSK -> new PreSharedKey(PreSharedKeyId.read(r));
            case REINIT -> {
                byte[] groupId = r.opaque("reinit.group_id");
                int version = r.u16("reinit.version");
                int cipherSuite = r.u16("reinit.cipher_suite");
                yield new ReInit(groupId, version, cipherSuite, Extension.readList(r, "reinit.extensions"));
            }
            case EXTERNAL_INIT -> new ExternalInit(r.opaque("kem_output"));
            case GROUP_CONTEXT_EXTENSIONS -> new GroupContextExtensions(Extension.readList(r, "group_context_extensions.extensions"));
            default -> throw new MlsDecodeException("proposal_type: unsupported value " + type, typeOffset);
        };
    }
}
