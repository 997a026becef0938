package io.drafter.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Starts child processes that die with this JVM, even when it is killed with SIGKILL, and that only this JVM stops
 * otherwise: each is started through {@code setpriv --pdeathsig KILL}, which sets {@code PR_SET_PDEATHSIG} and then
 * executes the command (the setting survives {@code exec}, also through {@code ip netns exec}), and {@code setsid}, which
 * puts it in a session of its own, out of reach of signals sent to our terminal or process group.
 *
 * <p>Linux sends the parent-death signal when the <em>thread</em> that created the child ends, not the process. So
 * every child is started from one launcher thread that lives as long as the JVM: a child started from a virtual
 * thread, or from a pool thread that later retires, would otherwise be killed when that carrier goes away.
 *
 * <p>Where {@code setpriv} lacks {@code --pdeathsig} (util-linux before 2.33) children start untied, with one
 * warning.
 *
 * <p><b>Note:</b> thread-safe; starts are serialized on the launcher thread (a start takes about a millisecond).
 */
public final class TiedProcesses {
    private static final System.Logger LOG = System.getLogger(TiedProcesses.class.getName());
    /** How long {@code setpriv --help} may take (it had no limit: a hung probe held every start). */
    private static final java.time.Duration PROBE_TIMEOUT = java.time.Duration.ofSeconds(10);

    private static final ExecutorService LAUNCHER = Executors.newSingleThreadExecutor(
            r -> Thread.ofPlatform().name("tied-process-launcher").daemon().unstarted(r));
    private static final List<String> PREFIX = prefix();

    private TiedProcesses() {}

    /** Whether children are tied to this JVM (setpriv with {@code --pdeathsig} was found). */
    public static boolean tied() {
        return !PREFIX.isEmpty();
    }

    /**
     * Starts {@code builder}'s command as a child that is killed when this JVM dies; redirections and environment are
     * the builder's. The builder's command is restored before returning.
     */
    public static Process start(ProcessBuilder builder) throws IOException {
        List<String> command = List.copyOf(builder.command());
        List<String> full = new ArrayList<>(PREFIX);
        full.addAll(command);
        Future<Process> f;
        synchronized (builder) {
            f = LAUNCHER.submit(() -> {
                builder.command(full);
                try {
                    return builder.start();
                } finally {
                    builder.command(command);
                }
            });
            try {
                return f.get();
            } catch (ExecutionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                throw new IOException("could not start " + command.getFirst() + ": " + e.getCause(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                // The start may still happen on the launcher: make sure such a child does not outlive the caller.
                LAUNCHER.submit(() -> {
                    try {
                        f.get().destroyForcibly();
                    } catch (InterruptedException | ExecutionException ignored) {
                        // It did not start.
                    }
                    return null;
                });
                throw new IOException("interrupted while starting " + command.getFirst(), e);
            }
        }
    }

    private static List<String> prefix() {
        for (String dir : List.of("/usr/bin", "/bin", "/usr/sbin", "/sbin")) {
            Path setpriv = Path.of(dir, "setpriv");
            if (Files.isExecutable(setpriv) && supportsPdeathsig(setpriv)) {
                // setsid: the child leaves our process group and terminal, so a Ctrl-C, a `timeout` or a `kill` of the
                // group reaches only us, and we stop it in order (a QEMU that got SIGTERM itself would quit before its
                // VM is saved). As our child is no group leader, setsid does not fork: the death signal stays set.
                Path setsid = setpriv.resolveSibling("setsid");
                return Files.isExecutable(setsid)
                        ? List.of(setpriv.toString(), "--pdeathsig", "KILL", "--", setsid.toString(), "--")
                        : List.of(setpriv.toString(), "--pdeathsig", "KILL", "--");
            }
        }
        LOG.log(
                System.Logger.Level.WARNING,
                "setpriv with --pdeathsig not found (util-linux >= 2.33): child processes such as QEMU will outlive a"
                        + " killed drafter");
        return List.of();
    }

    private static boolean supportsPdeathsig(Path setpriv) {
        try {
            HelperCommand.Result r = HelperCommand.of(setpriv.toString(), "--help")
                    .step("probe " + setpriv + " for --pdeathsig")
                    .timeout(PROBE_TIMEOUT)
                    .run();
            return (r.stdout() + r.stderr()).contains("--pdeathsig");
        } catch (HelperCommandException e) {
            return false;
        }
    }
}
