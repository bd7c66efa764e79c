package dev.mlsds.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mlsds.e2e.SeedDecoding.SeedDecodeException;
import dev.mlsds.e2e.SeedTypes.GetKeyPackagesOutput;
import dev.mlsds.e2e.SeedTypes.GetMessagesOutput;
import dev.mlsds.e2e.SeedTypes.GetWelcomeOutput;
import dev.mlsds.e2e.SeedTypes.InfoEvent;
import dev.mlsds.e2e.SeedTypes.MessageEvent;
import dev.mlsds.e2e.SeedTypes.StreamEvent;
import dev.mlsds.e2e.SeedTypes.UnknownEvent;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/**
 * The seed-era client emulator can fail: its decoders reject what the 2025 Swift client rejected (unpadded or URL
 * alphabet {@code $bytes}, {@code $bytes} where the seed has a string, missing required fields, wrong JSON types,
 * SSE data without {@code $type}) and accept what it accepted (unknown fields, absent optional fields, both base64
 * alphabets in the app's base64url strings).
 */
class SeedDecodingTest {
  // 1, 2 and 3 bytes: every residue mod 3, so padding of 2, 1 and 0 characters.
  private static final byte[] ONE = {(byte) 0xfb};
  private static final byte[] TWO = {(byte) 0xfb, (byte) 0xff};
  private static final byte[] THREE = {(byte) 0xfb, (byte) 0xff, (byte) 0xbf};

