package io.drafter.linux;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** What {@code /proc} says about a process: whether it still runs, for the owners of what Drafter left behind. */
public final class ProcessState {
    private ProcessState() {}

    /**
     * Whether process {@code pid} exists and is not a zombie (dead, or dying with a thread stuck). {@link
     * ProcessHandle#isAlive} counts a zombie as alive: its parent has not reaped it yet, but it serves nothing and
     * holds nothing, so what it owned is left over.
     */
    public static boolean runs(long pid) {
        String stat;
        try {
            stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            return false;
        }
        // pid (comm) S ...: the state follows the last ')' (comm may hold anything)
        int close = stat.lastIndexOf(')');
        char state = close >= 0 && close + 2 < stat.length() ? stat.charAt(close + 2) : '?';
        return state != 'Z' && state != 'X';
    }
}
