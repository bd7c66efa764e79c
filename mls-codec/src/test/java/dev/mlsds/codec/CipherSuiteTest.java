package dev.mlsds.codec;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The cipher-suite table: the seven RFC 9420 suites plus 0x004D and 0xF031, lookups by id, name and text. */
class CipherSuiteTest {
    @Test
    void tableCoversTheRfcSuitesAndTheTwoDeployedOnes() {
        assertThat(CipherSuite.values()).extracting(CipherSuite::id)
                .containsExactly(1, 2, 3, 4, 5, 6, 7, 0x004D, 0xF031);
        assertThat(CipherSuite.byId(0x004D)).contains(CipherSuite.MLS_256_XWING_CHACHA20POLY1305_SHA256_Ed25519);
        assertThat(CipherSuite.byId(0xF031).orElseThrow().signatureScheme()).isEqualTo(CipherSuite.SignatureScheme.ED25519);
        assertThat(CipherSuite.byId(0xF031).orElseThrow().refLength()).isEqualTo(32);
        assertThat(CipherSuite.byId(8)).isEmpty();
    }

    @Test
    void hashesAndSchemesFollowRfc9420Section17() {
        assertThat(CipherSuite.byId(4).orElseThrow().hash()).isEqualTo(CipherSuite.Hash.SHA512);
        assertThat(CipherSuite.byId(5).orElseThrow().signatureScheme()).isEqualTo(CipherSuite.SignatureScheme.ECDSA_SECP521R1_SHA512);
        assertThat(CipherSuite.byId(7).orElseThrow().refLength()).isEqualTo(48);
        assertThat(CipherSuite.byId(2).orElseThrow().hash().jcaName()).isEqualTo("SHA-256");
    }

    @Test
    void parsesNamesAndNumbers() {
        CipherSuite mti = CipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
        assertThat(CipherSuite.byName("MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519")).contains(mti);
        assertThat(CipherSuite.parse("MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519")).contains(mti);
        assertThat(CipherSuite.parse("1")).contains(mti);
        assertThat(CipherSuite.parse("0x0001")).contains(mti);
        assertThat(CipherSuite.parse("0xF031")).contains(CipherSuite.MLS_128_X25519Kyber768Draft00_AES128GCM_SHA256_Ed25519);
        assertThat(CipherSuite.parse("mls_128_dhkemx25519_aes128gcm_sha256_ed25519")).isEmpty();
        assertThat(CipherSuite.parse("")).isEmpty();
        assertThat(CipherSuite.parse(null)).isEmpty();
        assertThat(CipherSuite.parse("nine")).isEmpty();
    }
}
