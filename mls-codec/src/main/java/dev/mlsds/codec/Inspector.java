package dev.mlsds.codec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;

/**
 * The engine of the operator command {@code mlsds inspect}: reads MLS objects as hex or base64 text
 * and prints one compact JSON object per object. The output fields are a stable interface,
 * documented in {@code docs/inspect.md}.
 *
 * <p>Input encoding is auto-detected per object: text made only of hex digits, of even length, is
 * hex; anything else must be base64 (standard or URL-safe alphabet, padding optional). The object is
 * decoded as an MLSMessage, or as a bare KeyPackage when it is not one (see
 * {@link KeyPackage#decode}). KeyPackages are also validated with the clock at {@code at} and the
 * default {@link KeyPackagePolicy}, without an identity to match.
 *
 * <p>Exit status: 0 when every object decoded (an invalid KeyPackage still decodes: it reports
 * {@code "valid":false}), 1 when any object was malformed (its line is {@code {"error":..., "offset":...}}),
 * 2 when the input could not be read.
 */
public final class Inspector {
    public static final int OK = 0;
    public static final int MALFORMED = 1;
    public static final int IO_ERROR = 2;

    private static final DateTimeFormatter RFC_3339 = DateTimeFormatter.ISO_INSTANT;
    /** 9999-12-31T23:59:59Z: later times have no four-digit-year RFC 3339 form. */
    private static final long MAX_RFC_3339_SECONDS = 253402300799L;

    private final KeyPackageValidator validator;

    private Inspector(Instant at) {
        this.validator = new KeyPackageValidator(Clock.fixed(at, ZoneOffset.UTC), KeyPackagePolicy.defaults());
    }

