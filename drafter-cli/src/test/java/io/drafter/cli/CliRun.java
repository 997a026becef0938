package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs {@code drafter} in this JVM and checks its errors: what the command tests share. */
final class CliRun {
    private CliRun() {}

    /** Runs {@code drafter args}; returns {exit code, what it wrote on stderr}. */
    static String[] run(String... args) {
        StringWriter err = new StringWriter();
        var cli = Drafter.commandLine();
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new String[] {Integer.toString(code), err.toString()};
    }

    /** Exit 1 and one line, {@code drafter: ...}, that holds {@code contains}. */
    static void assertOneLine(String[] r, String contains) {
        assertOneLine(r, contains, "1");
    }

    /** Exit 2 for a value picocli itself cannot convert (then a second line points to --help), 1 otherwise. */
    static void assertOneLine(String[] r, String contains, String code) {
        assertEquals(code, r[0], r[1]);
        if (code.equals("2")) {
            assertTrue(r[1].lines().findFirst().orElse("").contains(contains), r[1]);
            assertTrue(r[1].lines().skip(1).allMatch(l -> l.contains("--help")), r[1]);
            return;
        }
        assertTrue(r[1].startsWith("drafter: "), r[1]);
        assertTrue(r[1].contains(contains), r[1]);
        assertEquals(1, r[1].strip().lines().count(), r[1]);
    }
}
