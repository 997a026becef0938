package io.drafter.migration.internal;

import java.time.Duration;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * The phases of one engine as an explicit state machine: a table of the allowed transitions, one transition method, and
 * the time spent in each phase. Both engines run one, so an illegal transition is refused the same way on both sides.
 *
 * <p>The failed phase is reachable from every phase that has not ended. A transition out of a phase that has ended
 * (terminal, and the table has no way on to the requested phase) is not an error but a lost race: another thread
 * ended the session first, and {@link #transition} returns {@code null}.
 *
 * <p><b>Note:</b> not thread-safe; the engine owns it and calls it under its own lock.
 *
 * @param <P> the engine's phase enum
 */
public final class PhaseMachine<P extends Enum<P>> {
    /** A transition that happened: from where, to where, after how long in {@code from}. */
    public record Transition<P>(P from, P to, Duration timeInFrom) {}

    /** The allowed transitions of one phase enum, built once per engine class. */
    public static final class Table<P extends Enum<P>> {
        private final Class<P> type;
        private final P failed;
        private final Predicate<P> terminal;
        private final Map<P, Set<P>> next;

        private Table(Class<P> type, P failed, Predicate<P> terminal) {
            this.type = type;
            this.failed = failed;
            this.terminal = terminal;
            this.next = new EnumMap<>(type);
            for (P p : type.getEnumConstants()) {
                next.put(p, EnumSet.noneOf(type));
            }
        }

        /** Allows {@code phases[0] → phases[1] → …}, each step. */
        @SafeVarargs
        public final Table<P> path(P... phases) {
            for (int i = 0; i + 1 < phases.length; i++) {
                next.get(phases[i]).add(phases[i + 1]);
            }
            return this;
        }

        /** Whether the table allows {@code from → to} (the failed phase from any phase that has not ended). */
        public boolean allows(P from, P to) {
            return next.get(from).contains(to) || (to == failed && !terminal.test(from));
        }
    }

    private final String side;
    private final Table<P> table;
    private final LongSupplier nanoClock;
    private final Map<P, Duration> timeIn;
    private P phase;
    private long sinceNs;

    /**
     * A table for {@code type}: {@code failed} is reachable from every phase for which {@code terminal} is false; add
     * the rest with {@link Table#path}.
     */
    public static <P extends Enum<P>> Table<P> table(Class<P> type, P failed, Predicate<P> terminal) {
        return new Table<>(type, failed, terminal);
    }

    /**
     * A machine in phase {@code initial}; {@code side} ("source", "destination") names it in errors, {@code nanoClock}
     * measures the time in each phase ({@code System::nanoTime}; tests pass their own).
     */
    public PhaseMachine(String side, Table<P> table, P initial, LongSupplier nanoClock) {
        this.side = side;
        this.table = table;
        this.nanoClock = nanoClock;
        this.timeIn = new EnumMap<>(table.type);
        this.phase = initial;
        this.sinceNs = nanoClock.getAsLong();
    }

    /** The current phase. */
    public P phase() {
        return phase;
    }

    /** Whether the current phase is terminal (the session ended, perhaps with a way on, as FAILED → RESUMED). */
    public boolean ended() {
        return table.terminal.test(phase);
    }

    /**
     * Moves to {@code to}.
     *
     * @return the transition, or {@code null} if the machine had ended and has no way on to {@code to} (another thread
     *     ended the session first)
     * @throws IllegalStateException {@code <side> state machine: no transition FROM -> TO} for a transition the table
     *     does not have
     */
    public Transition<P> transition(P to) {
        P from = phase;
        if (!table.allows(from, to)) {
            if (table.terminal.test(from)) {
                return null;
            }
            throw new IllegalStateException(side + " state machine: no transition " + from + " -> " + to);
        }
        long now = nanoClock.getAsLong();
        Duration spent = Duration.ofNanos(now - sinceNs);
        timeIn.merge(from, spent, Duration::plus);
        phase = to;
        sinceNs = now;
        return new Transition<>(from, to, spent);
    }

    /** The time spent in each phase that was left (a phase entered twice counts both stays). */
    public Map<P, Duration> phaseTimes() {
        return new EnumMap<>(timeIn);
    }
}