    /**
     * Runs {@code mlsds inspect}.
     *
     * @param in    the input: one object (all whitespace ignored), or one object per line
     * @param out   where the JSON goes, one object per line
     * @param at    the time KeyPackage lifetimes are checked against
     * @param lines whether each input line is a separate object ({@code --lines})
     * @return the exit status
     */
    public static int run(InputStream in, PrintStream out, Instant at, boolean lines) {
        Inspector inspector = new Inspector(at);
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        int status = OK;
        try {
            if (lines) {
                String line;
                while ((line = reader.readLine()) != null) {
                    Result result = inspector.inspect(line.strip());
                    out.println(result.json);
                    status = Math.max(status, result.status);
                }
            } else {
                StringBuilder text = new StringBuilder();
                reader.lines().forEach(text::append);
                Result result = inspector.inspect(text.toString().replaceAll("\\s+", ""));
                out.println(result.json);
                status = result.status;
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            out.println(new JsonWriter().beginObject().field("error", "cannot read input: " + e.getMessage())
                    .field("offset", 0).endObject());
            return IO_ERROR;
        }
        out.flush();
        return status;
    }

    private record Result(String json, int status) {
    }

    private Result inspect(String text) {
        byte[] bytes;
        try {
            bytes = decodeText(text);
        } catch (MlsDecodeException e) {
            return error(e);
        }
        MlsMessage message;
        try {
            message = decodeObject(bytes);
        } catch (MlsDecodeException e) {
            return error(e);
        }
        JsonWriter json = new JsonWriter().beginObject();
        json.field("wireFormat", message.wireFormat().rfcName()).field("size", bytes.length);
        switch (message) {
            case PublicMessage m -> publicMessage(json, m);
            case PrivateMessage m -> {
                json.field("groupId", hex(m.groupId())).name("epoch").unsignedValue(m.epoch());
                json.field("contentType", m.contentType().rfcName());
            }
            case Welcome m -> {
                json.field("cipherSuite", m.cipherSuite()).field("cipherSuiteName", suiteName(m.cipherSuite()));
                json.name("recipients").beginArray();
                m.newMembers().forEach(ref -> json.value(hex(ref)));
                json.endArray();
            }
            case GroupInfo m -> groupInfo(json, m);
            case KeyPackage m -> {
                json.field("framed", m.framed());
                keyPackage(json, m);
            }
        }
        return new Result(json.endObject().toString(), OK);
    }

    /** An MLSMessage, or failing that a bare KeyPackage; {@link KeyPackage#pickError} picks the error. */
    private static MlsMessage decodeObject(byte[] bytes) {
        try {
            return MlsMessage.decode(bytes);
        } catch (MlsDecodeException messageError) {
            try {
                return KeyPackage.decodeBare(bytes);
            } catch (MlsDecodeException bareError) {
                throw KeyPackage.pickError(bytes, messageError, bareError);
            }
        }
    }

    private void publicMessage(JsonWriter json, PublicMessage m) {
        json.field("groupId", hex(m.groupId())).name("epoch").unsignedValue(m.epoch());
        json.name("sender").beginObject().field("type", m.sender().type().rfcName());
        if (m.sender().type().hasIndex()) {
            json.field("index", m.sender().index());
        }
        json.endObject();
        json.field("contentType", m.contentType().rfcName());
        json.field("authenticatedData", hex(m.authenticatedData()));
        if (m.proposal() != null) {
            json.name("proposal");
            proposal(json, m.proposal());
        }
        if (m.commit() != null) {
            json.name("proposals").beginArray();
            for (ProposalOrRef p : m.commit().proposals()) {
                switch (p) {
                    case ProposalOrRef.Inline inline -> proposal(json, inline.proposal());
                    case ProposalOrRef.Reference ref ->
                            json.beginObject().field("type", "reference").field("ref", hex(ref.ref())).endObject();
                }
            }
            json.endArray();
            json.field("hasPath", m.commit().hasPath());
        }
    }

    private void proposal(JsonWriter json, Proposal p) {
        json.beginObject().field("type", Proposal.typeName(p.type()));
        switch (p) {
            case Proposal.Add add -> keyPackage(json, add.keyPackage());
            case Proposal.Remove remove -> json.field("removed", remove.removed());
            default -> { }
        }
        json.endObject();
    }

    private void groupInfo(JsonWriter json, GroupInfo m) {
        GroupContext c = m.groupContext();
        json.field("cipherSuite", c.cipherSuite()).field("cipherSuiteName", suiteName(c.cipherSuite()));
        json.field("groupId", hex(c.groupId())).name("epoch").unsignedValue(c.epoch());
        json.field("treeHash", hex(c.treeHash())).field("confirmedTranscriptHash", hex(c.confirmedTranscriptHash()));
        json.field("signer", m.signer());
        json.field("externalPub", m.hasExternalPub()).field("ratchetTree", m.hasRatchetTree());
        extensionTypes(json, "groupContextExtensions", c.extensions());
        extensionTypes(json, "extensions", m.extensions());
    }

    private void keyPackage(JsonWriter json, KeyPackage kp) {
        LeafNode leaf = kp.leafNode();
        json.field("cipherSuite", kp.cipherSuite()).field("cipherSuiteName", suiteName(kp.cipherSuite()));
        json.field("keyPackageRef", kp.suite().isPresent() ? hex(kp.ref()) : null);
        json.field("deviceId", kp.deviceId());
        json.field("credentialType", leaf.credentialType() == Credential.BASIC ? "basic" : "x509");
        json.field("identity", kp.identityString());
        if (leaf.lifetime() != null) {
            long notBefore = leaf.lifetime().notBefore();
            long notAfter = leaf.lifetime().notAfter();
            json.name("notBefore").unsignedValue(notBefore).name("notAfter").unsignedValue(notAfter);
            json.field("notBeforeTime", rfc3339(notBefore)).field("notAfterTime", rfc3339(notAfter));
        }
        json.field("lastResort", kp.isLastResort());
        extensionTypes(json, "extensions", kp.extensions());
        extensionTypes(json, "leafNodeExtensions", leaf.extensions());
        try {
            validator.validate(kp, null);
            json.field("valid", true).name("rule").value((String) null).name("reason").value((String) null);
        } catch (InvalidKeyPackageException e) {
            json.field("valid", false).field("rule", e.rule()).field("reason", e.getMessage());
        }
    }

    private static void extensionTypes(JsonWriter json, String name, List<Extension> extensions) {
        json.name(name).beginArray();
        extensions.forEach(e -> json.value(e.type()));
        json.endArray();
    }

    private static String suiteName(int id) {
        return CipherSuite.byId(id).map(Enum::name).orElse(null);
    }

    private static String rfc3339(long unsignedSeconds) {
        if (unsignedSeconds < 0 || unsignedSeconds > MAX_RFC_3339_SECONDS) {
            return null;
        }
        return RFC_3339.format(Instant.ofEpochSecond(unsignedSeconds));
    }

    private static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }

    private static Result error(MlsDecodeException e) {
        return new Result(new JsonWriter().beginObject().field("error", e.reason()).field("offset", e.offset())
                .endObject().toString(), MALFORMED);
    }

    /**
     * Hex if the text is non-empty, only hex digits and of even length; otherwise base64. Errors use
     * {@link MlsDecodeException} with the character offset in the text.
     */
    static byte[] decodeText(String text) {
        if (text.isEmpty()) {
            throw new MlsDecodeException("input: empty", 0);
        }
        boolean hex = (text.length() & 1) == 0;
        for (int i = 0; i < text.length() && hex; i++) {
            hex = Character.digit(text.charAt(i), 16) >= 0;
        }
        if (hex) {
            return HexFormat.of().parseHex(text);
        }
        String body = text;
        int padding = 0;
        while (body.endsWith("=") && padding < 2) {
            body = body.substring(0, body.length() - 1);
            padding++;
        }
        for (int i = 0; i < body.length(); i++) {
            char c = body.charAt(i);
            boolean ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '+' || c == '/' || c == '-' || c == '_';
            if (!ok) {
                throw new MlsDecodeException("input: neither hex nor base64 (character '" + c + "')", i);
            }
        }
        if (body.length() % 4 == 1 || (padding > 0 && (body.length() + padding) % 4 != 0)) {
            throw new MlsDecodeException("input: base64 text has an impossible length " + text.length(), text.length());
        }
        return Base64.getDecoder().decode(body.replace('-', '+').replace('_', '/'));
    }
}
