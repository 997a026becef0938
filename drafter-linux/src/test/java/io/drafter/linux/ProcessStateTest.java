package io.drafter.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.base.testing.Zombie;
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

    @Test
    void aZombieDoesNotRunThoughIsAliveSaysItDoes() throws Exception {
        try (Zombie zombie = Zombie.start()) {
            assertTrue(
                    ProcessHandle.of(zombie.pid()).map(ProcessHandle::isAlive).orElse(false), "a zombie is 'alive'");
            assertFalse(ProcessState.runs(zombie.pid()));
        }
    }
}
