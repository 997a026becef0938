package io.drafter.migration.transport;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.drafter.fuzz.FuzzRun;
import io.drafter.fuzz.FuzzTarget;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Fuzz targets of PEM loading ({@link PemTls#certificates} and {@link PemTls#privateKey}): the file as text ({@code
 * pem}), and DER bytes put in {@code CERTIFICATE} and {@code PRIVATE KEY} blocks ({@code pem-der}), which reach the
 * JDK's X.509 and PKCS#8 parsers more often than mutated base64 does. Both may only refuse with an {@link
 * IOException} of one line.
 */
class PemFuzzTest {
    static final List<String> DICTIONARY = List.of(
            "-----BEGIN CERTIFICATE-----\n",
            "-----END CERTIFICATE-----\n",
            "-----BEGIN PRIVATE KEY-----\n",
            "-----END PRIVATE KEY-----\n",
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----",
            "-----END ",
            "====",
            "\r\n");

    private static final Path FILE = temporaryFile();

    static final FuzzTarget PEM =
            new FuzzTarget("pem", PemFuzzTest::load, FuzzTarget.oneLine(IOException.class), 8 << 20);

    static final FuzzTarget PEM_DER = new FuzzTarget(
            "pem-der",
            der -> {
                load((PemTls.toPem("CERTIFICATE", der) + PemTls.toPem("PRIVATE KEY", der))
                        .getBytes(StandardCharsets.US_ASCII));
            },
            FuzzTarget.oneLine(IOException.class),
            8 << 20);

    static void load(byte[] pem) throws IOException {
        Files.write(FILE, pem);
        try {
            PemTls.certificates(FILE);
        } finally {
            PemTls.privateKey(FILE);
        }
    }

    private static Path temporaryFile() {
        try {
            Path dir = Files.createTempDirectory("pem-fuzz");
            dir.toFile().deleteOnExit();
            Path file = dir.resolve("fuzz.pem");
            file.toFile().deleteOnExit();
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest
    void pem(byte[] text) {
        PEM.run(text);
    }

    @FuzzTest
    void der(byte[] der) {
        PEM_DER.run(der);
    }

    @Test
    void pemShortRun() {
        System.out.println(FuzzRun.run(
                PEM,
                FuzzRun.corpus(PemFuzzTest.class, "pem"),
                DICTIONARY,
                FuzzRun.seed(),
                2_000,
                Duration.ofSeconds(5)));
    }

    @Test
    void derShortRun() {
        System.out.println(FuzzRun.run(
                PEM_DER,
                FuzzRun.corpus(PemFuzzTest.class, "der"),
                List.of(),
                FuzzRun.seed(),
                2_000,
                Duration.ofSeconds(5)));
    }
}
