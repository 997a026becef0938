package io.drafter.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 1, unit = TimeUnit.MINUTES)
class HelperCommandTest {
    @TempDir
    Path dir;

    @Test
    void outputLargerThanAPipeIsReturnedWhole() throws Exception {
        // 1 MiB on each stream: more than a pipe holds, so reading only after the exit would block the child
        HelperCommand.Result r = HelperCommand.of(
                        "sh",
                        "-c",
                        "head -c 1048576 /dev/zero | tr '\\0' a; head -c 1048576 /dev/zero | tr '\\0' b >&2")
                .check();
        assertEquals(1 << 20, r.stdout().length());
        assertEquals(1 << 20, r.stderr().length());
        assertTrue(r.stdout().chars().allMatch(c -> c == 'a'));
    }

    @Test
    void aCommandThatRunsTooLongIsKilledWithItsChildrenAndNamed() {
        long t0 = System.nanoTime();
        HelperCommandException e = assertThrows(
                HelperCommandException.class,
                () -> HelperCommand.of("sh", "-c", "echo started; sleep 30")
                        .timeout(Duration.ofSeconds(3)) // time for the shell to start and echo on a loaded machine
                        .run());
        assertEquals(HelperCommandException.Kind.TIMED_OUT, e.kind());
        assertEquals("could not run sh: timed out after 3000 ms (sh -c echo started; sleep 30)", e.getMessage());
        assertEquals("started\n", e.stdout(), "what it wrote before it was killed");
        // the sleep held the pipe too: killed with the shell, or the output readers would wait for it
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(20), "killed, not waited for");
    }

    @Test
    void aFailingCommandReportsTheStepItsOwnErrorAndTheCommandLine() {
        HelperCommandException e = assertThrows(
                HelperCommandException.class,
                () -> HelperCommand.of("sh", "-c", "echo out; echo first >&2; echo second >&2; exit 3")
                        .step("make the thing")
                        .check());
        assertEquals(HelperCommandException.Kind.FAILED, e.kind());
        assertEquals(3, e.exitCode());
        assertEquals(
                "could not make the thing: first (sh -c echo out; echo first >&2; echo second >&2; exit 3)",
                e.getMessage());
        assertEquals("out\n", e.stdout());
        assertEquals("first\nsecond\n", e.stderr());
    }

    @Test
    void aFailureWithoutErrorOutputGivesTheExitCode() throws Exception {
        HelperCommandException e = assertThrows(
                HelperCommandException.class, () -> HelperCommand.of("false").check());
        assertEquals("could not run false: exit code 1 (false)", e.getMessage());
        HelperCommand.Result r = HelperCommand.of("false").run();
        assertFalse(r.ok(), "run() returns whatever the exit code");
        assertEquals(1, r.exitCode());
    }

    @Test
    void aMissingProgramIsNamed() {
        HelperCommandException e = assertThrows(
                HelperCommandException.class,
                () -> HelperCommand.of("no-such-program-drafter", "x").run());
        assertEquals(HelperCommandException.Kind.NOT_STARTED, e.kind());
        assertTrue(
                e.getMessage().startsWith("could not run no-such-program-drafter: Cannot run program"), e.getMessage());
        assertTrue(e.getMessage().endsWith("(no-such-program-drafter x)"), e.getMessage());
    }

    @Test
    void runsInTheGivenDirectoryWithNoInputUnlessGiven() throws Exception {
        assertEquals(
                dir.toRealPath() + "\n",
                HelperCommand.of("pwd").directory(dir).check().stdout());
        assertEquals("", HelperCommand.of("cat").check().stdout(), "standard input is /dev/null");
        assertEquals(
                "line 1\nline 2\n",
                HelperCommand.of("cat").input("line 1\nline 2\n").check().stdout());
    }

    @Test
    void inputACommandDoesNotReadCannotBlockTheCaller() throws Exception {
        String big = "x".repeat(4 << 20);
        HelperCommand.Result r = HelperCommand.of("true")
                .input(big)
                .timeout(Duration.ofSeconds(20))
                .run();
        assertTrue(r.ok());
    }

    @Test
    void anInterruptedCallerKillsTheCommandAndKeepsItsInterrupt() throws Exception {
        Thread caller = Thread.currentThread();
        Thread interrupter = Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(200); // lets the caller get into run(): the interrupt is meant to land while it waits
            } catch (InterruptedException e) {
                return;
            }
            caller.interrupt();
        });
        HelperCommandException e = assertThrows(
                HelperCommandException.class,
                () -> HelperCommand.of("sleep", "30").run());
        interrupter.join();
        assertEquals(HelperCommandException.Kind.INTERRUPTED, e.kind());
        assertTrue(Thread.interrupted(), "the interrupt flag stays set (and is cleared here)");
    }

    @Test
    void aTiedCommandRunsAsAnyOther() throws Exception {
        assertEquals(
                "tied\n", HelperCommand.of("echo", "tied").tiedToJvm().check().stdout());
        assertEquals(List.of("echo", "tied"), HelperCommand.of("echo", "tied").command());
    }
}
