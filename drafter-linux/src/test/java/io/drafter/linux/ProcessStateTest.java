package io.drafter.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link ProcessState#runs}: a running process runs; a gone one and a zombie, which {@code isAlive} counts, do not. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class ProcessStateTest {
    @Test
    void thisProcessRuns() {
        assertTrue(ProcessState.runs(ProcessHandle.current().pid()));
    }

    @Test
    void aProcessThatEndedAndWasReapedDoesNotRun() throws Exception {
        Process p = new ProcessBuilder("true").start();
        assertEquals(0, p.waitFor());
        assertFalse(ProcessState.runs(p.pid()));
    }

    /**
     * A shell whose background child is a zombie for 30 s: the child waits until its parent has exec'd {@code sleep},
     * which never reaps it, then ends. (A child that ends before the exec may be reaped by bash itself.)
     */
    private static final String ZOMBIE =
            "( while c=$(cat /proc/$$/comm 2>/dev/null) && [ \"$c\" != sleep ]; do sleep 0.01;"
                    + " done ) & echo $!; exec sleep 30";

    @Test
    void aZombieDoesNotRunThoughIsAliveSaysItDoes() throws Exception {
        Process parent = new ProcessBuilder("bash", "-c", ZOMBIE).start();
        try {
            long zombie;
            try (BufferedReader out =
                    new BufferedReader(new InputStreamReader(parent.getInputStream(), StandardCharsets.US_ASCII))) {
                zombie = Long.parseLong(out.readLine().strip());
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (ProcessState.runs(zombie) && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
            }
            assertTrue(ProcessHandle.of(zombie).map(ProcessHandle::isAlive).orElse(false), "a zombie is 'alive'");
            assertFalse(ProcessState.runs(zombie));
        } finally {
            parent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
