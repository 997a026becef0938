package io.drafter.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.linux.HelperCommandException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link CommandRunner} over {@code HelperCommand}: no root, no networking tools, only {@code sh}. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class CommandRunnerTest {
    private final CommandRunner runner = new CommandRunner();

    @Test
    void runReturnsOutputAndFeedsInput() {
        CommandRunner.Result r = runner.run("echo", List.of("sh", "-c", "cat; echo err >&2"), "in\n");
        assertTrue(r.ok());
        assertEquals("in\n", r.stdout());
        assertEquals("err\n", r.stderr());
    }

    @Test
    void aFailureNamesTheStepTheCommandsOwnErrorAndTheCommandLine() {
        CommandFailedException e = assertThrows(
                CommandFailedException.class,
                () -> runner.run("make a link", List.of("sh", "-c", "echo nope >&2; echo more >&2; exit 2"), null));
        assertEquals(HelperCommandException.Kind.FAILED, e.kind());
        assertEquals(2, e.exitCode());
        assertEquals("nope\nmore\n", e.stderr());
        assertEquals("could not make a link: nope (sh -c echo nope >&2; echo more >&2; exit 2)", e.getMessage());
    }

    @Test
    void attemptReportsAnyExitAndAMissingProgramAsMinusOne() {
        CommandRunner.Result r = runner.attempt("sh", "-c", "exit 4");
        assertFalse(r.ok());
        assertEquals(4, r.exitCode());
        CommandRunner.Result missing = runner.attempt("no-such-program-drafter");
        assertEquals(-1, missing.exitCode());
        assertTrue(missing.stderr().startsWith("cannot start no-such-program-drafter: "), missing.stderr());
    }

    @Test
    void aFailureFromAnAttemptKeepsTheSameOneLineForm() {
        CommandFailedException e =
                new CommandFailedException("remove nft table t", List.of("nft", "delete"), 1, "\n  gone  \nx\n");
        assertEquals("could not remove nft table t: gone (nft delete)", e.getMessage());
        assertEquals(
                "could not remove nft table t: exit code 1 (nft delete)",
                new CommandFailedException("remove nft table t", List.of("nft", "delete"), 1, "").getMessage());
    }
}
