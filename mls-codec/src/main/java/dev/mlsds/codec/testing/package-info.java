/**
 * Test support, shipped in the main jar so the server's tests and the benchmarks can use it: builders
 * of correctly signed KeyPackages ({@link dev.mlsds.codec.testing.TestKeyPackages},
 * {@link dev.mlsds.codec.testing.SigningKey}) and of well-formed messages with chosen headers
 * ({@link dev.mlsds.codec.testing.TestMessages}). Production code must not use this package.
 */
package dev.mlsds.codec.testing;