  private static JsonNode json(String s) {
    try {
      return User.JSON.readTree(s.replace('\'', '"'));
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void foundationBase64AcceptsOnlyPaddedStandardBase64() {
    assertThat(SeedDecoding.foundationBase64("+w==")).isEqualTo(ONE);
    assertThat(SeedDecoding.foundationBase64("+/8=")).isEqualTo(TWO);
    assertThat(SeedDecoding.foundationBase64("+/+/")).isEqualTo(THREE);
    assertThat(SeedDecoding.foundationBase64("")).isEmpty();

    assertThat(SeedDecoding.foundationBase64("+w")).as("unpadded, 1 byte").isNull();
    assertThat(SeedDecoding.foundationBase64("+/8")).as("unpadded, 2 bytes").isNull();
    assertThat(SeedDecoding.foundationBase64("-w==")).as("URL alphabet").isNull();
    assertThat(SeedDecoding.foundationBase64("_/8=")).as("URL alphabet").isNull();
    assertThat(SeedDecoding.foundationBase64("+w=")).as("short padding").isNull();
    assertThat(SeedDecoding.foundationBase64("+===")).as("three pad characters").isNull();
    assertThat(SeedDecoding.foundationBase64("+w=a")).as("padding inside").isNull();
    assertThat(SeedDecoding.foundationBase64("+/8= ")).as("whitespace").isNull();
    assertThat(SeedDecoding.foundationBase64("+/\n+/")).as("line break").isNull();
  }

  @Test
  void theAppsBase64UrlHelperAcceptsBothAlphabetsPaddedOrNot() {
    for (byte[] data : new byte[][] {ONE, TWO, THREE}) {
      String std = Base64.getEncoder().encodeToString(data);
      String url = Base64.getUrlEncoder().encodeToString(data);
      assertThat(SeedDecoding.appBase64Url(std)).isEqualTo(data);
      assertThat(SeedDecoding.appBase64Url(url)).isEqualTo(data);
      assertThat(SeedDecoding.appBase64Url(Base64.getEncoder().withoutPadding().encodeToString(data))).isEqualTo(data);
      assertThat(SeedDecoding.appBase64Url(SeedDecoding.base64UrlNoPad(data))).isEqualTo(data);
    }
    assertThat(SeedDecoding.appBase64Url("+")).as("a length of 1 mod 4 is never base64").isNull();
    assertThat(SeedDecoding.appBase64Url("+w==x")).isNull();
    assertThat(SeedDecoding.appBase64Url("{\"$bytes\":\"+w==\"}")).isNull();
  }

  @Test
  void bytesMustBePaddedStandardBase64InABytesObject() {
    String view = "{'id':'m1','convoId':'c','sender':'did:plc:abc','ciphertext':{'$bytes':'%s'},'epoch':1,'seq':1,"
        + "'createdAt':'2025-11-01T10:00:00.000Z'}";
    assertThat(GetMessagesOutput.decode(json("{'messages':[" + view.formatted("+w==") + "]}")).messages().get(0).ciphertext())
        .isEqualTo(ONE);
    assertThatThrownBy(() -> GetMessagesOutput.decode(json("{'messages':[" + view.formatted("+w") + "]}")))
        .isInstanceOf(SeedDecodeException.class).hasMessageContaining("getMessages.messages[0].ciphertext.$bytes");
    // One undecodable item fails the whole page, as Swift's array decoding does.
    assertThatThrownBy(() -> GetMessagesOutput.decode(json("{'messages':[" + view.formatted("+/+/") + "," + view.formatted("+/8")
        + "]}"))).isInstanceOf(SeedDecodeException.class).hasMessageContaining("messages[1]");
    assertThatThrownBy(() -> GetMessagesOutput.decode(json("{'messages':[" + view.replace("{'$bytes':'%s'}", "'+w=='") + "]}")))
        .as("a string where the seed has bytes").isInstanceOf(SeedDecodeException.class).hasMessageContaining("expected an object");
  }

  @Test
  void binaryFieldsTheSeedTypesAsStringsMustBeStrings() {
    assertThat(GetWelcomeOutput.decode(json("{'convoId':'c','welcome':'-_8'}")).welcome()).isEqualTo(new byte[] {(byte) 0xfb, (byte) 0xff});
    assertThatThrownBy(() -> GetWelcomeOutput.decode(json("{'convoId':'c','welcome':{'$bytes':'+/8='}}")))
        .isInstanceOf(SeedDecodeException.class).hasMessageContaining("getWelcome.welcome").hasMessageContaining("expected a string");
    String kp = "{'keyPackages':[{'did':'did:plc:abc','keyPackage':%s,'cipherSuite':'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'}]}";
    assertThat(GetKeyPackagesOutput.decode(json(kp.formatted("'-w'"))).keyPackages().get(0).keyPackage()).isEqualTo(ONE);
    assertThatThrownBy(() -> GetKeyPackagesOutput.decode(json(kp.formatted("{'$bytes':'+w=='}"))))
        .isInstanceOf(SeedDecodeException.class).hasMessageContaining("keyPackages[0].keyPackage");
  }

  @Test
  void requiredFieldsAndTypesAreExactUnknownFieldsAreIgnored() {
    String ok = "{'convoId':'c','currentEpoch':3,'extra':{'anything':[1,2]}}";
    assertThat(SeedTypes.GetEpochOutput.decode(json(ok)).currentEpoch()).isEqualTo(3);
    assertThatThrownBy(() -> SeedTypes.GetEpochOutput.decode(json("{'convoId':'c'}")))
        .isInstanceOf(SeedDecodeException.class).hasMessageContaining("getEpoch.currentEpoch: required field missing");
    assertThatThrownBy(() -> SeedTypes.GetEpochOutput.decode(json("{'convoId':'c','currentEpoch':null}")))
        .isInstanceOf(SeedDecodeException.class).hasMessageContaining("required field missing");
    assertThatThrownBy(() -> SeedTypes.GetEpochOutput.decode(json("{'convoId':'c','currentEpoch':'3'}")))
        .isInstanceOf(SeedDecodeException.class).hasMessageContaining("expected an integer");
    assertThatThrownBy(() -> SeedTypes.GetEpochOutput.decode(json("{'convoId':'c','currentEpoch':3.5}")))
        .isInstanceOf(SeedDecodeException.class).hasMessageContaining("expected an integer");
    assertThatThrownBy(() -> SeedTypes.EpochChange.decode(json("{'success':true}"), "leaveConvo"))
        .as("leaveConvo without newEpoch").isInstanceOf(SeedDecodeException.class).hasMessageContaining("leaveConvo.newEpoch");
    assertThatThrownBy(() -> SeedTypes.EpochChange.decode(json("{'success':'true','newEpoch':2}"), "addMembers"))
        .isInstanceOf(SeedDecodeException.class).hasMessageContaining("expected a boolean");
  }

  @Test
  void optionalFieldsMayBeAbsentOrNullButMustDecodeWhenPresent() {
    String convo = "{'id':'c','groupId':'ab','creator':'did:plc:abc','members':[{'did':'did:plc:abc','joinedAt':"
        + "'2025-11-01T10:00:00Z'%s}],'epoch':0,'cipherSuite':'s','createdAt':'2025-11-01T10:00:00.123Z'%s}";
    assertThat(SeedTypes.ConvoView.decode(json(convo.formatted("", "")), "c").metadata()).isNull();
    assertThat(SeedTypes.ConvoView.decode(json(convo.formatted(",'leafIndex':null", ",'lastMessageAt':null")), "c").members())
        .hasSize(1);
    assertThatThrownBy(() -> SeedTypes.ConvoView.decode(json(convo.formatted(",'credential':{'$bytes':'+w'}", "")), "c"))
        .isInstanceOf(SeedDecodeException.class).hasMessageContaining("members[0].credential.$bytes");
    assertThatThrownBy(() -> SeedTypes.ConvoView.decode(json(convo.formatted("", ",'lastMessageAt':'yesterday'")), "c"))
        .isInstanceOf(SeedDecodeException.class).hasMessageContaining("lastMessageAt");
    assertThatThrownBy(() -> SeedTypes.ConvoView.decode(json(convo.formatted("", "").replace("did:plc:abc'", "plc:abc'")), "c"))
        .isInstanceOf(SeedDecodeException.class).hasMessageContaining("not a DID");
  }

  @Test
  void sseDataMustCarryTypeAndKnownTypesMustDecode() {
    StreamEvent info = StreamEvent.decode(json("{'$type':'blue.catbird.mls.streamConvoEvents#infoEvent','cursor':'7','info':'ready'}"));
    assertThat(info).isEqualTo(new InfoEvent("7", "ready"));
    assertThatThrownBy(() -> StreamEvent.decode(json("{'cursor':'7','info':'ready'}")))
        .as("no $type: the seed client drops the event").isInstanceOf(SeedDecodeException.class).hasMessageContaining("$type");
    assertThatThrownBy(() -> StreamEvent.decode(json("{'$type':'blue.catbird.mls.streamConvoEvents#infoEvent','reason':'x'}")))
        .isInstanceOf(SeedDecodeException.class).hasMessageContaining("cursor");
    assertThatThrownBy(() -> StreamEvent.decode(json("{'$type':'blue.catbird.mls.streamConvoEvents#messageEvent','cursor':'1',"
        + "'message':{'id':'m'}}"))).isInstanceOf(SeedDecodeException.class).hasMessageContaining("message.convoId");
    assertThat(StreamEvent.decode(json("{'$type':'blue.catbird.mls.defs#messageEvent','cursor':'1'}")))
        .as("a type outside the seed's union is skipped, not an error").isInstanceOf(UnknownEvent.class);
    String message = "{'$type':'blue.catbird.mls.streamConvoEvents#messageEvent','cursor':'2','message':{'id':'m','convoId':'c',"
        + "'sender':'did:web:example.com','ciphertext':{'$bytes':'+/+/'},'epoch':1,'seq':2,'createdAt':'2025-11-01T10:00:00Z'}}";
    assertThat(((MessageEvent) StreamEvent.decode(json(message))).message().ciphertext()).isEqualTo(THREE);
  }
}
