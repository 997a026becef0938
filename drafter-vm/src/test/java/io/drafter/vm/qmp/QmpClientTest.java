package io.drafter.vm.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.vm.testing.TestGuest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The QMP client against a real QEMU (no guest: {@code -machine none}). */
class QmpClientTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(30)
    void commandsEventsErrorsAndQuit() throws Exception {
        TestGuest.assumeQemu();
        Path sock = tmp.resolve("qmp.sock");
        Process p = startQemu(sock);
        try (QmpClient qmp = QmpClient.connect(sock, Duration.ofSeconds(10), p::isAlive)) {
            assertEquals(
                    "prelaunch",
                    qmp.execute(new QmpCommand.QueryStatus(), Duration.ofSeconds(5))
                            .path("status")
                            .asText());
            qmp.execute(new QmpCommand.Cont(), Duration.ofSeconds(5));
            QmpEvent resume = qmp.awaitEvent(e -> e.name().equals("RESUME"), Duration.ofSeconds(5));
            assertTrue(resume.timestampMicros() > 0);
            qmp.execute(new QmpCommand.Stop(), Duration.ofSeconds(5));
            qmp.awaitEvent(e -> e.name().equals("STOP"), Duration.ofSeconds(5));
            // A second cont and stop: QEMU sends each event before the command's answer, so both are buffered now and
            // can be dropped unread, each kind on its own.
            qmp.execute(new QmpCommand.Cont(), Duration.ofSeconds(5));
            qmp.execute(new QmpCommand.Stop(), Duration.ofSeconds(5));
            assertEquals(1, qmp.discardEvents(e -> e.name().equals("STOP")));
            assertEquals(0, qmp.discardEvents(e -> e.name().equals("STOP")));
            assertEquals(1, qmp.discardEvents(e -> e.name().equals("RESUME")));
            qmp.execute(new QmpCommand.MigrateSetCapabilities(Map.of("x-ignore-shared", true)), Duration.ofSeconds(5));
            QmpException bad = assertThrows(
                    QmpException.class,
                    () -> qmp.execute(new QmpCommand.MigrateIncoming("file:/nonexistent"), Duration.ofSeconds(5)));
            assertTrue(bad.getMessage().startsWith("could not run QMP migrate-incoming: "), bad.getMessage());
            QmpException noEvent = assertThrows(
                    QmpException.class, () -> qmp.awaitEvent(e -> e.name().equals("NEVER"), Duration.ofMillis(100)));
            assertTrue(noEvent.getMessage().contains("within"), noEvent.getMessage());
            qmp.execute(new QmpCommand.Quit(), Duration.ofSeconds(5));
            assertTrue(p.waitFor(10, TimeUnit.SECONDS));
            QmpException closed = assertThrows(
                    QmpException.class, () -> qmp.execute(new QmpCommand.QueryStatus(), Duration.ofSeconds(2)));
            assertTrue(closed.getMessage().startsWith("could not"), closed.getMessage());
            assertFalse(qmp.isOpen());
        } finally {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
    }

    @Test
    @Timeout(30)
    void submittedCommandsRunInOrderAndEachAnswerIsTakenOnItsOwn() throws Exception {
        TestGuest.assumeQemu();
        Path sock = tmp.resolve("qmp.sock");
        Process p = startQemu(sock);
        try (QmpClient qmp = QmpClient.connect(sock, Duration.ofSeconds(10), p::isAlive)) {
            // Three commands back to back: QEMU runs them in order, so the status asked last sees the cont before it.
            QmpClient.Reply cont = qmp.submit(new QmpCommand.Cont());
            QmpClient.Reply bad = qmp.submit(new QmpCommand.MigrateIncoming("file:/nonexistent"));
            QmpClient.Reply status = qmp.submit(new QmpCommand.QueryStatus());
            assertEquals(
                    "running",
                    status.await(Duration.ofSeconds(5)).path("status").asText());
            QmpException e = assertThrows(QmpException.class, () -> bad.await(Duration.ofSeconds(5)));
            assertTrue(e.getMessage().startsWith("could not run QMP migrate-incoming: "), e.getMessage());
            assertTrue(cont.await(Duration.ofSeconds(5)).isObject());
            qmp.execute(new QmpCommand.Quit(), Duration.ofSeconds(5));
            assertTrue(p.waitFor(10, TimeUnit.SECONDS));
            assertThrows(QmpException.class, () -> qmp.submit(new QmpCommand.QueryStatus()));
        } finally {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
    }

    /** A QEMU with no guest ({@code -machine none}, {@code -S}) serving QMP on {@code sock}. */
    private Process startQemu(Path sock) throws java.io.IOException {
        return new ProcessBuilder(
                        "qemu-system-x86_64",
                        "-machine",
                        "none",
                        "-nodefaults",
                        "-display",
                        "none",
                        "-S",
                        "-qmp",
                        "unix:" + sock + ",server=on,wait=off")
                .redirectErrorStream(true)
                .redirectOutput(tmp.resolve("qemu.log").toFile())
                .start();
    }

    @Test
    @Timeout(30)
    void connectGivesUpWhenQemuIsNotThere() {
        Path sock = tmp.resolve("none.sock");
        QmpException e =
                assertThrows(QmpException.class, () -> QmpClient.connect(sock, Duration.ofMillis(200), () -> true));
        assertTrue(e.getMessage().startsWith("could not connect to QMP socket " + sock), e.getMessage());
        e = assertThrows(QmpException.class, () -> QmpClient.connect(sock, Duration.ofSeconds(5), () -> false));
        assertTrue(e.getMessage().contains("QEMU exited"), e.getMessage());
    }
}
