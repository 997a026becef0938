package io.drafter.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A child started through {@link TiedProcesses} by a JVM that is then killed with SIGKILL dies with it, also when the
 * start came from a virtual thread that ended long before; and {@link ExitActions} run one after the other in stage
 * order at {@code System.exit}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TiedProcessesTest {
    /** The child JVM: starts {@code sleep 600} from a virtual thread, prints its PID, then waits to be killed. */
    public static final class KilledParent {
        public static void main(String[] args) throws Exception {
            long[] pid = new long[1];
            Thread.ofVirtual()
                    .start(() -> {
                        try {
                            pid[0] = TiedProcesses.start(new ProcessBuilder("sleep", "600"))
                                    .pid();
                        } catch (Exception e) {
                            throw new RuntimeException(e);
                        }
                    })
                    .join();
            System.out.println("child " + pid[0]);
            System.out.flush();
            Thread.sleep(600_000); // until the test kills this JVM (bounded, should the test not get to it)
        }
    }

    /** The child JVM: registers exit actions out of order, then exits. */
    public static final class ExitingParent {
        public static void main(String[] args) {
            ExitActions.register(ExitActions.Stage.MOUNTS, "m", () -> System.out.println("mounts"));
            ExitActions.register(ExitActions.Stage.APPLICATION, "a1", () -> System.out.println("application 1"));
            ExitActions.register(ExitActions.Stage.PROCESSES, "p", () -> {
                throw new IllegalStateException("a failing action does not stop the others");
            });
            ExitActions.Handle cancelled =
                    ExitActions.register(ExitActions.Stage.APPLICATION, "c", () -> System.out.println("cancelled"));
            ExitActions.register(ExitActions.Stage.APPLICATION, "a2", () -> {
                sleepQuietly(300); // a slow action still finishes before the next stage starts
                System.out.println("application 2");
            });
            cancelled.cancel();
            System.exit(0);
        }

        private static void sleepQuietly(long ms) {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    static Process javaMain(Class<?> main) throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        return new ProcessBuilder(
                        java.toString(),
                        "--enable-native-access=ALL-UNNAMED",
                        "-cp",
                        System.getProperty("java.class.path"),
                        main.getName())
                .redirectErrorStream(true)
                .start();
    }

    @Test
    void aChildDiesWithItsKilledParent() throws Exception {
        assumeTrue(TiedProcesses.tied(), "setpriv with --pdeathsig is not installed (util-linux)");
        Process parent = javaMain(KilledParent.class);
        long child;
        try {
            BufferedReader out =
                    new BufferedReader(new InputStreamReader(parent.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            assertTrue(line != null && line.startsWith("child "), "parent said: " + line);
            child = Long.parseLong(line.substring(6).strip());
            Thread.sleep(500); // the virtual thread that started it is gone by now
            assertTrue(ProcessHandle.of(child).map(ProcessHandle::isAlive).orElse(false), "child runs");
            // In a session and process group of its own: a Ctrl-C or a kill of the parent's group does not reach it.
            // The pid is setpriv's, which execs setsid, which execs the command: wait (bounded) for setsid to have run.
            long[] c = sessionAndGroup(child);
            for (long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                    c[1] != child && System.nanoTime() < deadline; ) {
                Thread.sleep(20);
                c = sessionAndGroup(child);
            }
            long[] p = sessionAndGroup(parent.pid());
            assertTrue(
                    c[0] != p[0] && c[1] == child,
                    "child session/group " + c[0] + "/" + c[1] + ", parent's " + p[0] + "/" + p[1]);
        } finally {
            parent.destroyForcibly(); // SIGKILL: no shutdown hook runs
            parent.waitFor(10, TimeUnit.SECONDS);
        }
        boolean alive = false;
        Optional<ProcessHandle> handle = ProcessHandle.of(child);
        if (handle.isPresent()) {
            try {
                handle.get().onExit().get(10, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                alive = true;
                handle.get().destroyForcibly();
            }
        }
        assertFalse(alive, "the child outlived its killed parent");
    }

    /** Session id and process group id of {@code pid}, from {@code /proc/<pid>/stat}. */
    static long[] sessionAndGroup(long pid) throws java.io.IOException {
        String stat = java.nio.file.Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return new long[] {Long.parseLong(f[3]), Long.parseLong(f[2])};
    }

    @Test
    void exitActionsRunOneAfterTheOtherInStageOrder() throws Exception {
        Process p = javaMain(ExitingParent.class);
        List<String> lines = new ArrayList<>();
        try (BufferedReader out =
                new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String l; (l = out.readLine()) != null; ) {
                if (!l.contains("exit action")) {
                    lines.add(l);
                }
            }
        }
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(
                List.of("application 2", "application 1", "mounts"),
                lines.stream()
                        // java.util.logging's lines: a header ("Dec 07, 2026 2:00:24 PM <class> <method>") and
                        // "WARNING: ..."; whatever the month
                        .filter(l -> !l.startsWith("WARNING")
                                && !l.matches("\\S+ \\d{1,2}, \\d{4} \\d{1,2}:\\d{2}:\\d{2} .*")
                                && !l.isBlank())
                        .toList());
    }
}
