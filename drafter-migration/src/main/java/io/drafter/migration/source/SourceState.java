package io.drafter.migration.source;

import io.drafter.migration.Authority;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;

/**
 * What the source engine is at, as one immutable value: its phase, who owns the devices, whether the GRANT went out,
 * and the time spent in each phase left so far. The engine swaps it by compare-and-set ({@link #swap}),
 * so every decision that other threads share is one atomic step: the agent moving the phase on (the GRANT among them),
 * a failure from any thread, the caller's abort before the grant or its resume after a failure. Whichever swap lands
 * first wins; the GRANT and a failure that keeps authority at the source never both happen.
 *
 * <p>The transitions allowed are {@link MigrationSource#PHASES}. A transition out of a phase that has ended and has no
 * way on is not an error but a lost race: another thread ended the session first.
 */
final class SourceState {
    /** A transition that happened: the state before and after it. */
    record Change(SourceState from, SourceState to) {
        /** The time spent in the phase left. */
        Duration timeInFrom() {
            return Duration.ofNanos(to.sinceNs - from.sinceNs);
        }
    }

    private final SourcePhase phase;
    private final Authority authority;
    private final boolean granted;
    private final long sinceNs;
    /** Never modified once this state exists. */
    private final EnumMap<SourcePhase, Duration> timeIn;

    private SourceState(
            SourcePhase phase,
            Authority authority,
            boolean granted,
            long sinceNs,
            EnumMap<SourcePhase, Duration> timeIn) {
        this.phase = phase;
        this.authority = authority;
        this.granted = granted;
        this.sinceNs = sinceNs;
        this.timeIn = timeIn;
    }

    /** A new session: in the handshake since {@code nowNs}, the source owns the devices. */
    static SourceState start(long nowNs) {
        return new SourceState(SourcePhase.HANDSHAKE, Authority.SOURCE, false, nowNs, new EnumMap<>(SourcePhase.class));
    }

    /** The phase. */
    SourcePhase phase() {
        return phase;
    }

    /** Who owns the devices as far as the source knows. */
    Authority authority() {
        return authority;
    }

    /** Whether the GRANT was handed to the writer (it stays so after a failure). */
    boolean granted() {
        return granted;
    }

    /** Whether the session has ended (completed, failed or resumed). */
    boolean ended() {
        return phase.terminal();
    }

    /** The {@link System#nanoTime()} this phase began. */
    long sinceNs() {
        return sinceNs;
    }

    /** The time spent in each phase that was left (a phase entered twice counts both stays). */
    Map<SourcePhase, Duration> phaseTimes() {
        return new EnumMap<>(timeIn);
    }

    /** {@link #to(SourcePhase, Authority, boolean, long)} keeping authority and grant. */
    SourceState to(SourcePhase next, long nowNs) {
        return to(next, authority, granted, nowNs);
    }

    /**
     * The state after moving to {@code next} at {@code nowNs}.
     *
     * @return the new state, or {@code null} if this one has ended and has no way on to {@code next}
     * @throws IllegalStateException {@code source state machine: no transition FROM -> TO} for a transition the table
     *     does not have
     */
    SourceState to(SourcePhase next, Authority nextAuthority, boolean nextGranted, long nowNs) {
        if (!MigrationSource.PHASES.allows(phase, next)) {
            if (phase.terminal()) {
                return null;
            }
            throw new IllegalStateException("source state machine: no transition " + phase + " -> " + next);
        }
        EnumMap<SourcePhase, Duration> times = new EnumMap<>(timeIn);
        times.merge(phase, Duration.ofNanos(nowNs - sinceNs), Duration::plus);
        return new SourceState(next, nextAuthority, nextGranted, nowNs, times);
    }

    /**
     * Moves {@code cell} on by compare-and-set: {@code next} gives the state after the current one, or {@code null} to
     * leave it (it may be called again if another thread moved the state meanwhile).
     *
     * @return the transition, or {@code null} if {@code next} refused
     */
    static Change swap(AtomicReference<SourceState> cell, UnaryOperator<SourceState> next) {
        while (true) {
            SourceState s = cell.get();
            SourceState n = next.apply(s);
            if (n == null) {
                return null;
            }
            if (cell.compareAndSet(s, n)) {
                return new Change(s, n);
            }
        }
    }

    /**
     * The GRANT: from AUTHORITY_SENT only, else {@code null} (a failure or an abort came first). From here on the
     * destination may run: authority is {@link Authority#UNCERTAIN}, except for a copy ({@code copyOnly}), which leaves
     * it at the source.
     */
    SourceState granting(boolean copyOnly, long nowNs) {
        return phase == SourcePhase.AUTHORITY_SENT
                ? to(SourcePhase.GRANTED, copyOnly ? authority : Authority.UNCERTAIN, true, nowNs)
                : null;
    }

    /**
     * COMPLETED: from GRANTED only, else {@code null}. The destination owns the devices, except after a copy ({@code
     * copyOnly}).
     */
    SourceState completing(boolean copyOnly, long nowNs) {
        return phase == SourcePhase.GRANTED
                ? to(SourcePhase.COMPLETED, copyOnly ? authority : Authority.DESTINATION, granted, nowNs)
                : null;
    }

    /**
     * FAILED, keeping authority and grant; {@code null} if the session ended, or if {@code onlyBeforeGrant} and the
     * GRANT was written.
     */
    SourceState failing(boolean onlyBeforeGrant, long nowNs) {
        return ended() || (onlyBeforeGrant && granted) ? null : to(SourcePhase.FAILED, nowNs);
    }

    /** RESUMED after a failure, the source owning the devices again; {@code null} from any other phase. */
    SourceState resuming(long nowNs) {
        return phase == SourcePhase.FAILED ? to(SourcePhase.RESUMED, Authority.SOURCE, granted, nowNs) : null;
    }

    @Override
    public String toString() {
        return phase + " (authority " + authority + (granted ? ", granted" : "") + ")";
    }
}
