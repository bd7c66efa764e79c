package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mlsds.codec.testing.TestKeyPackages;
import dev.mlsds.codec.testing.TestMessages;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code mlsds inspect}: input detection, the documented fields per wire format, errors and {@code --lines}. */
class InspectorTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Instant AT = Instant.parse("2026-05-01T12:00:00Z");
    private static final CipherSuite SUITE_1 = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
    private static final byte[] GROUP = {(byte) 0xAB, (byte) 0xCD};

    private record Run(int status, List<JsonNode> objects, String text) {
        JsonNode only() {
            assertThat(objects).hasSize(1);
            return objects.get(0);
        }
    }

    private static Run run(String input, Instant at, boolean lines) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int status = Inspector.run(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8), at, lines);
        String text = out.toString(StandardCharsets.UTF_8);
        List<JsonNode> objects = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (!line.isEmpty()) {
                objects.add(JSON.readTree(line));
            }
        }
        return new Run(status, objects, text);
    }

    private static Run run(String input) throws Exception {
        return run(input, AT, false);
    }

    private static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }

    private static byte[] keyPackage(boolean lastResort) {
        return TestKeyPackages.builder(SUITE_1, "did:plc:alice")
                .lifetime(AT.minusSeconds(60), AT.plus(Duration.ofDays(30))).lastResort(lastResort).build();
    }

    @Test
    void keyPackageFieldsAndValidity() throws Exception {
        byte[] kp = keyPackage(true);
        KeyPackage decoded = KeyPackage.decode(kp);
        Run r = run(hex(kp));
        assertThat(r.status).isZero();
        JsonNode o = r.only();
        assertThat(o.get("wireFormat").asText()).isEqualTo("mls_key_package");
        assertThat(o.get("framed").asBoolean()).isTrue();
        assertThat(o.get("size").asInt()).isEqualTo(kp.length);
        assertThat(o.get("cipherSuite").asInt()).isEqualTo(1);
        assertThat(o.get("cipherSuiteName").asText()).isEqualTo(SUITE_1.name());
        assertThat(o.get("keyPackageRef").asText()).isEqualTo(hex(decoded.ref()));
        assertThat(o.get("deviceId").asText()).isEqualTo(decoded.deviceId());
        assertThat(o.get("credentialType").asText()).isEqualTo("basic");
        assertThat(o.get("identity").asText()).isEqualTo("did:plc:alice");
        assertThat(o.get("notBefore").asLong()).isEqualTo(AT.getEpochSecond() - 60);
        assertThat(o.get("notAfterTime").asText()).isEqualTo("2026-05-31T12:00:00Z");
        assertThat(o.get("lastResort").asBoolean()).isTrue();
        assertThat(o.get("extensions")).singleElement().satisfies(e -> assertThat(e.asInt()).isEqualTo(0x000A));
        assertThat(o.get("valid").asBoolean()).isTrue();
        assertThat(o.get("rule").isNull()).isTrue();
        assertThat(o.get("reason").isNull()).isTrue();
    }

    @Test
    void validityUsesTheGivenTime() throws Exception {
        Run later = run(hex(keyPackage(false)), AT.plus(Duration.ofDays(31)), false);
        assertThat(later.status).as("an invalid KeyPackage is still a successful inspection").isZero();
        JsonNode o = later.only();
        assertThat(o.get("valid").asBoolean()).isFalse();
        assertThat(o.get("rule").asText()).isEqualTo("expired");
        assertThat(o.get("reason").asText()).startsWith("expired: not_after");
        assertThat(o.get("lastResort").asBoolean()).isFalse();
    }

    @Test
    void base64InEitherAlphabetWithOrWithoutPaddingAndWrapped() throws Exception {
        byte[] kp = keyPackage(false);
        String ref = hex(KeyPackage.decode(kp).ref());
        List<String> inputs = List.of(
                Base64.getEncoder().encodeToString(kp),
                Base64.getEncoder().withoutPadding().encodeToString(kp),
                Base64.getUrlEncoder().encodeToString(kp),
                Base64.getMimeEncoder().encodeToString(kp) + "\n",
                "  " + hex(kp).substring(0, 40) + "\n" + hex(kp).substring(40) + "\n\n");
        for (String input : inputs) {
            assertThat(run(input).only().get("keyPackageRef").asText()).as(input).isEqualTo(ref);
        }
    }

    @Test
    void bareKeyPackagesAreAcceptedIncludingSuite5() throws Exception {
        byte[] bare = TestKeyPackages.builder(CipherSuite.MLS_256_DHKEMP521_AES256GCM_SHA512_P521, "did:plc:alice")
                .lifetime(AT.minusSeconds(60), AT.plus(Duration.ofDays(1))).framed(false).build();
        JsonNode o = run(hex(bare)).only();
        assertThat(o.get("wireFormat").asText()).isEqualTo("mls_key_package");
        assertThat(o.get("framed").asBoolean()).isFalse();
        assertThat(o.get("cipherSuite").asInt()).isEqualTo(5);
        assertThat(o.get("valid").asBoolean()).isTrue();
    }

    @Test
    void welcomeRecipients() throws Exception {
        byte[] ref1 = new byte[32];
        byte[] ref2 = new byte[32];
        ref2[0] = 1;
        JsonNode o = run(hex(TestMessages.welcome(SUITE_1, List.of(ref1, ref2)))).only();
        assertThat(o.get("wireFormat").asText()).isEqualTo("mls_welcome");
        assertThat(o.get("cipherSuite").asInt()).isEqualTo(1);
        assertThat(o.get("recipients")).extracting(JsonNode::asText).containsExactly(hex(ref1), hex(ref2));
    }

    @Test
    void publicCommitProposals() throws Exception {
        byte[] kp = keyPackage(false);
        JsonNode o = run(hex(TestMessages.commit(GROUP, 12, 2, List.of(kp), List.of(4L), true))).only();
        assertThat(o.get("wireFormat").asText()).isEqualTo("mls_public_message");
        assertThat(o.get("groupId").asText()).isEqualTo("abcd");
        assertThat(o.get("epoch").asLong()).isEqualTo(12);
        assertThat(o.get("sender").get("type").asText()).isEqualTo("member");
        assertThat(o.get("sender").get("index").asInt()).isEqualTo(2);
        assertThat(o.get("contentType").asText()).isEqualTo("commit");
        assertThat(o.get("hasPath").asBoolean()).isTrue();
        JsonNode add = o.get("proposals").get(0);
        assertThat(add.get("type").asText()).isEqualTo("add");
        assertThat(add.get("keyPackageRef").asText()).isEqualTo(hex(KeyPackage.decode(kp).ref()));
        assertThat(add.get("identity").asText()).isEqualTo("did:plc:alice");
        assertThat(add.get("valid").asBoolean()).isTrue();
        JsonNode remove = o.get("proposals").get(1);
        assertThat(remove.get("type").asText()).isEqualTo("remove");
        assertThat(remove.get("removed").asInt()).isEqualTo(4);
    }

    @Test
    void privateMessageAndGroupInfo() throws Exception {
        JsonNode p = run(hex(TestMessages.privateMessage(GROUP, -1L, ContentType.APPLICATION))).only();
        assertThat(p.get("wireFormat").asText()).isEqualTo("mls_private_message");
        assertThat(p.get("epoch").asText()).as("epochs are unsigned 64-bit").isEqualTo("18446744073709551615");
        assertThat(p.get("contentType").asText()).isEqualTo("application");
        JsonNode g = run(hex(TestMessages.groupInfo(SUITE_1, GROUP, 3, true))).only();
        assertThat(g.get("wireFormat").asText()).isEqualTo("mls_group_info");
        assertThat(g.get("groupId").asText()).isEqualTo("abcd");
        assertThat(g.get("epoch").asLong()).isEqualTo(3);
        assertThat(g.get("externalPub").asBoolean()).isTrue();
        assertThat(g.get("ratchetTree").asBoolean()).isFalse();
    }

    @Test
    void malformedInputGivesErrorAndOffsetAndNonZeroStatus() throws Exception {
        byte[] kp = keyPackage(false);
        Run truncated = run(hex(java.util.Arrays.copyOf(kp, 40)));
        assertThat(truncated.status).isEqualTo(Inspector.MALFORMED);
        JsonNode o = truncated.only();
        assertThat(o.fieldNames()).toIterable().containsExactly("error", "offset");
        assertThat(o.get("error").asText()).isEqualTo("key_package.init_key: vector length 32 exceeds the 31 bytes left");
        assertThat(o.get("offset").asInt()).isEqualTo(8);

        Run notEncoded = run("nothex.data");
        assertThat(notEncoded.status).isEqualTo(Inspector.MALFORMED);
        assertThat(notEncoded.only().get("error").asText()).startsWith("input: neither hex nor base64");
        assertThat(notEncoded.only().get("offset").asInt()).as("offset of the '.'").isEqualTo(6);

        Run empty = run("  \n");
        assertThat(empty.status).isEqualTo(Inspector.MALFORMED);
        assertThat(empty.only().get("error").asText()).isEqualTo("input: empty");
    }

    @Test
    void linesModeKeepsOrderAndContinuesPastErrors() throws Exception {
        byte[] kp = keyPackage(false);
        String input = hex(kp) + "\n"
                + "zz\n"
                + Base64.getEncoder().encodeToString(TestMessages.welcome(SUITE_1, List.of(new byte[32]))) + "\r\n"
                + "\n"
                + hex(TestMessages.privateMessage(GROUP, 1, ContentType.PROPOSAL)) + "\n";
        Run r = run(input, AT, true);
        assertThat(r.status).isEqualTo(Inspector.MALFORMED);
        assertThat(r.objects).hasSize(5);
        assertThat(r.objects.get(0).get("wireFormat").asText()).isEqualTo("mls_key_package");
        assertThat(r.objects.get(1).has("error")).isTrue();
        assertThat(r.objects.get(2).get("wireFormat").asText()).isEqualTo("mls_welcome");
        assertThat(r.objects.get(3).get("error").asText()).isEqualTo("input: empty");
        assertThat(r.objects.get(4).get("contentType").asText()).isEqualTo("proposal");

        Run ok = run(hex(kp) + "\n" + hex(kp), AT, true);
        assertThat(ok.status).isZero();
        assertThat(ok.objects).hasSize(2);
    }

    @Test
    void everyVectorMessageInspectsInOneLinesRun() throws Exception {
        StringBuilder input = new StringBuilder();
        int count = 0;
        for (JsonNode set : Vectors.load("messages.json")) {
            for (String field : List.of("mls_welcome", "mls_group_info", "mls_key_package", "public_message_application",
                    "public_message_proposal", "public_message_commit", "private_message")) {
                input.append(set.get(field).asText()).append('\n');
                count++;
            }
        }
        Run r = run(input.toString(), Instant.parse("2023-04-01T00:00:00Z"), true);
        assertThat(r.status).isZero();
        assertThat(r.objects).hasSize(count);
        assertThat(r.objects).noneMatch(o -> o.has("error"));
        assertThat(r.objects).filteredOn(o -> o.get("wireFormat").asText().equals("mls_key_package"))
                .hasSize(300).allMatch(o -> o.get("valid").asBoolean());
    }

    @Test
    void jsonStringsAreEscaped() throws Exception {
        byte[] kp = TestKeyPackages.builder(SUITE_1, "did:\"quote\\\n\u0001")
                .lifetime(AT.minusSeconds(60), AT.plusSeconds(60)).build();
        assertThat(run(hex(kp)).only().get("identity").asText()).isEqualTo("did:\"quote\\\n\u0001");
    }
}
