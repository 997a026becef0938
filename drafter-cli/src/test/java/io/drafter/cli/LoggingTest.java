package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

@Timeout(60)
class LoggingTest {
    private static final String LINE =
            "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z (ERROR|WARN |INFO |DEBUG|TRACE) [A-Za-z0-9$]+: .*";

    @TempDir
    Path dir;

    private final ByteArrayOutputStream captured = new ByteArrayOutputStream();
    private final PrintStream capture = new PrintStream(captured, true, StandardCharsets.UTF_8);

    @AfterEach
    void restore() {
        LogSetup.configure(LogSetup.LogLevel.INFO);
    }

    private String logged() {
        return captured.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aRecordIsOneLineWithTimeLevelComponentAndMessage() {
        LogSetup.configure(LogSetup.LogLevel.INFO, () -> capture);
        System.getLogger("io.drafter.peer.Peer").log(System.Logger.Level.INFO, "resumed VM in {0} ms", 290);
        System.getLogger("io.drafter.vm.qemu.QemuVmm")
                .log(System.Logger.Level.WARNING, "AfterResume failed", new IllegalStateException("agent\ngone"));
        var lines = logged().lines().toList();
        assertEquals(2, lines.size(), logged());
        assertTrue(lines.get(0).matches(LINE), lines.get(0));
        assertTrue(lines.get(0).endsWith(" INFO  Peer: resumed VM in 290 ms"), lines.get(0));
        assertTrue(
                lines.get(1)
                        .endsWith(" WARN  QemuVmm: AfterResume failed: java.lang.IllegalStateException: agent gone"),
                lines.get(1));
    }

    @Test
    void aCommandsEventsAreLinesOfTheSameFormat() {
        LogSetup.events(capture, "peer").println("Resumed VM in 290 ms");
        String line = logged().strip();
        assertTrue(line.matches(LINE), line);
        assertTrue(line.endsWith(" INFO  peer: Resumed VM in 290 ms"), line);
    }

    @Test
    void theLevelFiltersRecords() {
        LogSetup.configure(LogSetup.LogLevel.WARN, () -> capture);
        System.Logger log = System.getLogger("io.drafter.test.Component");
        log.log(System.Logger.Level.INFO, "not shown");
        log.log(System.Logger.Level.WARNING, "shown");
        assertFalse(logged().contains("not shown"), logged());
        assertTrue(logged().contains("WARN  Component: shown"), logged());

        LogSetup.configure(LogSetup.LogLevel.DEBUG, () -> capture);
        log.log(System.Logger.Level.DEBUG, "detail");
        assertTrue(logged().contains("DEBUG Component: detail"), logged());

        LogSetup.configure(LogSetup.LogLevel.ERROR, () -> capture);
        log.log(System.Logger.Level.WARNING, "quiet now");
        assertFalse(logged().contains("quiet now"), logged());
    }

    @ParameterizedTest
    @CsvSource({
        "'packager', WARN",
        "'os', WARN",
        "'peer', INFO",
        "'nat', INFO",
        "'peer --log-level debug', DEBUG",
        "'peer -log-level error', ERROR",
        "'--log-level warn peer', WARN",
        "'packager --log-level INFO', INFO"
    })
    void theLevelOptionAndTheDefaults(String args, LogSetup.LogLevel expected) {
        var cli = Drafter.commandLine();
        var parsed = cli.parseArgs(args.split(" "));
        assertEquals(expected, Drafter.logLevel(parsed));
    }

    @Test
    void aBadLevelIsOneClearLine() {
        StringWriter err = new StringWriter();
        var cli = Drafter.commandLine();
        cli.setErr(new PrintWriter(err));
        assertEquals(2, cli.execute("peer", "--log-level", "loud"));
        assertTrue(err.toString().startsWith("drafter: "), err.toString());
        assertTrue(err.toString().contains("loud"), err.toString());
    }

    @Test
    void theEnginesFailureRecordIsDebugOnly() {
        var r = new LogRecord(Level.WARNING, "could not migrate from 1.2.3.4:5 (phase HANDSHAKE): closed");
        r.setLoggerName("io.drafter.migration.destination.MigrationDestination");
        assertTrue(LogSetup.echoOfReportedFailure(r));
        r.setLoggerName("io.drafter.migration.source.MigrationListener");
        assertFalse(LogSetup.echoOfReportedFailure(r));
        var peer = new LogRecord(Level.WARNING, "migration failed before the hand-over; the VM runs here again");
        peer.setLoggerName("io.drafter.peer.Peer");
        assertTrue(LogSetup.echoOfReportedFailure(peer));
        var other = new LogRecord(Level.WARNING, "could not flush guest memory during pre-copy: gone");
        other.setLoggerName("io.drafter.peer.Peer");
        assertFalse(LogSetup.echoOfReportedFailure(other));
    }

    /** A migration in whose source hangs up: the failure is printed once, as the drafter: line. */
    @Test
    void aFailureIsPrintedOnce() throws Exception {
        PrintStream oldErr = System.err;
        try (ServerSocket source = new ServerSocket(0)) {
            Thread.ofVirtual().start(() -> {
                try (Socket s = source.accept()) {
                    s.getOutputStream().write("not a drafter peer\n".getBytes(StandardCharsets.UTF_8));
                } catch (Exception e) {
                    // the test sees the failure on the peer's side
                }
            });
            Path token = PeerCommandTest.privateTokenFile(dir.resolve("token"), "0123456789abcdef0123456789abcdef");
            System.setErr(capture);
            StringWriter err = new StringWriter();
            var cli = Drafter.commandLine();
            cli.setErr(new PrintWriter(err));
            int code = cli.execute(
                    "peer",
                    "--raddr",
                    "127.0.0.1:" + source.getLocalPort(),
                    "--laddr",
                    "",
                    "--netns",
                    "",
                    "--token-file",
                    token.toString(),
                    "--chroot-base-dir",
                    dir.resolve("vms").toString(),
                    "--devices",
                    "[{\"name\":\"m\",\"base\":\"" + dir.resolve("m") + "\"}]");
            System.setErr(oldErr);
            assertEquals(1, code, err + logged());
            String all = err + logged();
            assertEquals(1, err.toString().lines().count(), all);
            assertTrue(err.toString().startsWith("drafter: could not migrate from"), all);
            assertEquals(
                    1, all.lines().filter(l -> l.contains("could not migrate")).count(), all);
        } finally {
            System.setErr(oldErr);
        }
    }
}
