package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * {@code messages.json}: all 300 sets, every field decodes and re-encodes byte-exact, every wire
 * format occurs, and every KeyPackage in them (framed, in Add proposals, in Commits) validates with
 * the clock inside its 2023 lifetime. The vector KeyPackages have not_before at most 2023-03-08 and
 * not_after at least 2023-05-31, so 2023-04-01 lies inside all of them.
 */
class MessagesVectorTest {
    private static final Instant INSIDE_2023_LIFETIMES = Instant.parse("2023-04-01T00:00:00Z");

    /** Field name to decoder; each decoder's result is re-encoded by {@link #encode}. */
    private static final Map<String, Function<byte[], Object>> DECODERS = Map.ofEntries(
            Map.entry("mls_welcome", MlsMessage::decode),
            Map.entry("mls_group_info", MlsMessage::decode),
            Map.entry("mls_key_package", MlsMessage::decode),
            Map.entry("public_message_application", MlsMessage::decode),
            Map.entry("public_message_proposal", MlsMessage::decode),
            Map.entry("public_message_commit", MlsMessage::decode),
            Map.entry("private_message", MlsMessage::decode),
            Map.entry("ratchet_tree", RatchetTree::decode),
            Map.entry("group_secrets", GroupSecrets::decode),
            Map.entry("add_proposal", b -> Proposal.decodeBody(Proposal.ADD, b)),
            Map.entry("update_proposal", b -> Proposal.decodeBody(Proposal.UPDATE, b)),
            Map.entry("remove_proposal", b -> Proposal.decodeBody(Proposal.REMOVE, b)),
            Map.entry("pre_shared_key_proposal", b -> Proposal.decodeBody(Proposal.PSK, b)),
            Map.entry("re_init_proposal", b -> Proposal.decodeBody(Proposal.REINIT, b)),
            Map.entry("external_init_proposal", b -> Proposal.decodeBody(Proposal.EXTERNAL_INIT, b)),
            Map.entry("group_context_extensions_proposal", b -> Proposal.decodeBody(Proposal.GROUP_CONTEXT_EXTENSIONS, b)),
            Map.entry("commit", Commit::decode));

    private static final Map<String, WireFormat> WIRE_FORMATS = Map.of(
            "mls_welcome", WireFormat.MLS_WELCOME,
            "mls_group_info", WireFormat.MLS_GROUP_INFO,
            "mls_key_package", WireFormat.MLS_KEY_PACKAGE,
            "public_message_application", WireFormat.MLS_PUBLIC_MESSAGE,
            "public_message_proposal", WireFormat.MLS_PUBLIC_MESSAGE,
            "public_message_commit", WireFormat.MLS_PUBLIC_MESSAGE,
            "private_message", WireFormat.MLS_PRIVATE_MESSAGE);

    private static byte[] encode(Object decoded) {
        return switch (decoded) {
            case MlsMessage m -> m.encode();
            case RatchetTree t -> t.encode();
            case GroupSecrets s -> s.encode();
            case Commit c -> c.encode();
            case Proposal p -> {
                MlsWriter w = new MlsWriter();
                p.writeBody(w);
                yield w.toByteArray();
            }
            default -> throw new AssertionError("no encoder for " + decoded.getClass());
        };
    }

    @Test
    void everyFieldOfAll300SetsDecodesAndReencodesByteExact() {
        JsonNode sets = Vectors.load("messages.json");
        assertThat(sets).hasSize(300);
        int checked = 0;
        Set<WireFormat> seen = EnumSet.noneOf(WireFormat.class);
        for (int i = 0; i < sets.size(); i++) {
            JsonNode set = sets.get(i);
            assertThat(iterable(set.fieldNames())).as("fields of set %d", i).containsExactlyInAnyOrderElementsOf(DECODERS.keySet());
            for (String field : DECODERS.keySet()) {
                byte[] bytes = Vectors.hex(set.get(field));
                Object decoded = DECODERS.get(field).apply(bytes);
                assertThat(encode(decoded)).as("set %d %s re-encoded", i, field).isEqualTo(bytes);
                if (decoded instanceof MlsMessage m) {
                    assertThat(m.wireFormat()).as("set %d %s", i, field).isEqualTo(WIRE_FORMATS.get(field));
                    assertThat(m.raw()).isEqualTo(bytes);
                    seen.add(m.wireFormat());
                }
                checked++;
            }
        }
        assertThat(checked).isEqualTo(300 * DECODERS.size());
        assertThat(seen).containsExactlyInAnyOrder(WireFormat.values());
    }

    @Test
    void publicMessageHeadersAreRead() {
        JsonNode set = Vectors.load("messages.json").get(0);
        PublicMessage commit = (PublicMessage) MlsMessage.decode(Vectors.hex(set.get("public_message_commit")));
        assertThat(commit.contentType()).isEqualTo(ContentType.COMMIT);
        assertThat(commit.commit()).isNotNull();
        assertThat(commit.confirmationTag()).isNotNull();
        PublicMessage application = (PublicMessage) MlsMessage.decode(Vectors.hex(set.get("public_message_application")));
        assertThat(application.contentType()).isEqualTo(ContentType.APPLICATION);
        assertThat(application.applicationData()).isNotNull();
        assertThat(application.groupId()).isEqualTo(commit.groupId());
        PrivateMessage privateMessage = (PrivateMessage) MlsMessage.decode(Vectors.hex(set.get("private_message")));
        assertThat(privateMessage.groupId()).isEqualTo(commit.groupId());
    }

    @Test
    void everyKeyPackageInTheVectorsValidatesInside2023() {
        KeyPackageValidator validator = new KeyPackageValidator(
                Clock.fixed(INSIDE_2023_LIFETIMES, ZoneOffset.UTC), KeyPackagePolicy.defaults());
        JsonNode sets = Vectors.load("messages.json");
        List<KeyPackage> keyPackages = new ArrayList<>();
        for (JsonNode set : sets) {
            keyPackages.add(KeyPackage.decode(Vectors.hex(set.get("mls_key_package"))));
            keyPackages.add(((Proposal.Add) Proposal.decodeBody(Proposal.ADD, Vectors.hex(set.get("add_proposal")))).keyPackage());
            for (ProposalOrRef p : Commit.decode(Vectors.hex(set.get("commit"))).proposals()) {
                if (p instanceof ProposalOrRef.Inline inline && inline.proposal() instanceof Proposal.Add add) {
                    keyPackages.add(add.keyPackage());
                }
            }
            for (String field : List.of("public_message_proposal", "public_message_commit")) {
                keyPackages.addAll(((PublicMessage) MlsMessage.decode(Vectors.hex(set.get(field)))).addedKeyPackages());
            }
        }
        assertThat(keyPackages).hasSizeGreaterThanOrEqualTo(600);
        for (KeyPackage kp : keyPackages) {
            ValidatedKeyPackage valid = validator.validate(kp, null);
            assertThat(valid.ref()).hasSize(valid.cipherSuite().refLength());
        }
    }

    @Test
    void theSameKeyPackagesAreExpiredNow() {
        KeyPackageValidator validator = new KeyPackageValidator(Clock.systemUTC(), KeyPackagePolicy.defaults());
        byte[] kp = Vectors.hex(Vectors.load("messages.json").get(0).get("mls_key_package"));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> validator.validate(kp, null))
                .isInstanceOfSatisfying(InvalidKeyPackageException.class,
                        e -> assertThat(e.rule()).isEqualTo(KeyPackageValidator.RULE_EXPIRED));
    }

    private static <T> List<T> iterable(Iterator<T> it) {
        List<T> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }
}
