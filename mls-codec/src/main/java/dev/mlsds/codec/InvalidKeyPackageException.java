package dev.mlsds.codec;

/**
 * A KeyPackage failed one of {@link KeyPackageValidator}'s rules. {@link #rule()} is a stable code
 * (one of {@link KeyPackageValidator}'s {@code RULE_*} constants) for metrics and tests; the message
 * starts with the rule and says what was found, for the client.
 */
public final class InvalidKeyPackageException extends RuntimeException {
    private final String rule;

    public InvalidKeyPackageException(String rule, String detail) {
        super(rule + ": " + detail);
        this.rule = rule;
    }

    public String rule() {
        return rule;
    }
}
