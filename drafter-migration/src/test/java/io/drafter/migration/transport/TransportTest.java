package io.drafter.migration.transport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.migration.testing.Loopback;
import io.drafter.migration.testing.TestCerts;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TransportTest {
    static TransportSecurity tls(TestCerts.Peer p) throws IOException {
        return TransportSecurity.tls(PemTls.context(p.chain(), p.key(), p.ca()));
    }

    @Test
    void mutualTlsConnectsWithTls13() throws Exception {
        var certs = TestCerts.shared();
        Loopback.Pair pair = Loopback.pair(tls(certs.source()), tls(certs.destination()));
        try {
            assertTrue(pair.source().authenticatedTransport());
            assertTrue(pair.destination().authenticatedTransport());
            SSLSocket s = (SSLSocket) ((SocketConnection) pair.destination()).socket();
            assertEquals("TLSv1.3", s.getSession().getProtocol());
            assertTrue(s.getSession().getPeerPrincipal().getName().contains("CN=source"));
            pair.source().output().write(42);
            pair.source().output().flush();
            assertEquals(42, pair.destination().input().read());
        } finally {
            pair.source().close();
            pair.destination().close();
        }
    }

    @Test
    void peerWithCertificateOfAnotherCaIsRefused() throws Exception {
        var certs = TestCerts.shared();
        try (Transport.ConnectionListener l = Transport.listen(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), tls(certs.destination()))) {
            CompletableFuture<Connection> accepted = io.drafter.migration.testing.Migration.acceptAsync(l);
            // The rogue peer trusts the real CA, so only the server's check of the client certificate can refuse it.
            TestCerts.Peer rogue = new TestCerts.Peer(
                    certs.rogue().chain(),
                    certs.rogue().key(),
                    certs.destination().ca());
            try {
                Connection c = Transport.connect(l.address(), tls(rogue), Duration.ofSeconds(10));
                // TLS 1.3 may report the client's rejection on first use.
                c.output().write(1);
                c.output().flush();
                assertEquals(-1, c.input().read());
                c.close();
            } catch (IOException expected) {
                // Refused: how the client learns it (alert, reset, broken pipe) depends on timing.
            }
            ExecutionException e = assertThrows(ExecutionException.class, accepted::get);
            assertTrue(
                    e.getCause().getMessage().contains("could not complete TLS handshake"),
                    e.getCause().getMessage());
        }
    }

    @Test
    void clientWithoutCertificateIsRefused() throws Exception {
        var certs = TestCerts.shared();
        try (Transport.ConnectionListener l = Transport.listen(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), tls(certs.destination()))) {
            CompletableFuture<Connection> accepted = io.drafter.migration.testing.Migration.acceptAsync(l);
            try (Connection c = Transport.connect(l.address(), TransportSecurity.plainTcp(), Duration.ofSeconds(5))) {
                c.output().write("not a TLS hello at all, just bytes...".getBytes());
                c.output().flush();
            }
            ExecutionException e = assertThrows(ExecutionException.class, accepted::get);
            assertTrue(
                    e.getCause().getMessage().contains("could not complete TLS handshake"),
                    e.getCause().getMessage());
        }
    }

    @Test
    void pemErrorsNameTheFileAndTheProblem(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("missing.pem");
        IOException e = assertThrows(IOException.class, () -> PemTls.privateKey(missing));
        assertTrue(e.getMessage().contains("could not read PEM file " + missing), e.getMessage());

        Path pkcs1 = Files.writeString(
                dir.resolve("rsa.pem"), "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n");
        e = assertThrows(IOException.class, () -> PemTls.privateKey(pkcs1));
        assertTrue(e.getMessage().contains("is not PKCS#8"), e.getMessage());

        Path empty = Files.writeString(dir.resolve("empty.pem"), "hello\n");
        e = assertThrows(IOException.class, () -> PemTls.certificates(empty));
        assertTrue(e.getMessage().contains("no BEGIN CERTIFICATE block"), e.getMessage());

        Path junk = Files.writeString(
                dir.resolve("junk.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        e = assertThrows(IOException.class, () -> PemTls.privateKey(junk));
        assertTrue(e.getMessage().contains("unsupported algorithm"), e.getMessage());

        // a PEM file is a few KiB; a larger one (or an endless one, like a device) is not read whole
        Path huge = dir.resolve("huge.pem");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(huge.toFile(), "rw")) {
            f.setLength(PemTls.MAX_PEM_BYTES + 1L);
        }
        e = assertThrows(IOException.class, () -> PemTls.certificates(huge));
        assertEquals("could not read PEM file " + huge + ": larger than the limit of 1 MiB", e.getMessage());
        e = assertThrows(IOException.class, () -> PemTls.privateKey(Path.of("/dev/zero")));
        assertEquals("could not read PEM file /dev/zero: larger than the limit of 1 MiB", e.getMessage());
    }

    private static Path tokenFile(Path file, String mode, byte[] content) throws IOException {
        Files.write(file, content);
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString(mode));
        return file;
    }

    @Test
    void tokenFilesMustBePrivateAndAreReadOnlyToTheirFirstLine(@TempDir Path dir) throws Exception {
        byte[] token = "0123456789abcdef0123456789abcdef\nsecond line\n".getBytes(StandardCharsets.UTF_8);
        SharedToken expected = SharedToken.of("0123456789abcdef0123456789abcdef");
        byte[] s = new byte[32];
        byte[] d = new byte[32];
        for (String mode : new String[] {"rw-------", "r--------", "rwx--x--x"}) {
            Path ok = tokenFile(dir.resolve("ok-" + mode), mode, token);
            assertTrue(SharedToken.fromFile(ok).verify(expected.proof("source", s, d), "source", s, d), mode);
        }
        String[][] refused = {
            {"rw-r--r--", "0644"},
            {"rw-r-----", "0640"},
            {"rw--w----", "0620"},
            {"rw----r--", "0604"},
            {"rw-----w-", "0602"}
        };
        for (String[] m : refused) {
            Path shared = tokenFile(dir.resolve("shared-" + m[1]), m[0], token);
            assertEquals(
                    "could not use token file " + shared + ": it is readable or writable by group or others (mode "
                            + m[1] + "); make it private with: chmod 600 " + shared,
                    assertThrows(IOException.class, () -> SharedToken.fromFile(shared))
                            .getMessage());
        }

        // only the first line is read, and only up to the limit: a huge file after it costs nothing
        Path huge = tokenFile(dir.resolve("huge"), "rw-------", token);
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(huge.toFile(), "rw")) {
            f.setLength(1L << 40);
        }
        assertTrue(SharedToken.fromFile(huge).verify(expected.proof("source", s, d), "source", s, d));
        byte[] longLine = new byte[SharedToken.MAX_LINE_BYTES + 1];
        java.util.Arrays.fill(longLine, (byte) 'x');
        Path tooLong = tokenFile(dir.resolve("long"), "rw-------", longLine);
        assertEquals(
                "could not use token file " + tooLong + ": its first line is longer than the limit of 4096 bytes",
                assertThrows(IOException.class, () -> SharedToken.fromFile(tooLong))
                        .getMessage());
        Path binary = tokenFile(dir.resolve("binary"), "rw-------", new byte[] {(byte) 0xff, (byte) 0xfe, 1, 2});
        assertEquals(
                "could not use token file " + binary + ": its first line is not UTF-8 text",
                assertThrows(IOException.class, () -> SharedToken.fromFile(binary))
                        .getMessage());
        Path missing = dir.resolve("missing");
        assertEquals(
                "could not read token file " + missing + ": no such file",
                assertThrows(IOException.class, () -> SharedToken.fromFile(missing))
                        .getMessage());
    }

    @Test
    void tokenProofsAreBoundToRoleAndNonces() {
        SharedToken t = SharedToken.of("0123456789abcdef-token");
        byte[] s = new byte[32];
        byte[] d = new byte[32];
        d[0] = 1;
        byte[] proof = t.proof("source", s, d);
        assertTrue(t.verify(proof, "source", s, d));
        assertFalse(t.verify(proof, "destination", s, d), "a source proof cannot be reflected as the destination's");
        assertFalse(t.verify(proof, "source", d, s), "bound to the nonces");
        assertFalse(SharedToken.of("another-token-of-16").verify(proof, "source", s, d));
        assertArrayEquals(proof, t.proof("source", s, d));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SharedToken.of("short"));
        assertTrue(e.getMessage().contains("at least 16"), e.getMessage());
    }
}
