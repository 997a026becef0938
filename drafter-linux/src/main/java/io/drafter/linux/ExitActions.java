package io.drafter.linux;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The one JVM shutdown hook of this project: last-resort clean-ups (a VM to suspend, a mount to detach) run in stage
 * order, one after the other, instead of as concurrent shutdown hooks racing each other (a mount detached, or a VMM
 * killed, while the VM's state is still being saved through it).
 *
 * <p>These actions are the fallback for an exit without an orderly close ({@code System.exit}, an uncaught error, a
 * signal nobody handled); an owner that closes normally deregisters its action first. Each action runs on the hook's
 * thread; one that throws is logged and the next runs.
 *
 * <p><b>Note:</b> thread-safe. Registering during shutdown is refused (returns a handle that does nothing).
 */
public final class ExitActions {
    private static final System.Logger LOG = System.getLogger(ExitActions.class.getName());

    /** When an action runs relative to the others: stages in declaration order, within a stage newest first. */
    public enum Stage {
        /** What owns the others: suspend a VM into its devices, hand a migration back. */
        APPLICATION,
        /** Child processes that outlived their owner. */
        PROCESSES,
        /** Mounts whose server is about to go away with this JVM. */
        MOUNTS
    }

    /** A registered action; {@link #cancel()} removes it (the owner cleaned up itself). */
    public interface Handle {
        void cancel();
    }

    private record Entry(Stage stage, long order, String name, Runnable action) {}

    private static final List<Entry> ENTRIES = new ArrayList<>();
    private static final AtomicLong ORDER = new AtomicLong();
    private static boolean running;
    private static boolean hookAdded;

    private ExitActions() {}

    /** Registers {@code action} (named for logs) to run at JVM exit in {@code stage}. */
    public static Handle register(Stage stage, String name, Runnable action) {
        Entry e = new Entry(stage, ORDER.incrementAndGet(), name, action);
        synchronized (ENTRIES) {
            if (running) {
                return () -> {};
            }
            if (!hookAdded) {
                Runtime.getRuntime()
                        .addShutdownHook(
                                Thread.ofPlatform().name("drafter-exit").unstarted(ExitActions::runAll));
                hookAdded = true;
            }
            ENTRIES.add(e);
        }
        return () -> {
            synchronized (ENTRIES) {
                ENTRIES.remove(e);
            }
        };
    }

    /** How many actions are registered now (for tests). */
    public static int pending() {
        synchronized (ENTRIES) {
            return ENTRIES.size();
        }
    }

    private static void runAll() {
        List<Entry> todo;
        synchronized (ENTRIES) {
            running = true;
            todo = new ArrayList<>(ENTRIES);
            ENTRIES.clear();
        }
        todo.sort(Comparator.comparing(Entry::stage)
                .thenComparing(Comparator.comparingLong(Entry::order).reversed()));
        for (Entry e : todo) {
            long start = System.nanoTime();
            try {
                e.action().run();
            } catch (RuntimeException | Error t) {
                LOG.log(System.Logger.Level.WARNING, "exit action \"" + e.name() + "\" failed: " + t);
            }
            LOG.log(
                    System.Logger.Level.DEBUG,
                    () -> "exit action \"" + e.name() + "\" took "
                            + Duration.ofNanos(System.nanoTime() - start).toMillis() + " ms");
        }
    }
}
